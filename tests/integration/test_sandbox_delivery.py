"""BigCommerce-style webhook delivery (sandbox/delivery.py) to a real loopback HTTP receiver."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug.datastructures import Headers
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from sandbox.delivery import BC_RETRY_SCHEDULE, HookDispatcher, scope_matches
from tests.reference import sample_payloads

STORE_HASH = "sandbox1"
CLIENT_SECRET = "sandbox-client-secret"


class QuietHandler(WSGIRequestHandler):
    """No access log: thousands of lines would cost more than the requests."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class Received:
    path: str
    headers: Headers  # case-insensitive
    body: bytes
    at: float


@dataclass
class Receiver:
    """A webhook destination: records every request; answers `fail_first` failures, then `status`."""

    base: str = ""
    status: int = 200
    fail_first: int = 0
    fail_status: int = 500
    sleep_first: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, path: str, headers: Iterable[tuple[str, str]], body: bytes) -> int:
        """Keep the request; the status to answer."""
        with self.lock:
            n = len(self.received)
            self.received.append(
                Received(path.removeprefix("/hooks/"), Headers(list(headers)), body, time.monotonic())
            )
        if n == 0 and self.sleep_first:
            time.sleep(self.sleep_first)
        return self.fail_status if n < self.fail_first else self.status

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """A bare WSGI app (a storm of callbacks should measure the dispatcher, not a framework)."""
        req = Request(environ)
        status = self.record(req.path, req.headers.items(), req.get_data())
        return Response("", status=status)(environ, start_response)

    def bodies(self, path: str | None = None) -> list[dict]:
        with self.lock:
            return [json.loads(r.body) for r in self.received if path is None or r.path == path]

    def count(self, path: str | None = None) -> int:
        with self.lock:
            return sum(1 for r in self.received if path is None or r.path == path)


def _serve(server: ThreadingHTTPServer, recv: Receiver) -> Iterator[Receiver]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    recv.base = f"http://127.0.0.1:{server.server_port}/hooks"
    try:
        yield recv
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """werkzeug's server, like the other sandbox tests (it closes the connection after every request)."""
    recv = Receiver()
    yield from _serve(make_server("127.0.0.1", 0, recv, threaded=True, request_handler=QuietHandler), recv)


