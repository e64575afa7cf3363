"""Authentication of webhook callbacks: the shared secret header, Standard Webhooks signatures
(wrong, missing, stale, future, tampered, incomplete), both together, per-store credentials, replayed
webhook ids, and constant-time comparison of the secret.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest

import consumer.webhooks.auth
from tests.receiver import Receiver, make_receiver, sign, store_config
from workers.store.storage import webhook_digest


def _receiver(tmp_path: Path, **kwargs: Any) -> Receiver:
    return make_receiver(f"sqlite:///{tmp_path / 'bcsync.db'}", **kwargs)


@pytest.fixture
def signed_only(tmp_path: Path) -> Receiver:
    return _receiver(tmp_path, webhook_secret=False)


@pytest.fixture
def secret_only(tmp_path: Path) -> Receiver:
    return _receiver(tmp_path, client_secret=False)


@pytest.fixture
def both(tmp_path: Path) -> Receiver:
    return _receiver(tmp_path)


def _body(receiver: Receiver, product_id: int = 7) -> bytes:
    return json.dumps(receiver.callback(data={"type": "product", "id": product_id})).encode()


def _post(receiver: Receiver, body: bytes, headers: dict[str, str]) -> int:
    return receiver.post(body=body, headers=headers).status_code


def _refused(receiver: Receiver, body: bytes, headers: dict[str, str]) -> None:
    response = receiver.post(body=body, headers=headers)
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json() == {"error": "authentication failed"}
    assert receiver.dirty() == {} and receiver.seen() == set()


# --- Standard Webhooks signatures (client secret only: the headers are required) -----------


def test_a_valid_signature_is_accepted(signed_only: Receiver) -> None:
    body = _body(signed_only)
    assert _post(signed_only, body, sign(signed_only.store.client_secret, body)) == 200
    assert signed_only.dirty() == {("product", 7): 1}


def test_a_wrong_signature_is_401(signed_only: Receiver) -> None:
    body = _body(signed_only)
    _refused(signed_only, body, sign("some-other-secret", body))
    headers = sign(signed_only.store.client_secret, body)
    headers["webhook-signature"] = "v1," + "A" * 44
    _refused(signed_only, body, headers)


@pytest.mark.parametrize(
    "garbage",
    ["", "v1", "v1,", "v1,not base64!", "v2,abc=", "v1,abc,def", "x" * 500, "v1,QUJD", "v1a,QUJD v1,===="],
)
def test_a_garbled_signature_header_is_401_not_500(signed_only: Receiver, garbage: str) -> None:
    body = _body(signed_only)
    headers = sign(signed_only.store.client_secret, body)
    headers["webhook-signature"] = garbage
    _refused(signed_only, body, headers)


@pytest.mark.parametrize("timestamp", ["", "abc", "1.5e9", "nan", "inf", "-1", "99999999999999999999", " 1"])
def test_a_garbled_timestamp_is_401(signed_only: Receiver, timestamp: str) -> None:
    body = _body(signed_only)
    headers = sign(signed_only.store.client_secret, body)
    headers["webhook-timestamp"] = timestamp
    _refused(signed_only, body, headers)


def test_missing_signature_headers_are_401_when_only_the_client_secret_is_set(signed_only: Receiver) -> None:
    body = _body(signed_only)
    _refused(signed_only, body, {})
    _refused(signed_only, body, {"X-Webhook-Secret": "anything"})  # the secret header alone does not do


@pytest.mark.parametrize("offset", [-301, -600, -86400 * 2, 301, 3600])
def test_stale_and_future_timestamps_are_401(signed_only: Receiver, offset: int) -> None:
    body = _body(signed_only)
    _refused(signed_only, body, sign(signed_only.store.client_secret, body, at=time.time() + offset))


@pytest.mark.parametrize("offset", [-280, 280])
def test_timestamps_within_five_minutes_are_accepted(signed_only: Receiver, offset: int) -> None:
    body = _body(signed_only)
    assert (
        _post(signed_only, body, sign(signed_only.store.client_secret, body, at=time.time() + offset)) == 200
    )


def test_the_header_time_counts_not_the_payloads_created_at(signed_only: Receiver) -> None:
    payload = signed_only.callback()
    payload["created_at"] = int(time.time()) - 47 * 3600  # a BigCommerce retry keeps created_at for 48 h
    body = json.dumps(payload).encode()
    assert _post(signed_only, body, sign(signed_only.store.client_secret, body)) == 200
    payload["created_at"] = int(time.time())  # a fresh created_at does not rescue a stale signature
    body = json.dumps(payload).encode()
    response = signed_only.post(
        body=body, headers=sign(signed_only.store.client_secret, body, at=time.time() - 900)
    )
    assert response.status_code == 401


def test_a_valid_signature_on_a_tampered_body_is_401(signed_only: Receiver) -> None:
    body = _body(signed_only, product_id=7)
    headers = sign(signed_only.store.client_secret, body)
    tampered = body.replace(b'"id": 7', b'"id": 8')
    assert tampered != body
    _refused(signed_only, tampered, headers)
    _refused(signed_only, body + b" ", headers)


def test_every_signature_in_the_header_is_tried(signed_only: Receiver) -> None:
    body = _body(signed_only)
    headers = sign(signed_only.store.client_secret, body)
    wrong = sign(
        "rotated-away", body, webhook_id=headers["webhook-id"], at=float(headers["webhook-timestamp"])
    )
    headers["webhook-signature"] = f"v2,zzzz {wrong['webhook-signature']} v1,* {headers['webhook-signature']}"
    assert _post(signed_only, body, headers) == 200


@pytest.mark.parametrize(
    "kept",
    [
        ("webhook-id",),
        ("webhook-timestamp",),
        ("webhook-signature",),
        ("webhook-id", "webhook-timestamp"),
        ("webhook-id", "webhook-signature"),
        ("webhook-timestamp", "webhook-signature"),
    ],
)
@pytest.mark.parametrize("configured", ["signed_only", "secret_only", "both"])
def test_an_incomplete_set_of_standard_webhooks_headers_is_401(
    request: pytest.FixtureRequest, configured: str, kept: tuple[str, ...]
) -> None:
    receiver: Receiver = request.getfixturevalue(configured)
    body = _body(receiver)
    full = receiver.auth_headers(body) | sign(receiver.store.client_secret or "x", body)
    headers = {
        k: v for k, v in full.items() if k not in {"webhook-id", "webhook-timestamp", "webhook-signature"}
    }
    headers |= {k: full[k] for k in kept}
    _refused(receiver, body, headers)


# --- the shared secret header ---------------------------------------------------------------


def test_the_secret_header_alone_when_only_it_is_configured(secret_only: Receiver) -> None:
    body = _body(secret_only)
    assert _post(secret_only, body, {"X-Webhook-Secret": secret_only.store.webhook_secret}) == 200
    assert secret_only.dirty() == {("product", 7): 1}


@pytest.mark.parametrize("value", ["", "wrong", "hook-", " {secret}", "{secret} ", "{secret}x", "{upper}"])
def test_a_wrong_or_missing_secret_header_is_401(secret_only: Receiver, value: str) -> None:
    body = _body(secret_only)
    secret = secret_only.store.webhook_secret
    _refused(secret_only, body, {"X-Webhook-Secret": value.format(secret=secret, upper=secret.upper())})
    _refused(secret_only, body, {})
    _refused(secret_only, body, {"X-Other": secret})


def test_signature_headers_are_ignored_when_no_client_secret_is_configured(secret_only: Receiver) -> None:
    body = _body(secret_only)
    headers = {"X-Webhook-Secret": secret_only.store.webhook_secret, **sign("unknown-to-us", body)}
    assert _post(secret_only, body, headers) == 200


# --- both configured: every check that applies must pass -----------------------------------


def test_both_configured_both_must_pass(both: Receiver) -> None:
    body = _body(both)
    secret = {"X-Webhook-Secret": both.store.webhook_secret}
    _refused(both, body, {"X-Webhook-Secret": "wrong", **sign(both.store.client_secret, body)})
    _refused(both, body, {**secret, **sign("wrong-client-secret", body)})
    _refused(both, body, {**secret, **sign(both.store.client_secret, body, at=time.time() - 3600)})
    _refused(both, body, sign(both.store.client_secret, body))  # signature right, secret header missing
    assert _post(both, body, {**secret, **sign(both.store.client_secret, body)}) == 200
    # signature headers absent: the secret header is the check that applies
    assert _post(both, body, secret) == 200
    assert both.dirty() == {("product", 7): 2}


# --- per store ------------------------------------------------------------------------------


def test_one_stores_credentials_never_authenticate_another_stores_callbacks(tmp_path: Path) -> None:
    other = store_config("otherstore")
    receiver = _receiver(tmp_path, extra_stores=(other,))
    for_ours = json.dumps(receiver.callback()).encode()
    for_other = json.dumps(receiver.callback(store_hash="otherstore")).encode()
    other_auth = {"X-Webhook-Secret": other.webhook_secret, **sign(other.client_secret, for_ours)}
    _refused(receiver, for_ours, other_auth)
    assert (
        _post(
            receiver,
            for_other,
            {"X-Webhook-Secret": other.webhook_secret, **sign(other.client_secret, for_other)},
        )
        == 200
    )
    unknown = json.dumps(receiver.callback(store_hash="unknownstore")).encode()
    assert (
        _post(
            receiver,
            unknown,
            {"X-Webhook-Secret": other.webhook_secret, **sign(other.client_secret, unknown)},
        )
        == 404
    )
    assert _post(receiver, unknown, {"X-Webhook-Secret": "guess"}) == 401
    assert receiver.dirty() == {}


# --- replays ----------------------------------------------------------------------------------


def test_a_replayed_webhook_id_is_acknowledged_and_not_recorded_again(both: Receiver) -> None:
    body = _body(both)
    first = both.auth_headers(body, webhook_id="msg_once")
    assert _post(both, body, first) == 200
    assert both.dirty() == {("product", 7): 1}
    time.sleep(0.05)
    published = list(both.published)
    # the same delivery again (BigCommerce re-signs retries with a fresh timestamp)
    again = both.auth_headers(body, webhook_id="msg_once", at=time.time() + 2)
    response = both.post(body=body, headers=again)
    assert response.status_code == 200 and response.get_data() == b""
    assert both.dirty() == {("product", 7): 1}
    assert both.seen() == {webhook_digest("msg_once")}
    time.sleep(0.05)
    assert both.published == published
    # a different event for the same product is a change
    assert _post(both, body, both.auth_headers(body, webhook_id="msg_twice")) == 200
    assert both.dirty() == {("product", 7): 2}


def test_the_payload_hash_is_not_an_event_id(both: Receiver) -> None:
    # The samples give created/updated/deleted of one product the same hash: all three are changes.
    for scope in ("store/product/created", "store/product/updated", "store/product/deleted"):
        payload = both.callback(scope, {"type": "product", "id": 205})
        payload["hash"] = "a833a57fadd56a32dc752fb6ca0841dc9602a495"
        assert both.post(payload).status_code == 200
    assert both.dirty() == {("product", 205): 3}


def test_replay_protection_works_with_the_secret_header_too(secret_only: Receiver) -> None:
    body = _body(secret_only)
    headers = {
        "X-Webhook-Secret": secret_only.store.webhook_secret,
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": "v1,unverifiable",
    }
    assert _post(secret_only, body, headers) == 200
    assert _post(secret_only, body, headers) == 200
    assert secret_only.dirty() == {("product", 7): 1}


# --- constant time ----------------------------------------------------------------------------


def test_the_secret_is_compared_in_constant_time(
    secret_only: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(consumer.webhooks.auth.hmac, "compare_digest", spy)
    body = _body(secret_only)
    secret = secret_only.store.webhook_secret
    assert _post(secret_only, body, {"X-Webhook-Secret": "a-wrong-guess"}) == 401
    assert _post(secret_only, body, {"X-Webhook-Secret": secret}) == 200
    assert (b"a-wrong-guess", secret.encode()) in calls
    assert (secret.encode(), secret.encode()) in calls


def test_the_signature_is_compared_in_constant_time(
    signed_only: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(consumer.webhooks.auth.hmac, "compare_digest", spy)
    body = _body(signed_only)
    good = sign(signed_only.store.client_secret, body)
    expected = base64.b64decode(good["webhook-signature"].split(",", 1)[1])
    guess = bytes(32)
    wrong = {**good, "webhook-signature": "v1," + base64.b64encode(guess).decode()}
    assert _post(signed_only, body, wrong) == 401
    assert _post(signed_only, body, good) == 200
    assert (expected, guess) in calls
    assert (expected, expected) in calls
