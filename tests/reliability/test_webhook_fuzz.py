"""Property tests of POST /webhooks/bigcommerce: over 10,000 generated requests (random bytes, random
JSON, mutated official samples, valid callbacks and their replays, random header sets with valid and
invalid signatures, content types and sizes) through the Flask test client, against one receiver on a
real SQLite file.

For every request: no 5xx, a status from the contract, and the database changes if and only if the
request was acknowledged as a change — a refused (or ignored, or replayed) request records nothing.
Where the contract decides the status from the request alone, the exact status is checked too.
Most examples send a few variants of one generated body (authenticated, not authenticated, another
content type): each variant is a request with its own expected answer, and it keeps hypothesis's
per-example overhead from dominating the run.
"""

from __future__ import annotations

import copy
import json
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.receiver import HOOK, Receiver, make_receiver, reference_dir, sign

CONTRACT = {200, 400, 401, 404, 413, 415, 503}
STORE_PATTERN = r"stores/[A-Za-z0-9_-]{1,64}"
JSON_TYPE = r"application/([a-z0-9.+-]+\+)?json"
LIMIT = 64 * 1024
SENT = {"requests": 0}
RAN: set[str] = set()
STRATEGIES = {
    "random_bytes",
    "random_json",
    "mutated_samples",
    "valid_callbacks",
    "random_headers",
    "content_types_and_sizes",
}

HANDLED = {
    "store/product/created": ("product", ("id",)),
    "store/product/updated": ("product", ("id",)),
    "store/product/deleted": ("product", ("id",)),
    "store/product/inventory/updated": ("product", ("id",)),
    "store/product/inventory/order/updated": ("product", ("id",)),
    "store/sku/created": ("product", ("sku", "product_id")),
    "store/sku/updated": ("product", ("sku", "product_id")),
    "store/sku/deleted": ("product", ("sku", "product_id")),
    "store/sku/inventory/updated": ("product", ("inventory", "product_id")),
    "store/sku/inventory/order/updated": ("product", ("inventory", "product_id")),
    "store/category/created": ("category", ("id",)),
    "store/category/updated": ("category", ("id",)),
    "store/category/deleted": ("category", ("id",)),
}


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    folder = tmp_path_factory.mktemp("fuzz")
    yield make_receiver(f"sqlite:///{folder / 'bcsync.db'}", debounce=1.0)
    for reader in _readers.values():
        reader.close()
    _readers.clear()


def samples() -> list[dict[str, Any]]:
    try:
        folder = reference_dir() / "bigcommerce" / "webhook-payloads"
        found = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    except pytest.skip.Exception:
        found = []
    if found:
        return found
    # the samples' shapes, for when the reference folder is absent
    return [
        {
            "scope": scope,
            "store_id": "1",
            "hash": "x",
            "created_at": 1,
            "producer": "stores/x",
            "data": _place({"type": "thing", "id": 1}, where, 5),
        }
        for scope, (_, where) in HANDLED.items()
    ]


def _place(data: dict[str, Any], where: tuple[str, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    target = data
    for part in where[:-1]:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[where[-1]] = value
    return data


SAMPLES = samples()


# --- sending, and what changed ----------------------------------------------------------------

_SNAPSHOT = (
    "SELECT (SELECT count(*) FROM dirty), (SELECT coalesce(sum(version), 0) FROM dirty), "
    "(SELECT count(*) FROM seen_webhooks)"
)
_readers: dict[str, sqlite3.Connection] = {}


def snapshot(receiver: Receiver) -> tuple[int, int, int]:
    """(dirty rows, sum of their versions, webhook ids remembered): any recording changes it.
    Read on a sqlite3 connection of its own (autocommit: every SELECT sees the latest commit)."""
    path = receiver.settings.database_url.split("///", 1)[1]
    if path not in _readers:
        _readers[path] = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    rows, versions, seen = _readers[path].execute(_SNAPSHOT).fetchone()
    return int(rows), int(versions), int(seen)


def send(
    receiver: Receiver,
    body: bytes,
    headers: dict[str, str],
    content_type: str | None = "application/json",
    **environ: Any,
) -> tuple[int, bool]:
    """(status, whether the database changed); asserts the invariants every request must keep."""
    before = snapshot(receiver)
    if content_type is not None:
        headers = {"Content-Type": content_type, **headers}
    response = receiver.client.post(HOOK, data=body, headers=headers, environ_overrides=environ or None)
    SENT["requests"] += 1
    after = snapshot(receiver)
    status = response.status_code
    assert status in CONTRACT and status < 500, (status, response.get_data()[:200])
    if status != 200:
        assert after == before, f"refused with {status} but recorded"
        assert response.is_json and isinstance(response.get_json().get("error"), str)
    else:
        assert response.get_data() == b""
    return status, after != before


def authenticated(receiver: Receiver, body: bytes) -> dict[str, str]:
    return {"X-Webhook-Secret": receiver.store.webhook_secret, **sign(receiver.store.client_secret, body)}


def callback(receiver: Receiver, scope: str, data: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "scope": scope,
            "producer": f"stores/{receiver.store_hash}",
            "data": data,
            "created_at": int(time.time()),
            "hash": "0" * 40,
        }
    ).encode()


# --- strategies -----------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
bad_ids = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=1, max_value=2**40).map(float),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.integers(min_value=1, max_value=2**40).map(str),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
good_ids = st.integers(min_value=1, max_value=2**63 - 1)
# Header text drawn as bytes and mapped onto the allowed characters: much cheaper than st.text.
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz-"
header_names = st.binary(min_size=1, max_size=12).map(lambda b: "".join(_NAME_CHARS[x % 27] for x in b))
header_values = st.binary(max_size=30).map(lambda b: bytes(32 + x % 95 for x in b).decode())
extra_headers = st.dictionaries(header_names, header_values, max_size=2).map(
    lambda extra: {k: v for k, v in extra.items() if k.lower() not in RESERVED_HEADERS}
)
RESERVED_HEADERS = {
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-webhook-secret",
    "content-type",
    "content-length",
    "transfer-encoding",
    "host",
}


