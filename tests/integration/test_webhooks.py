"""POST /webhooks/bigcommerce: BigCommerce's official sample callbacks are recorded as dirty rows,
duplicates coalesce, unhandled scopes are acknowledged and ignored, and every bad input gets the
contract's status (400 naming the problem, 401, 404, 413, 415, 503) with nothing recorded.

The receiver app on a real database and signing are in tests/receiver.py, shared with the other
test_webhook_* modules, test_secrets and test_health.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from werkzeug.serving import make_server

from consumer import create_app
from tests.receiver import HOOK, Receiver, make_receiver, reference_dir, sign, store_config
from workers.settings import ConfigError, Settings
from workers.store.storage import Dirty, session_scope, webhook_digest

# --- the official samples ------------------------------------------------------------------


def sample_paths() -> list[Path]:
    folder = reference_dir() / "bigcommerce" / "webhook-payloads"
    paths = sorted(folder.glob("*.json"))
    if not paths:
        pytest.skip(f"no sample callbacks in {folder}")
    return paths


def load_sample(path: Path, store_hash: str) -> dict[str, Any]:
    sample = json.loads(path.read_text())
    sample["producer"] = f"stores/{store_hash}"
    return sample


def expected_dirty(sample: dict[str, Any]) -> tuple[str, int]:
    """Where each kind of sample keeps the id to mark dirty, read off the sample itself."""
    scope, data = sample["scope"], sample["data"]
    if scope.startswith("store/category/"):
        return ("category", data["id"])
    if scope.startswith("store/sku/"):
        return ("product", (data.get("sku") or data["inventory"])["product_id"])
    return ("product", data["id"])


@pytest.fixture
def receiver(db_url: str) -> Receiver:
    """On SQLite and on PostgreSQL (conftest's db_url), with both secrets configured."""
    return make_receiver(db_url)


@pytest.fixture
def sqlite_receiver(tmp_path: Path) -> Receiver:
    return make_receiver(f"sqlite:///{tmp_path / 'bcsync.db'}")


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.01)
    return predicate()


# --- the samples, duplicates, unhandled scopes ---------------------------------------------


def test_every_official_sample_is_recorded(receiver: Receiver) -> None:
    paths = sample_paths()
    assert len(paths) >= 13
    for path in paths:
        sample = load_sample(path, receiver.store_hash)
        before = receiver.dirty()
        response = receiver.post(sample)
        assert response.status_code == 200, (path.name, response.get_data(as_text=True))
        assert response.get_data() == b"", path.name
        key = expected_dirty(sample)
        after = receiver.dirty()
        assert after.get(key) == before.get(key, 0) + 1, path.name
        assert {k: v for k, v in after.items() if k != key} == {k: v for k, v in before.items() if k != key}
    assert wait_for(lambda: receiver.published) and set(receiver.published) == {receiver.store_hash}


def test_each_sample_marks_its_own_entity(sqlite_receiver: Receiver) -> None:
    for path in sample_paths():
        receiver = sqlite_receiver
        sample = load_sample(path, receiver.store_hash)
        with session_scope(receiver.settings.database_url) as s:
            s.execute(text("DELETE FROM dirty"))
        assert receiver.post(sample).status_code == 200
        assert receiver.dirty() == {expected_dirty(sample): 1}, path.name


def test_duplicates_coalesce_into_one_row(receiver: Receiver) -> None:
    updated = receiver.callback("store/product/updated", {"type": "product", "id": 205})
    for _ in range(3):
        assert receiver.post(updated).status_code == 200
    sku = receiver.callback(
        "store/sku/updated", {"type": "sku", "id": 461, "sku": {"product_id": 205, "variant_id": 1}}
    )
    assert receiver.post(sku).status_code == 200
    assert receiver.dirty() == {("product", 205): 4}


def test_deleted_product_marks_it_dirty_like_any_change(receiver: Receiver) -> None:
    assert (
        receiver.post(receiver.callback("store/product/deleted", {"type": "product", "id": 9})).status_code
        == 200
    )
    assert receiver.dirty() == {("product", 9): 1}