@pytest.fixture
def keepalive_receiver() -> Iterator[Receiver]:
    """The standard library's threading server speaking HTTP/1.1 keep-alive, as gunicorn's gthread workers
    and most production receivers do. werkzeug's dev server closes every connection, which doubles the cost
    of a callback; a 5,000-callback burst against it takes several times longer on two cores."""
    recv = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = recv.record(self.path, self.headers.items(), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    yield from _serve(ThreadingHTTPServer(("127.0.0.1", 0), Handler), recv)


class Hooks:
    """The store's hooks as the simulated BigCommerce API would keep them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[dict] = []
        self.deactivated: list[int] = []

    def add(self, scope: str, destination: str, is_active: bool = True, headers: dict | None = None) -> dict:
        with self.lock:
            hook = {
                "id": len(self.items) + 1,
                "scope": scope,
                "destination": destination,
                "is_active": is_active,
                "headers": headers or {},
            }
            self.items.append(hook)
            return hook

    def get(self) -> list[dict]:
        with self.lock:
            return [dict(h) for h in self.items]

    def deactivate(self, hook_id: int) -> None:
        with self.lock:
            self.deactivated.append(hook_id)
            for hook in self.items:
                if hook["id"] == hook_id:
                    hook["is_active"] = False


@pytest.fixture
def hooks() -> Hooks:
    return Hooks()


@pytest.fixture
def make_dispatcher(hooks: Hooks) -> Iterator:
    made: list[HookDispatcher] = []

    def make(**kwargs: object) -> HookDispatcher:
        dispatcher = HookDispatcher(STORE_HASH, CLIENT_SECRET, hooks.get, hooks.deactivate, **kwargs)
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        dispatcher.stop()


def _verifier() -> Webhook:
    return Webhook(base64.b64encode(CLIENT_SECRET.encode()).decode())


def test_envelope_has_the_shape_of_the_official_samples(
    receiver: Receiver, hooks: Hooks, make_dispatcher
) -> None:
    samples = list(sample_payloads().values())  # skips with a reason when the reference files are absent
    assert samples
    hooks.add("store/*", f"{receiver.base}/all")
    dispatcher = make_dispatcher()
    before = int(time.time())
    for sample in samples:
        dispatcher.fire(sample["scope"], sample["data"])
    assert dispatcher.wait_idle(10)

    got = {body["scope"]: body for body in receiver.bodies()}
    assert len(got) == len(samples)
    for sample in samples:
        body = got[sample["scope"]]
        assert list(body) == list(sample)
        assert {k: type(v) for k, v in body.items()} == {k: type(v) for k, v in sample.items()}
        assert body["data"] == sample["data"]
        assert body["producer"] == sample["producer"].replace("{store_hash}", STORE_HASH)
        assert body["store_id"].isdigit()
        assert re.fullmatch(r"[0-9a-f]{40}", body["hash"])
        assert before <= body["created_at"] <= int(time.time())
    # Like the samples: the hash covers `data`, so created/updated/deleted of one product share it.
    same_data = [got[s["scope"]]["hash"] for s in samples if s["data"] == samples[0]["data"]]
    assert len(set(same_data)) == 1
    hashes = {got[s["scope"]]["hash"] for s in samples}
    assert len(hashes) == len({json.dumps(s["data"], sort_keys=True) for s in samples})


def test_signatures_verify_and_fail_on_a_tampered_body(
    receiver: Receiver, hooks: Hooks, make_dispatcher
) -> None:
    hooks.add("store/product/updated", f"{receiver.base}/p")
    dispatcher = make_dispatcher()
    dispatcher.fire("store/product/updated", {"type": "product", "id": 205})
    assert dispatcher.wait_idle(10)
    [got] = receiver.received
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(headers)
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 10
    assert _verifier().verify(got.body, headers)["data"] == {"type": "product", "id": 205}
    whsec = Webhook("whsec_" + base64.b64encode(CLIENT_SECRET.encode()).decode())
    assert whsec.verify(got.body, headers)["scope"] == "store/product/updated"
    tampered = got.body.replace(b"205", b"206")
    with pytest.raises(WebhookVerificationError):
        _verifier().verify(tampered, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(base64.b64encode(b"another secret").decode()).verify(got.body, headers)


def test_unsigned_when_signing_is_off(receiver: Receiver, hooks: Hooks, make_dispatcher) -> None:
    hooks.add("store/product/updated", f"{receiver.base}/p", headers={"X-Webhook-Secret": "s3cret"})
    dispatcher = make_dispatcher(sign=False)
    dispatcher.fire("store/product/updated", {"type": "product", "id": 1})
    assert dispatcher.wait_idle(10)
    headers = {name.lower() for name, _ in receiver.received[0].headers}
    assert "webhook-signature" not in headers and "x-webhook-secret" in headers


def test_custom_headers_and_json_content_type(receiver: Receiver, hooks: Hooks, make_dispatcher) -> None:
    hooks.add(
        "store/product/updated",
        f"{receiver.base}/p",
        headers={"X-Webhook-Secret": "s3cret", "X-Custom": "42"},
    )
    dispatcher = make_dispatcher()
    dispatcher.fire("store/product/updated", {"type": "product", "id": 1})
    assert dispatcher.wait_idle(10)
    headers = receiver.received[0].headers
    assert headers["X-Webhook-Secret"] == "s3cret"
    assert headers["X-Custom"] == "42"
    assert headers["Content-Type"] == "application/json"


def test_scope_matching() -> None:
    assert scope_matches("store/product/updated", "store/product/updated")
    assert scope_matches("store/product/*", "store/product/updated")
    assert scope_matches("store/product/*", "store/product/inventory/order/updated")
    assert scope_matches("store/*", "store/sku/created")
    assert not scope_matches("store/product/*", "store/products/updated")
    assert not scope_matches("store/product/*", "store/sku/updated")
    assert not scope_matches("store/product/updated", "store/product/updated/x")


def test_wildcard_and_exact_hooks(receiver: Receiver, hooks: Hooks, make_dispatcher) -> None:
    hooks.add("store/product/*", f"{receiver.base}/products")
    hooks.add("store/sku/updated", f"{receiver.base}/sku-updated")
    hooks.add("store/category/created", f"{receiver.base}/category-created")
    dispatcher = make_dispatcher()
    for scope in (
        "store/product/updated",
        "store/product/inventory/updated",
        "store/sku/updated",
        "store/sku/created",
        "store/category/updated",
    ):
        dispatcher.fire(scope, {"type": scope.split("/")[1], "id": 1})
    assert dispatcher.wait_idle(10)
    assert sorted(b["scope"] for b in receiver.bodies("products")) == [
        "store/product/inventory/updated",
        "store/product/updated",
    ]
    assert [b["scope"] for b in receiver.bodies("sku-updated")] == ["store/sku/updated"]
    assert receiver.count("category-created") == 0
    assert receiver.count() == 3


def test_inactive_hooks_get_nothing(receiver: Receiver, hooks: Hooks, make_dispatcher) -> None:
    hooks.add("store/product/updated", f"{receiver.base}/off", is_active=False)
    hooks.add("store/product/updated", f"{receiver.base}/on")
    dispatcher = make_dispatcher()
    for i in range(5):
        dispatcher.fire("store/product/updated", {"type": "product", "id": i})
    assert dispatcher.wait_idle(10)
    assert receiver.count("off") == 0
    assert receiver.count("on") == 5
    assert dispatcher.stats()["fired"] == 5 and dispatcher.stats()["delivered"] == 5


def test_retries_on_the_schedule_until_the_destination_recovers(
    receiver: Receiver, hooks: Hooks, make_dispatcher
) -> None:
    receiver.fail_first = 3
    hooks.add("store/product/updated", f"{receiver.base}/flaky")
    scale = 0.001
    dispatcher = make_dispatcher(time_scale=scale)
    dispatcher.fire("store/product/updated", {"type": "product", "id": 7})
    assert dispatcher.wait_idle(10)

    attempts = receiver.received
    assert len(attempts) == 4
    assert len({a.headers["Webhook-Id"] for a in attempts}) == 1
    assert len({a.body for a in attempts}) == 1  # same payload, same created_at
    for attempt in attempts:
        _verifier().verify(attempt.body, attempt.headers)  # a fresh, valid signature each time
    gaps = [b.at - a.at for a, b in zip(attempts, attempts[1:], strict=False)]
    for gap, wait in zip(gaps, BC_RETRY_SCHEDULE, strict=False):
        assert gap >= wait * scale * 0.9
    stats = dispatcher.stats()
    assert stats["delivered"] == 1 and stats["failed_attempts"] == 3
    assert stats["by_status"] == {"500": 3, "200": 1}
    assert stats["retries_pending"] == 0 and stats["deactivated"] == 0
    assert hooks.deactivated == []


def test_timeouts_count_as_failures_and_are_retried(
    receiver: Receiver, hooks: Hooks, make_dispatcher
) -> None:
    receiver.sleep_first = 0.6
    hooks.add("store/product/updated", f"{receiver.base}/slow")
    dispatcher = make_dispatcher(time_scale=0.001, timeout=0.2)
    dispatcher.fire("store/product/updated", {"type": "product", "id": 7})
    assert dispatcher.wait_idle(10)
    stats = dispatcher.stats()
    assert stats["by_status"] == {"timeout": 1, "200": 1}
    assert stats["delivered"] == 1
    assert receiver.received[0].headers["Webhook-Id"] == receiver.received[1].headers["Webhook-Id"]


def test_deactivated_after_the_final_retry(receiver: Receiver, hooks: Hooks, make_dispatcher) -> None:
    receiver.status = 503
    hook = hooks.add("store/product/updated", f"{receiver.base}/down")
    other = hooks.add("store/sku/updated", f"{receiver.base}/other")
    dispatcher = make_dispatcher(time_scale=0.000005)
    dispatcher.fire("store/product/updated", {"type": "product", "id": 7})
    assert dispatcher.wait_idle(15)
    assert receiver.count("down") == 1 + len(BC_RETRY_SCHEDULE)
    assert hooks.deactivated == [hook["id"]]
    assert [h["is_active"] for h in hooks.get()] == [False, True]
    stats = dispatcher.stats()
    assert stats["deactivated"] == 1 and stats["delivered"] == 0
    assert stats["failed_attempts"] == 1 + len(BC_RETRY_SCHEDULE)
    dispatcher.fire("store/product/updated", {"type": "product", "id": 8})
    assert dispatcher.wait_idle(5)
    assert receiver.count("down") == 1 + len(BC_RETRY_SCHEDULE)  # a deactivated hook gets nothing more
    assert other["is_active"]


def test_unreachable_destination_is_retried(hooks: Hooks, make_dispatcher) -> None:
    hooks.add("store/product/updated", "http://127.0.0.1:9/nothing-listens-here")
    dispatcher = make_dispatcher(time_scale=0.000005, timeout=1.0)
    dispatcher.fire("store/product/updated", {"type": "product", "id": 7})
    assert dispatcher.wait_idle(15)
    stats = dispatcher.stats()
    assert stats["by_status"] == {"connection_error": 1 + len(BC_RETRY_SCHEDULE)}
    assert hooks.deactivated == [1]


def test_failing_domain_is_blocklisted_and_deliveries_deferred(
    receiver: Receiver, hooks: Hooks, make_dispatcher
) -> None:
    receiver.status = 500
    hooks.add("store/product/updated", f"{receiver.base}/failing")
    dispatcher = make_dispatcher(time_scale=1.0, workers=4)
    for i in range(150):
        dispatcher.fire("store/product/updated", {"type": "product", "id": i})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        stats = dispatcher.stats()
        if stats["attempts"] + stats["deferred"] >= 150 and stats["in_flight"] == 0:
            break
        time.sleep(0.05)
    stats = dispatcher.stats()
    assert stats["blocklisted"] == 1
    assert stats["blocked_hosts"] == ["127.0.0.1"]
    assert 100 <= stats["attempts"] <= 100 + 4
    assert stats["deferred"] == 150 - stats["attempts"]
    assert receiver.count() == stats["attempts"]


def test_a_burst_of_5000_fires_uses_a_bounded_pool_and_delivers_all(
    keepalive_receiver: Receiver, hooks: Hooks, make_dispatcher
) -> None:
    hooks.add("store/product/*", f"{keepalive_receiver.base}/burst")
    baseline = threading.active_count()
    peak = [baseline]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            peak[0] = max(peak[0], threading.active_count())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    dispatcher = make_dispatcher(workers=8)
    started = time.monotonic()
    for i in range(5000):
        dispatcher.fire("store/product/updated", {"type": "product", "id": i})
    fire_seconds = time.monotonic() - started
    assert dispatcher.wait_idle(120)
    sampling.set()
    sampler.join(2)

    assert fire_seconds < 10  # fire() only enqueues
    assert keepalive_receiver.count() == 5000
    assert len({r.headers["Webhook-Id"] for r in keepalive_receiver.received}) == 5000
    assert sorted(b["data"]["id"] for b in keepalive_receiver.bodies()) == list(range(5000))
    # dispatcher pool (8) + sampler + one receiver thread per kept-alive connection, with slack
    assert peak[0] - baseline <= 40
    assert dispatcher.stats()["delivered"] == 5000


def test_stop_ends_the_workers(hooks: Hooks) -> None:
    before = set(threading.enumerate())
    dispatcher = HookDispatcher(STORE_HASH, CLIENT_SECRET, hooks.get, hooks.deactivate, workers=3)
    workers = {t for t in set(threading.enumerate()) - before if t.name.startswith("hook-dispatcher-")}
    assert len(workers) >= 3
    dispatcher.stop()
    assert not any(t.is_alive() for t in workers)
    dispatcher.fire("store/product/updated", {"type": "product", "id": 1})  # harmless after stop
    assert dispatcher.wait_idle(1)
