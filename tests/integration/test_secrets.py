"""No secret leaves the process: with every secret configured, failures (bad signatures, database
errors, exceptions in a view, careless log lines) are driven while the logs are captured (caplog at
DEBUG and real root handlers) and Sentry reports to a loopback server run here. None of the secrets,
the signing key or the signatures sent may appear in any log line or any Sentry envelope — and at
least one Sentry event must have arrived, so the test can fail.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import logging
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from sqlalchemy import text
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from consumer import create_app
from consumer.webhooks.group_commit import GroupCommit
from tests.receiver import Receiver, new_secret, sign, store_config
from workers.ops.redact import install_log_redaction, redact, scrub_event
from workers.settings import Settings
from workers.store.storage import session_scope


class SentryInbox:
    """A loopback HTTP server that accepts Sentry envelopes and keeps their decoded text."""

    def __init__(self) -> None:
        self.envelopes: list[str] = []
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self._server.server_port}/1"

    @Request.application  # type: ignore[arg-type]
    def _app(self, request: Request) -> Response:
        raw = request.get_data()
        encoding = request.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        self.envelopes.append(raw.decode("utf-8", "replace"))
        return Response("{}", content_type="application/json")

    def events(self) -> list[dict[str, Any]]:
        out = []
        for envelope in self.envelopes:
            lines = envelope.split("\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    out.append(json.loads(payload))
        return out

    def __enter__(self) -> SentryInbox:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SentryInbox]:
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    with SentryInbox() as inbox:
        yield inbox
        sentry_sdk.get_client().close(timeout=2)
        sentry_sdk.init(dsn=None)


@pytest.fixture
def root_handlers() -> Iterator[list[io.StringIO]]:
    """Real handlers on the root logger; the caller adds one before the app starts, one after."""
    streams: list[io.StringIO] = []
    added: list[logging.Handler] = []
    root = logging.getLogger()
    level = root.level

    def add() -> io.StringIO:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        root.addHandler(handler)
        streams.append(stream)
        added.append(handler)
        return stream

    root.setLevel(logging.DEBUG)
    yield add  # type: ignore[misc]
    for handler in added:
        root.removeHandler(handler)
    root.setLevel(level)


def test_no_secret_reaches_the_logs_or_sentry(
    tmp_path: Path,
    inbox: SentryInbox,
    root_handlers: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    before_app = root_handlers()
    store = store_config(f"s{new_secret('x')[-10:]}")
    admin_token = new_secret("admin")
    db_password = new_secret("dbpass")
    settings = Settings(
        stores={store.store_hash: store},
        database_url=f"sqlite:///{tmp_path / 'bcsync.db'}",
        broker_url=f"redis://:{db_password}@127.0.0.1:1/0",
        admin_token=admin_token,
        sentry_dsn=inbox.dsn,
        debounce_seconds=0.0,
    )
    app = create_app(settings, publish=lambda _store: None)

    @app.get("/boom")
    def boom() -> str:  # an exception in a view, carrying every secret in its message
        raise RuntimeError(f"upstream rejected token={store.access_token} key={store.ometria_api_key}")

    after_app = root_handlers()
    receiver = Receiver(app=app, client=app.test_client(), settings=settings, store=store)
    secrets = [
        store.access_token,
        store.client_secret,
        store.webhook_secret,
        store.ometria_api_key,
        admin_token,
        db_password,
        base64.b64encode(store.client_secret.encode()).decode(),
    ]
    signatures: list[str] = []

    def signed(body: bytes, **kwargs: Any) -> dict[str, str]:
        headers = sign(store.client_secret, body, **kwargs)
        signatures.append(headers["webhook-signature"].split(",", 1)[1])
        return headers

    body = json.dumps(receiver.callback()).encode()
    secret = {"X-Webhook-Secret": store.webhook_secret}
    # 1. bad signatures and secrets
    assert (
        receiver.post(body=body, headers={"X-Webhook-Secret": "a-guess", **signed(body)}).status_code == 401
    )
    assert receiver.post(body=body, headers={**secret, **signed(body + b"x")}).status_code == 401
    assert (
        receiver.post(body=body, headers={**secret, **signed(body, at=time.time() - 3600)}).status_code == 401
    )
    # 2. the database cannot be written
    with session_scope(settings.database_url) as s:
        s.execute(text("ALTER TABLE dirty RENAME TO dirty_gone"))
    assert receiver.post(body=body, headers={**secret, **signed(body)}).status_code == 503
    with session_scope(settings.database_url) as s:
        s.execute(text("ALTER TABLE dirty_gone RENAME TO dirty"))

    # 3. an exception while recording, and one in a view of its own
    def failing_write(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"database driver said: auth {store.client_secret} / {admin_token}")

    with monkeypatch.context() as patch:
        patch.setattr(receiver.app.extensions["bcsync"], "group_commit", GroupCommit(failing_write))
        assert receiver.post(body=body, headers={**secret, **signed(body)}).status_code == 500
    assert receiver.client.get("/boom", headers={"Authorization": f"Bearer {admin_token}"}).status_code == 500
    # 4. careless log lines elsewhere in the code
    careless = logging.getLogger("workers.careless")
    careless.info("GET /v3/catalog/products headers={'X-Auth-Token': '%s'}", store.access_token)
    careless.warning("push failed: X-Ometria-Auth: %s", store.ometria_api_key)
    careless.debug("delivery headers webhook-signature: v1,%s", signatures[0])
    careless.error("settings %s", {"secret": store.webhook_secret, "admin": admin_token})
    try:
        raise ValueError(f"token {store.access_token} refused")
    except ValueError:
        careless.exception("while calling BigCommerce")
    # 5. the receiver still works afterwards
    assert receiver.post(body=body, headers={**secret, **signed(body)}).status_code == 200

    assert sentry_sdk.flush(timeout=10) is not False
    deadline = time.monotonic() + 10
    while not inbox.events() and time.monotonic() < deadline:
        time.sleep(0.05)
    events = inbox.events()
    assert events, "Sentry received no event: the test could not have caught a leak"
    assert any("RuntimeError" in json.dumps(e) for e in events)
    logs = {
        "caplog": caplog.text + "\n".join(r.getMessage() for r in caplog.records),
        "handler added before the app": before_app.getvalue(),
        "handler added after the app": after_app.getvalue(),
        "sentry": "\n".join(inbox.envelopes),
    }
    assert "webhook refused: 401" in logs["handler added before the app"]
    assert "webhook refused: 401" in logs["handler added after the app"]
    assert "[redacted]" in logs["caplog"] and "[redacted]" in logs["sentry"]
    for where, captured in logs.items():
        assert captured
        for value in secrets + signatures:
            assert value not in captured, f"a secret leaked into {where}"


def test_scrub_event_masks_credentials_everywhere() -> None:
    token, key = new_secret("token"), new_secret("key")
    install_log_redaction([token])
    event = {
        "request": {
            "headers": {
                "X-Webhook-Secret": "not-configured-but-a-secret-header",
                "Authorization": "Bearer x",
                "Webhook-Signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                "Webhook-Id": "msg_1",
            },
            "data": f'{{"token": "{token}"}}',
        },
        "exception": {"values": [{"type": "RuntimeError", "value": f"failed with {token}"}]},
        "extra": {
            "nested": [[f"prefix {token} suffix"], {"api_key": key}],
            b"bytes".decode(): token.encode(),
        },
        "breadcrumbs": {"values": [{"message": f"X-Ometria-Auth: {key}"}]},
    }
    scrubbed = json.dumps(scrub_event(event, {}))
    for value in (token, key, "not-configured-but-a-secret-header", "Bearer x", "AAAAAAAAAAAAAAAA"):
        assert value not in scrubbed
    assert "msg_1" in scrubbed and "RuntimeError" in scrubbed  # the rest survives


@pytest.mark.parametrize(
    "line",
    [
        "X-Auth-Token: abcdef123456",
        "x-ometria-auth=abcdef123456",
        "'X-Webhook-Secret': 'abcdef123456'",
        "webhook-signature: v1,abcdef123456 v1,abcdef123456",
        "signed v1,YWJjZGVmMTIzNDU2Nzg5MGFiY2RlZg==",
    ],
)
def test_credential_shaped_text_is_redacted_even_when_not_configured(line: str) -> None:
    assert "abcdef123456" not in redact(line) and "YWJjZGVm" not in redact(line)
    assert "[redacted]" in redact(line)