@pytest.mark.parametrize(
    "scope", ["store/order/created", "store/customer/updated", "store/product/images/updated", "x", ""]
)
def test_unhandled_scope_is_acknowledged_and_ignored(sqlite_receiver: Receiver, scope: str) -> None:
    response = sqlite_receiver.post(
        sqlite_receiver.callback(scope, {"type": "order", "id": "not-even-an-int"})
    )
    assert response.status_code == 200 and response.get_data() == b""
    assert sqlite_receiver.dirty() == {} and sqlite_receiver.seen() == set()
    time.sleep(0.05)
    assert sqlite_receiver.published == []


# --- every refusal of the contract --------------------------------------------------------

PRODUCT = {"type": "product", "id": 205}
BAD_IDS: list[tuple[str, Any]] = [
    ("string", "205"),
    ("whole float", 123.0),
    ("float", 1.5),
    ("true", True),
    ("false", False),
    ("zero", 0),
    ("negative", -5),
    ("2**63", 2**63),
    ("huge", 10**30),
    ("null", None),
    ("list", [205]),
    ("object", {"id": 205}),
]


def _with(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return data


ID_LOCATIONS = [
    ("store/product/updated", {"type": "product", "id": 205}, ("id",), "data.id"),
    (
        "store/product/inventory/updated",
        {"type": "product", "id": 167, "inventory": {"product_id": 167}},
        ("inventory", "product_id"),
        "data.inventory.product_id",
    ),
    (
        "store/sku/created",
        {"type": "sku", "id": 461, "sku": {"product_id": 206, "variant_id": 509}},
        ("sku", "product_id"),
        "data.sku.product_id",
    ),
    (
        "store/sku/inventory/order/updated",
        {"type": "sku", "id": 461, "inventory": {"product_id": 206}},
        ("inventory", "product_id"),
        "data.inventory.product_id",
    ),
    ("store/category/deleted", {"type": "category", "id": 42}, ("id",), "data.id"),
]


@pytest.mark.parametrize(("scope", "data", "path", "name"), ID_LOCATIONS, ids=[x[0] for x in ID_LOCATIONS])
def test_ids_must_be_positive_json_integers_below_2_63(
    receiver: Receiver, scope: str, data: dict[str, Any], path: tuple[str, ...], name: str
) -> None:
    for label, bad in BAD_IDS:
        response = receiver.post(receiver.callback(scope, _with(data, path, bad)))
        assert response.status_code == 400, (label, response.get_data(as_text=True))
        assert response.get_json() == {"error": f"{name} must be a positive integer below 2^63"}, label
    assert receiver.dirty() == {}
    largest = _with(data, path, 2**63 - 1)
    assert receiver.post(receiver.callback(scope, largest)).status_code == 200
    recorded = {i for _, i in receiver.dirty()}
    assert 2**63 - 1 in recorded
    assert recorded <= {2**63 - 1, largest["id"]}  # product inventory scopes carry the id twice


VARIANT_ID_LOCATIONS = [
    (
        "store/sku/updated",
        {"type": "sku", "id": 461, "sku": {"product_id": 206, "variant_id": 509}},
        ("sku", "variant_id"),
        "data.sku.variant_id",
    ),
    (
        "store/sku/inventory/updated",
        {"type": "sku", "id": 461, "inventory": {"product_id": 206, "variant_id": 509}},
        ("inventory", "variant_id"),
        "data.inventory.variant_id",
    ),
    ("store/sku/deleted", {"type": "sku", "id": 461, "sku": {"product_id": 206}}, ("id",), "data.id"),
]


@pytest.mark.parametrize(
    ("scope", "data", "path", "name"), VARIANT_ID_LOCATIONS, ids=[x[3] for x in VARIANT_ID_LOCATIONS]
)
def test_every_other_id_of_a_sku_callback_is_checked_too(
    receiver: Receiver, scope: str, data: dict[str, Any], path: tuple[str, ...], name: str
) -> None:
    """The variant (and sku) ids mark nothing dirty themselves, but a callback carrying a bad one is
    malformed all the same: 400, nothing recorded."""
    for label, bad in [*BAD_IDS, ("digits as a string", "123")]:
        response = receiver.post(receiver.callback(scope, _with(data, path, bad)))
        assert response.status_code == 400, (label, response.get_data(as_text=True))
        assert response.get_json() == {"error": f"{name} must be a positive integer below 2^63"}, label
    assert receiver.dirty() == {}
    assert receiver.post(receiver.callback(scope, _with(data, path, 2**63 - 1))).status_code == 200
    assert {i for _, i in receiver.dirty()} == {206}


def test_a_whole_float_id_written_as_123_point_0_is_refused(sqlite_receiver: Receiver) -> None:
    producer = f"stores/{sqlite_receiver.store_hash}"
    body = f'{{"scope": "store/product/updated", "producer": "{producer}", "data": {{"id": 123.0}}}}'.encode()
    response = sqlite_receiver.post(body=body)
    assert response.status_code == 400
    assert response.get_json() == {"error": "data.id must be a positive integer below 2^63"}
    assert sqlite_receiver.dirty() == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "body is not valid JSON"),
        (b"{not json", "body is not valid JSON"),
        (b'{"scope": NaN}', "body is not valid JSON"),
        (b"\xff\xfe{}", "body is not UTF-8"),
        (b"[" * 60000, "body is not valid JSON"),
        (b"[]", "body must be a JSON object"),
        (b'"text"', "body must be a JSON object"),
        (b"{}", "scope is required"),
        (b'{"scope": 5, "producer": "stores/@", "data": {}}', "scope must be a string"),
        (b'{"scope": "store/product/updated", "data": {}}', "producer is required"),
        (
            b'{"scope": "store/product/updated", "producer": "stores/", "data": {}}',
            'producer must be "stores/<store hash>"',
        ),
        (
            b'{"scope": "store/product/updated", "producer": "shops/abc", "data": {}}',
            'producer must be "stores/<store hash>"',
        ),
        (b'{"scope": "store/product/updated", "producer": ["stores/abc"], "data": {}}', "producer must be"),
        (b'{"scope": "store/product/updated", "producer": "{store}", "data": []}', "data must be an object"),
        (b'{"scope": "store/product/updated", "producer": "{store}"}', "data is required"),
        (b'{"scope": "store/product/updated", "producer": "{store}", "data": [1]}', "data must be an object"),
        (b'{"scope": "store/product/updated", "producer": "{store}", "data": "x"}', "data must be an object"),
        (b'{"scope": "store/product/updated", "producer": "{store}", "data": {}}', "data.id is required"),
        (
            b'{"scope": "store/sku/updated", "producer": "{store}", "data": {"id": 1}}',
            "data.sku.product_id is required",
        ),
        (
            b'{"scope": "store/sku/inventory/updated", "producer": "{store}", "data": {"id": 1}}',
            "data.inventory.product_id is required",
        ),
        (
            b'{"scope": "store/sku/updated", "producer": "{store}", "data": {"id": 1, "sku": 7}}',
            "data.sku must be an object",
        ),
    ],
    ids=lambda v: v[:40].decode("utf-8", "replace") if isinstance(v, bytes) else None,
)
def test_malformed_json_or_shape_is_400_naming_the_problem(
    receiver: Receiver, body: bytes, message: str
) -> None:
    body = body.replace(b"{store}", f"stores/{receiver.store_hash}".encode())
    response = receiver.post(body=body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"].startswith(message)
    assert receiver.dirty() == {} and receiver.seen() == set()


def test_unauthenticated_is_401(receiver: Receiver) -> None:
    payload = receiver.callback()
    for headers in (
        {},
        {"X-Webhook-Secret": "guess"},
        {
            "X-Webhook-Secret": receiver.store.webhook_secret,
            **sign("not-the-client-secret", json.dumps(payload).encode()),
        },
    ):
        response = receiver.post(payload, headers=headers)
        assert response.status_code == 401
        assert response.get_json() == {"error": "authentication failed"}
    assert receiver.dirty() == {} and receiver.seen() == set()


def test_unknown_store_is_404_only_once_authenticated(receiver: Receiver) -> None:
    payload = receiver.callback(store_hash="nosuchstore")
    response = receiver.post(payload)
    assert response.status_code == 404 and response.get_json() == {"error": "unknown store nosuchstore"}
    assert receiver.post(payload, headers={}).status_code == 401  # no hint that the store is unknown
    with session_scope(receiver.settings.database_url) as s:
        assert s.scalar(select(Dirty.entity_id).where(Dirty.store_hash == "nosuchstore")) is None
    assert receiver.dirty() == {} and receiver.seen() == set()


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "text/json",
    ],
)
def test_a_content_type_other_than_json_is_415(sqlite_receiver: Receiver, content_type: str | None) -> None:
    response = sqlite_receiver.post(sqlite_receiver.callback(), content_type=content_type)
    assert response.status_code == 415 and response.get_json() == {
        "error": "Content-Type must be application/json"
    }
    assert sqlite_receiver.dirty() == {}


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "APPLICATION/JSON", "application/vnd.bigcommerce+json"],
)
def test_json_content_types_are_accepted(sqlite_receiver: Receiver, content_type: str) -> None:
    assert sqlite_receiver.post(sqlite_receiver.callback(), content_type=content_type).status_code == 200