# --- the properties -------------------------------------------------------------------------


@given(body=st.binary(max_size=2000), wrong_secret=header_values, extra=extra_headers)
@fuzz(1200)
def test_random_bytes(receiver: Receiver, body: bytes, wrong_secret: str, extra: dict[str, str]) -> None:
    RAN.add("random_bytes")
    secret = {"X-Webhook-Secret": receiver.store.webhook_secret}
    assert send(receiver, body, extra | secret) == (400, False)  # random bytes never make a callback
    assert send(receiver, body, extra | {"X-Webhook-Secret": wrong_secret + "x"}) == (401, False)
    assert send(receiver, body, extra | secret, content_type="text/plain") == (415, False)


@given(value=json_values)
@fuzz(800)
def test_random_json(receiver: Receiver, value: Any) -> None:
    RAN.add("random_json")
    body = json.dumps(value).encode()
    status, changed = send(receiver, body, authenticated(receiver, body))
    assert not changed and status in (400, 404)  # random JSON never names our store
    if not isinstance(value, dict):
        assert status == 400
    assert send(receiver, body, {}) == (401, False)
    assert send(receiver, body, authenticated(receiver, body), content_type="text/plain") == (415, False)


# Mutations that leave a valid change are rarer: each one writes to the database, which is slow.
MUTATIONS = [
    "none",
    "extra_key",
    "bad_id",
    "bad_id",
    "bad_id",
    "drop_id",
    "drop_key",
    "scope",
    "producer",
    "producer",
    "data",
    "data",
    "store",
]


@given(sample=st.sampled_from(SAMPLES), mutation=st.sampled_from(MUTATIONS), good=good_ids, draw=st.data())
@fuzz(1400)
def test_mutated_samples(
    receiver: Receiver, sample: dict[str, Any], mutation: str, good: int, draw: st.DataObject
) -> None:
    RAN.add("mutated_samples")
    payload = copy.deepcopy(sample)
    payload["producer"] = f"stores/{receiver.store_hash}"
    _, where = HANDLED.get(payload["scope"], ("product", ("id",)))
    payload["data"] = _place(payload["data"], where, good)
    expected, change = 200, True
    if mutation == "extra_key":
        noise = draw.draw(json_values)
        payload["data"]["extra_" + draw.draw(st.text(max_size=5))] = noise
        payload["extra"] = noise
    elif mutation == "bad_id":
        payload["data"] = _place(payload["data"], where, draw.draw(bad_ids))
        expected, change = 400, False
    elif mutation == "drop_id":
        target = payload["data"]
        for part in where[:-1]:
            target = target[part]
        del target[where[-1]]
        if where != ("id",):  # a sku callback may carry its product id in data.sku or data.inventory
            payload["data"].pop("inventory" if where[0] == "sku" else "sku", None)
        expected, change = 400, False
    elif mutation == "drop_key":
        del payload[draw.draw(st.sampled_from(["scope", "producer", "data"]))]
        expected, change = 400, False
    elif mutation == "scope":
        payload["scope"] = draw.draw(st.text(max_size=40) | json_values)
        if not isinstance(payload["scope"], str):
            expected, change = 400, False
        elif payload["scope"] not in HANDLED:
            change = False  # acknowledged, ignored
    elif mutation == "producer":
        payload["producer"] = draw.draw(st.text(max_size=70).map(lambda w: "stores/" + w) | json_values)
        producer = payload["producer"]
        expected = 404 if isinstance(producer, str) and re.fullmatch(STORE_PATTERN, producer) else 400
        change = False
    elif mutation == "data":
        payload["data"] = draw.draw(json_values.filter(lambda v: not isinstance(v, dict)))
        expected, change = 400, False
    elif mutation == "store":
        payload["producer"] = f"stores/x{uuid.uuid4().hex}"
        expected, change = 404, False
    body = json.dumps(payload).encode()
    assert send(receiver, body, authenticated(receiver, body)) == (expected, change), mutation
    assert send(receiver, body, {"X-Webhook-Secret": receiver.store.webhook_secret[:-1]}) == (401, False)


