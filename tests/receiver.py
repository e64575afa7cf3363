"""The receiver as tests drive it: the Flask app on a real database with a store's secrets, its test
client, and signing the way BigCommerce signs. Shared by tests/integration/test_webhooks.py,
test_webhook_auth.py, test_secrets.py, test_health.py and tests/reliability/test_webhook_fuzz.py."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from standardwebhooks import Webhook
from werkzeug.test import TestResponse

from consumer import create_app
from tests.reference import require_reference
from workers.settings import Settings, StoreConfig
from workers.store.storage import Dirty, SeenWebhook, session_scope

HOOK = "/webhooks/bigcommerce"


def reference_dir() -> Path:
    """The shared reference folder (tests.reference), or skip saying why."""
    return require_reference()


# --- a receiver on a real database ---------------------------------------------------------


def new_secret(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex}"


def store_config(store_hash: str, *, client_secret: bool = True, webhook_secret: bool = True) -> StoreConfig:
    return StoreConfig(
        store_hash=store_hash,
        access_token=new_secret("access"),
        client_secret=new_secret("client") if client_secret else "",
        webhook_secret=new_secret("hook") if webhook_secret else "",
        ometria_api_key=new_secret("ometria"),
        api_url="http://127.0.0.1:9",
        ometria_api_url="http://127.0.0.1:9",
    )


def sign(
    client_secret: str, body: bytes, *, webhook_id: str | None = None, at: float | None = None
) -> dict[str, str]:
    """Standard Webhooks headers the way BigCommerce signs (key = base64 of the client secret)."""
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    when = datetime.fromtimestamp(time.time() if at is None else at, tz=UTC)
    key = base64.b64encode(client_secret.encode()).decode()
    signature = Webhook(key).sign(webhook_id, when, body.decode())
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
    }


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


@dataclass
class Receiver:
    """The receiver app, its test client, its store and what it published."""

    app: Flask
    client: FlaskClient
    settings: Settings
    store: StoreConfig
    published: list[str] = field(default_factory=list, repr=False)

    @property
    def store_hash(self) -> str:
        return self.store.store_hash

    def auth_headers(self, body: bytes, **sign_kwargs: Any) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.store.webhook_secret:
            headers["X-Webhook-Secret"] = self.store.webhook_secret
        if self.store.client_secret and (_is_utf8(body) or not self.store.webhook_secret):
            headers |= sign(self.store.client_secret, body, **sign_kwargs)
        return headers

    def post(
        self,
        payload: Any = None,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        content_type: str | None = "application/json",
        **kwargs: Any,
    ) -> TestResponse:
        """POST a callback, authenticated like BigCommerce unless `headers` is given."""
        if body is None:
            body = json.dumps(payload).encode()
        if headers is None:
            headers = self.auth_headers(body)
        if content_type is not None:
            headers = {"Content-Type": content_type, **headers}
        return self.client.post(HOOK, data=body, headers=headers, **kwargs)

    def callback(
        self,
        scope: str = "store/product/updated",
        data: dict[str, Any] | None = None,
        store_hash: str | None = None,
    ) -> dict[str, Any]:
        return {
            "scope": scope,
            "store_id": "1025646",
            "data": data if data is not None else {"type": "product", "id": 7},
            "hash": "a833a57fadd56a32dc752fb6ca0841dc9602a495",
            "created_at": int(time.time()),
            "producer": f"stores/{store_hash or self.store_hash}",
        }

    def dirty(self) -> dict[tuple[str, int], int]:
        """{(entity, id): version} of this store's dirty rows."""
        with session_scope(self.settings.database_url) as s:
            rows = s.execute(
                select(Dirty.entity, Dirty.entity_id, Dirty.version).where(
                    Dirty.store_hash == self.store_hash
                )
            )
            return {(e, int(i)): int(v) for e, i, v in rows}

    def seen(self) -> set[str]:
        """The digests (workers.store.storage.webhook_digest) of this store's remembered webhook ids."""
        with session_scope(self.settings.database_url) as s:
            return set(s.scalars(select(SeenWebhook.digest).where(SeenWebhook.store_hash == self.store_hash)))


def make_receiver(
    database_url: str,
    *,
    client_secret: bool = True,
    webhook_secret: bool = True,
    extra_stores: tuple[StoreConfig, ...] = (),
    debounce: float = 0.0,
    **settings_kwargs: Any,
) -> Receiver:
    store = store_config(
        f"t{uuid.uuid4().hex[:12]}", client_secret=client_secret, webhook_secret=webhook_secret
    )
    settings = Settings(
        stores={st.store_hash: st for st in (store, *extra_stores)},
        database_url=database_url,
        broker_url="filesystem://",
        debounce_seconds=debounce,
        **settings_kwargs,
    )
    published: list[str] = []
    app = create_app(settings, publish=published.append)
    return Receiver(app=app, client=app.test_client(), settings=settings, store=store, published=published)