def _padded(receiver: Receiver, size: int) -> bytes:
    """A valid callback padded with spaces to exactly `size` bytes."""
    body = json.dumps(receiver.callback()).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_over_64_kib_is_413_and_exactly_64_kib_is_read(receiver: Receiver) -> None:
    big = _padded(receiver, 64 * 1024 + 1)
    response = receiver.post(body=big)
    assert response.status_code == 413 and response.get_json() == {"error": "body over 65536 bytes"}
    assert receiver.dirty() == {}
    assert receiver.post(body=_padded(receiver, 64 * 1024)).status_code == 200


def test_413_when_content_length_is_absent_or_lies(sqlite_receiver: Receiver) -> None:
    receiver = sqlite_receiver
    big = _padded(receiver, 200 * 1024)
    headers = {"Content-Type": "application/json", **receiver.auth_headers(big)}
    # No Content-Length, the server terminates the stream (chunked): the bytes read decide.
    no_length = receiver.client.post(
        HOOK, input_stream=io.BytesIO(big), headers=headers, environ_overrides={"wsgi.input_terminated": True}
    )
    assert no_length.status_code == 413
    # Content-Length claims 100 bytes, the server hands over the whole body.
    lying = receiver.client.post(
        HOOK,
        data=big,
        headers=headers,
        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": "100"},
    )
    assert lying.status_code == 413
    # Content-Length claims more than the limit: refused before reading.
    claims_big = receiver.client.post(
        HOOK, data=b"{}", headers=headers, environ_overrides={"CONTENT_LENGTH": "70000"}
    )
    assert claims_big.status_code == 413
    # A server that stops at Content-Length: the truncated body is never recorded.
    truncated = receiver.client.post(
        HOOK, data=big, headers=headers, environ_overrides={"CONTENT_LENGTH": "100"}
    )
    assert truncated.status_code in (400, 401)
    # A body shorter than its Content-Length.
    short = receiver.client.post(
        HOOK, data=big[:100], headers=headers, environ_overrides={"CONTENT_LENGTH": "5000"}
    )
    assert short.status_code == 400
    assert receiver.dirty() == {} and receiver.seen() == set()