@given(
    scope=st.sampled_from(sorted(HANDLED)),
    entity_id=good_ids,
    extra=st.dictionaries(st.text(max_size=6), json_values, max_size=3),
)
@fuzz(200)
def test_valid_callbacks(receiver: Receiver, scope: str, entity_id: int, extra: dict[str, Any]) -> None:
    RAN.add("valid_callbacks")
    entity, where = HANDLED[scope]
    body = callback(receiver, scope, _place({**extra, "type": entity, "id": entity_id}, where, entity_id))
    headers = authenticated(receiver, body)
    rows, versions, _ = snapshot(receiver)
    assert send(receiver, body, headers) == (200, True)
    rows_after, versions_after, _ = snapshot(receiver)
    assert versions_after == versions + 1 and rows_after - rows in (0, 1)
    assert send(receiver, body, headers) == (200, False)  # the same delivery again: a replay
    assert send(receiver, body + b" ", headers) == (401, False)  # tampered


SIGNATURES = [
    "valid",
    "wrong_key",
    "tampered",
    "stale",
    "future",
    "absent",
    "partial",
    "garbage",
    "extra_valid",
]


@given(
    secret=st.sampled_from(["right", "wrong", "absent", "case"]),
    signature=st.sampled_from(SIGNATURES),
    drop=st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature"]),
    garbage=header_values,
    extra=extra_headers,
    product_id=good_ids,
)
@fuzz(1300)
def test_random_headers(
    receiver: Receiver,
    secret: str,
    signature: str,
    drop: str,
    garbage: str,
    extra: dict[str, str],
    product_id: int,
) -> None:
    RAN.add("random_headers")
    body = callback(receiver, "store/product/updated", {"type": "product", "id": product_id})
    client_secret = receiver.store.client_secret
    headers = dict(extra)
    if secret != "absent":
        headers["X-Webhook-Secret"] = {
            "right": receiver.store.webhook_secret,
            "wrong": garbage,
            "case": receiver.store.webhook_secret.upper(),
        }[secret]
    now = time.time()
    good = sign(client_secret, body)
    headers |= {
        "valid": lambda: good,
        "wrong_key": lambda: sign(client_secret + "x", body),
        "tampered": lambda: sign(client_secret, body + b" "),
        "stale": lambda: sign(client_secret, body, at=now - 400),
        "future": lambda: sign(client_secret, body, at=now + 400),
        "absent": lambda: {},
        "partial": lambda: {k: v for k, v in good.items() if k != drop},
        "garbage": lambda: {**good, drop: garbage},
        "extra_valid": lambda: {**good, "webhook-signature": f"v1,{garbage} {good['webhook-signature']}"},
    }[signature]()
    secret_ok = secret == "right" or (secret == "wrong" and garbage == receiver.store.webhook_secret)
    harmless = signature == "garbage" and garbage == good[drop]
    signature_ok = signature in ("valid", "absent", "extra_valid") or harmless
    expected = 200 if secret_ok and signature_ok else 401
    assert send(receiver, body, headers) == (expected, expected == 200), (secret, signature)


@given(
    content_type=st.one_of(
        st.sampled_from(
            [
                "application/json",
                "application/json; charset=utf-8",
                "application/problem+json",
                "text/plain",
                "application/xml",
                "multipart/form-data",
                "",
                "json",
            ]
        ),
        header_values,
    ),
    size=st.one_of(
        st.integers(min_value=0, max_value=70_000), st.sampled_from([LIMIT - 1, LIMIT, LIMIT + 1])
    ),
    lie=st.sampled_from([None, "short", "long"]),
)
@fuzz(500)
def test_content_types_and_sizes(receiver: Receiver, content_type: str, size: int, lie: str | None) -> None:
    RAN.add("content_types_and_sizes")
    body = callback(receiver, "store/product/updated", {"type": "product", "id": 1})
    body = body[:-1] + b" " * max(0, size - len(body)) + b"}"
    environ: dict[str, Any] = {"wsgi.input_terminated": True}  # the server hands over every byte sent
    declared = len(body) + {None: 0, "short": -10, "long": 10}[lie]
    if lie:
        environ["CONTENT_LENGTH"] = str(declared)
    headers = authenticated(receiver, body)
    status, changed = send(receiver, body, headers, content_type=content_type, **environ)
    is_json = re.fullmatch(JSON_TYPE, content_type.split(";")[0].strip().lower()) is not None
    if max(len(body), declared) > LIMIT:
        assert status == 413
    elif lie is not None:
        assert status == 400  # the body read differs from its Content-Length
    elif not is_json:
        assert status == 415
    else:
        assert status == 200 and changed


def test_at_least_ten_thousand_requests_were_sent(capsys: pytest.CaptureFixture[str]) -> None:
    if RAN != STRATEGIES:
        pytest.skip(f"only part of the module ran ({sorted(RAN)})")
    with capsys.disabled():
        print(f"\nwebhook fuzz: {SENT['requests']} requests sent")
    assert SENT["requests"] >= 10_000