def test_chunked_body_over_64_kib_is_413_on_a_real_server(tmp_path: Path) -> None:
    receiver = make_receiver(f"sqlite:///{tmp_path / 'bcsync.db'}")
    server = make_server("127.0.0.1", 0, receiver.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        big = _padded(receiver, 100 * 1024)
        auth = "".join(f"{k}: {v}\r\n" for k, v in receiver.auth_headers(big).items())
        chunks = b"".join(
            b"%x\r\n%s\r\n" % (len(big[i : i + 8192]), big[i : i + 8192]) for i in range(0, len(big), 8192)
        )
        request = (
            (
                f"POST {HOOK} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{auth}"
                "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            ).encode()
            + chunks
            + b"0\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as sock:
            with contextlib.suppress(OSError):  # the server may answer before reading everything
                sock.sendall(request)
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert receiver.dirty() == {}
    finally:
        server.shutdown()


def test_503_when_the_database_cannot_be_written_and_nothing_is_half_recorded(tmp_path: Path) -> None:
    receiver = make_receiver(f"sqlite:///{tmp_path / 'bcsync.db'}")
    with session_scope(receiver.settings.database_url) as s:
        s.execute(text("ALTER TABLE dirty RENAME TO dirty_away"))
    payload = receiver.callback()
    body = json.dumps(payload).encode()
    headers = receiver.auth_headers(body, webhook_id="msg_outage")
    response = receiver.post(body=body, headers=headers)
    assert response.status_code == 503 and "retry" in response.get_json()["error"]
    assert receiver.seen() == set()  # the webhook id was not remembered without its change
    with session_scope(receiver.settings.database_url) as s:
        s.execute(text("ALTER TABLE dirty_away RENAME TO dirty"))
    # BigCommerce retries the same delivery (same id, fresh signature): now it is recorded
    assert (
        receiver.post(body=body, headers=receiver.auth_headers(body, webhook_id="msg_outage")).status_code
        == 200
    )
    assert receiver.dirty() == {("product", 7): 1} and receiver.seen() == {webhook_digest("msg_outage")}
    time.sleep(0.05)
    assert receiver.published == [receiver.store_hash]  # only the recorded change woke a flush


def test_503_when_the_database_is_unreachable() -> None:
    receiver = make_receiver("postgresql://postgres@127.0.0.1:1/nowhere")  # starts anyway, says why
    response = receiver.post(receiver.callback())
    assert response.status_code == 503 and response.get_json()["error"]
    assert receiver.published == []


def test_other_http_errors_are_json(sqlite_receiver: Receiver) -> None:
    assert sqlite_receiver.client.get(HOOK).status_code == 405
    assert sqlite_receiver.client.get(HOOK).get_json() == {"error": "method not allowed"}
    assert sqlite_receiver.client.get("/nope").get_json() == {"error": "not found"}


# --- waking the flush -----------------------------------------------------------------------


def committed_dirty(receiver: Receiver) -> dict[tuple[str, int], int]:
    """The committed dirty rows, read without waiting for any lock the request may hold."""
    url = receiver.settings.database_url
    if not url.startswith("sqlite:///"):
        return receiver.dirty()  # PostgreSQL readers never wait for writers
    with contextlib.closing(sqlite3.connect(url.split("///", 1)[1], isolation_level=None)) as conn:
        rows = conn.execute(
            "SELECT entity, entity_id, version FROM dirty WHERE store_hash = ?", (receiver.store_hash,)
        )
        return {(e, int(i)): int(v) for e, i, v in rows}


def test_the_flush_is_woken_only_after_the_change_is_committed(db_url: str) -> None:
    receiver = make_receiver(db_url)
    runtime = receiver.app.extensions["bcsync"]
    seen_at_note: list[dict[tuple[str, int], int]] = []
    real_note = runtime.waker.note

    def note(store_hash: str) -> None:  # what another connection sees when the waker is told
        seen_at_note.append(committed_dirty(receiver))
        real_note(store_hash)

    runtime.waker.note = note
    assert receiver.post(receiver.callback(data={"type": "product", "id": 31})).status_code == 200
    assert seen_at_note == [{("product", 31): 1}]
    assert wait_for(lambda: receiver.published) == [receiver.store_hash]
    # refused and ignored callbacks wake nothing
    receiver.post(receiver.callback(data={"type": "product", "id": "31"}))
    receiver.post(receiver.callback("store/order/created"))
    receiver.post(receiver.callback(), headers={})
    assert len(seen_at_note) == 1


def test_publishing_never_blocks_the_answer(tmp_path: Path) -> None:
    release = threading.Event()
    published: list[str] = []

    def slow_broker(store_hash: str) -> None:
        release.wait(10)
        published.append(store_hash)

    store = store_config("slowbroker")
    settings = Settings(
        stores={store.store_hash: store},
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        broker_url="filesystem://",
        debounce_seconds=0.0,
    )
    client = create_app(settings, publish=slow_broker).test_client()
    receiver = Receiver(app=client.application, client=client, settings=settings, store=store)
    started = time.monotonic()
    for product_id in (1, 2, 3):
        assert receiver.post(receiver.callback(data={"type": "product", "id": product_id})).status_code == 200
    assert time.monotonic() - started < 5
    release.set()
    assert wait_for(lambda: published) and set(published) == {"slowbroker"}


# --- start-up -------------------------------------------------------------------------------


def test_refuses_to_start_without_a_way_to_authenticate_callbacks(tmp_path: Path) -> None:
    store = store_config("noauth", client_secret=False, webhook_secret=False)
    settings = Settings(
        stores={"noauth": store},
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        broker_url="filesystem://",
    )
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET or BIGCOMMERCE_CLIENT_SECRET"):
        create_app(settings)


def test_a_fresh_database_is_migrated_on_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'bcsync.db'}"
    receiver = make_receiver(url)
    assert receiver.post(receiver.callback()).status_code == 200
