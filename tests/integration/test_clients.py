"""The BigCommerce and Ometria clients over real HTTP on loopback.

Happy paths and the faults the sandbox can produce run against the sandbox (simulated store and
Ometria account); the answers it cannot give (a 429 without headers on demand, 5xx with
Retry-After, truncated bodies, redirects, slow answers, servers echoing secrets) come from a tiny
scripted werkzeug app served on 127.0.0.1 by this module. Budgets here are small real objects that
count calls.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from workers.clients.bigcommerce import PLATFORM_BACKOFF, BigCommerceClient, CategoryTree
from workers.clients.ometria import MAX_RECORD_BYTES, OmetriaClient, PushResult, RecordTooLargeError
from workers.domain.categories import descendants
from workers.domain.errors import ConfigurationError, PermanentError, SyncError, TransientError
from workers.domain.mapping import MappingContext, map_product
from workers.settings import StoreConfig

TOKEN = "bc-secret-token-5f1e2d"
OMETRIA_KEY = "om-secret-key-9a8b7c"


@dataclass
class CountingBudget:
    """A real (if trivial) budget: counts acquire() and records what observe() was fed."""

    acquired: int = 0
    observed: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    def acquire(self) -> None:
        self.acquired += 1

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        self.observed.append((status, dict(headers)))


# -- a scripted HTTP server ------------------------------------------------------------------------

Action = Callable[[Request], Response]


class Script:
    """A WSGI app answering each request with the next scripted action (default: 200 empty page)."""

    def __init__(self) -> None:
        self.actions: deque[Action] = deque()
        self.requests: list[Request] = []
        self.lock = threading.Lock()

    def then(self, *actions: Action) -> Script:
        self.actions.extend(actions)
        return self

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        request.get_data()  # read the body before answering
        with self.lock:
            self.requests.append(request)
            action = self.actions.popleft() if self.actions else json_answer({"data": [], "meta": {}})
        return action(request)(environ, start_response)


def json_answer(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Action:
    return lambda _req: Response(
        json.dumps(body), status, headers=dict(headers or {}), mimetype="application/json"
    )


def raw_answer(body: bytes, status: int = 200, headers: Mapping[str, str] | None = None) -> Action:
    return lambda _req: Response(body, status, headers=dict(headers or {}))


def slow_answer(seconds: float) -> Action:
    def act(_req: Request) -> Response:
        time.sleep(seconds)
        return Response("{}", 200, mimetype="application/json")

    return act


@pytest.fixture
def script() -> Iterator[tuple[Script, str]]:
    app = Script()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def store_for(url: str, **overrides: Any) -> StoreConfig:
    fields: dict[str, Any] = {
        "store_hash": "abc123",
        "access_token": TOKEN,
        "api_url": url,
        "ometria_api_key": OMETRIA_KEY,
        "ometria_api_url": url,
    }
    fields.update(overrides)
    return StoreConfig(**fields)


def bc(
    url: str, budget: CountingBudget | None = None, timeout: tuple[float, float] = (2.0, 5.0)
) -> BigCommerceClient:
    return BigCommerceClient(store_for(url), budget=budget, timeout=timeout)


def om(
    url: str, budget: CountingBudget | None = None, timeout: tuple[float, float] = (2.0, 5.0)
) -> OmetriaClient:
    return OmetriaClient(store_for(url), budget=budget, timeout=timeout)


def page(items: list[dict], current: int, total_pages: int | None, next_link: bool | None = None) -> Action:
    pagination: dict[str, Any] = {"count": len(items), "per_page": 2, "current_page": current}
    if total_pages is not None:
        pagination["total_pages"] = total_pages
    if next_link is not None:
        pagination["links"] = {"next": f"?page={current + 1}" if next_link else None}
    return json_answer({"data": items, "meta": {"pagination": pagination}})


def assert_no_secret(error: BaseException) -> None:
    for text in (str(error), repr(error), str(error.args)):
        assert TOKEN not in text and OMETRIA_KEY not in text


# -- BigCommerce: requests, pagination, budget -----------------------------------------------------


def test_products_by_ids_is_one_request_of_up_to_250_ids(script: tuple[Script, str]) -> None:
    app, url = script
    ids = list(range(1, 251))
    app.then(json_answer({"data": [{"id": i} for i in ids[:3]], "meta": {"pagination": {"total_pages": 1}}}))
    budget = CountingBudget()
    products = bc(url, budget).products_by_ids(ids)
    assert [p["id"] for p in products] == [1, 2, 3]
    (request,) = app.requests
    assert request.path == "/stores/abc123/v3/catalog/products"
    assert request.args["id:in"] == ",".join(map(str, ids))
    assert request.args["include"] == "variants,images,custom_fields,channels"  # issue 12: assignments
    assert request.args["limit"] == "250"
    assert request.headers["X-Auth-Token"] == TOKEN
    assert request.headers["Accept"] == "application/json"
    assert budget.acquired == 1 and len(budget.observed) == 1


def test_products_by_ids_refuses_more_than_250_before_sending(script: tuple[Script, str]) -> None:
    app, url = script
    client = bc(url)
    with pytest.raises(ValueError, match="250"):
        client.products_by_ids(list(range(1, 252)))
    assert client.products_by_ids([]) == []
    assert app.requests == []
    # duplicates count once
    app.then(json_answer({"data": [{"id": 5}]}))
    assert client.products_by_ids([5] * 300) == [{"id": 5}]


@pytest.mark.parametrize("style", ["total_pages", "links_next"])
def test_pages_follow_meta_pagination(script: tuple[Script, str], style: str) -> None:
    app, url = script
    by_total = style == "total_pages"
    app.then(
        page([{"id": 1}, {"id": 2}], 1, 3 if by_total else None, None if by_total else True),
        page([{"id": 3}, {"id": 4}], 2, 3 if by_total else None, None if by_total else True),
        page([{"id": 5}], 3, 3 if by_total else None, None if by_total else False),
        json_answer({"data": [{"id": 99}]}),  # never asked for
    )
    budget = CountingBudget()
    pages = list(bc(url, budget).iter_product_pages(page_size=2, date_modified_min="2024-01-01T00:00:00Z"))
    assert [[p["id"] for p in pg] for pg in pages] == [[1, 2], [3, 4], [5]]
    assert [r.args["page"] for r in app.requests] == ["1", "2", "3"]
    assert all(r.args["date_modified:min"] == "2024-01-01T00:00:00Z" for r in app.requests)
    assert budget.acquired == 3 and [s for s, _ in budget.observed] == [200, 200, 200]


def test_pages_stop_on_an_empty_page_even_if_pagination_says_more(script: tuple[Script, str]) -> None:
    app, url = script
    app.then(page([{"id": 1}], 1, 9), page([], 2, 9))
    assert [len(p) for p in bc(url).iter_product_pages()] == [1]
    assert len(app.requests) == 2


def test_category_tree_falls_back_to_the_older_categories_api(script: tuple[Script, str]) -> None:
    app, url = script
    app.then(
        json_answer({"status": 404, "title": "Not Found"}, 404),
        json_answer(
            {"data": [{"id": 2, "parent_id": 0, "name": "Home"}, {"id": 5, "parent_id": 2, "name": "Bath"}]}
        ),
    )
    tree = bc(url).category_tree()
    assert tree.names == {2: "Home", 5: "Bath"} and tree.children == {0: [2], 2: [5]}
    assert [r.path.rsplit("/v3", 1)[1] for r in app.requests] == [
        "/catalog/trees/categories",
        "/catalog/categories",
    ]


def test_descendants_are_safe_against_cycles() -> None:
    tree = CategoryTree(names={}, children={1: [2, 3], 2: [4], 4: [1]})
    assert descendants(tree.children, [1]) == {1, 2, 3, 4}  # the category fan-out's walk of the tree
    assert descendants(tree.children, [9]) == {9}


def test_currency_reads_the_v2_store_profile(script: tuple[Script, str]) -> None:
    app, url = script
    app.then(json_answer({"id": "abc123", "currency": "EUR", "domain": "shop.example.com"}))
    assert bc(url).currency() == "EUR"
    assert app.requests[0].path == "/stores/abc123/v2/store"


# -- BigCommerce: classification -------------------------------------------------------------------


def test_429_with_reset_header_is_transient_with_retry_after_in_seconds(script: tuple[Script, str]) -> None:
    app, url = script
    headers = {"X-Rate-Limit-Time-Reset-Ms": "2500", "X-Rate-Limit-Requests-Left": "0",
               "X-Rate-Limit-Requests-Quota": "150", "X-Rate-Limit-Time-Window-Ms": "30000"}  # fmt: skip
    app.then(json_answer({"status": 429, "title": "Too many requests"}, 429, headers))
    budget = CountingBudget()
    with pytest.raises(TransientError) as caught:
        bc(url, budget).products_by_ids([1])
    assert caught.value.retry_after == 2.5 and caught.value.status == 429
    assert caught.value.kind == "transient"
    # the budget saw the 429 and its headers, so it can pause every worker
    assert budget.observed[0][0] == 429 and budget.observed[0][1]["X-Rate-Limit-Time-Reset-Ms"] == "2500"
    assert len(app.requests) == 1  # no retry inside the client


def test_429_without_headers_means_platform_load_and_a_default_back_off(script: tuple[Script, str]) -> None:
    app, url = script
    app.then(raw_answer(b"", 429))
    with pytest.raises(TransientError, match="platform load") as caught:
        bc(url).products_by_ids([1])
    assert caught.value.retry_after == PLATFORM_BACKOFF


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_transient(script: tuple[Script, str], status: int) -> None:
    app, url = script
    app.then(json_answer({"status": status, "title": "Service Unavailable"}, status, {"Retry-After": "7"}))
    with pytest.raises(TransientError) as caught:
        bc(url).brand_names()
    assert caught.value.status == status and caught.value.retry_after == 7.0


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [{"id": 1, "name": "Jar"',
        b"<html><body>502 Bad Gateway</body></html>",
        b'{"meta": {}}',
        b"[]",
    ],
    ids=["truncated", "html", "no-data", "wrong-shape"],
)
def test_a_200_that_is_not_the_expected_json_is_transient(script: tuple[Script, str], body: bytes) -> None:
    app, url = script
    app.then(raw_answer(body, 200, {"Content-Type": "application/json"}))
    with pytest.raises(TransientError):
        bc(url).products_by_ids([1])


def test_a_body_cut_short_on_the_wire_is_transient(script: tuple[Script, str]) -> None:
    app, url = script
    # Content-Length promises more than is sent: the client must not wait for ever nor trust the rest
    app.then(raw_answer(b'{"data": [', 200, {"Content-Length": "500", "Content-Type": "application/json"}))
    with pytest.raises(TransientError):
        bc(url, timeout=(1.0, 0.5)).products_by_ids([1])


def test_a_slow_answer_times_out_as_transient(script: tuple[Script, str]) -> None:
    app, url = script
    app.then(slow_answer(1.5))
    started = time.monotonic()
    with pytest.raises(TransientError, match="timed out"):
        bc(url, timeout=(1.0, 0.3)).currency()
    assert time.monotonic() - started < 1.4


def test_connection_refused_is_transient() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientError):
        bc(f"http://127.0.0.1:{port}", timeout=(0.5, 0.5)).currency()


@pytest.mark.parametrize(("status", "hint"), [(401, "BIGCOMMERCE_ACCESS_TOKEN"), (403, "scope")])
def test_401_and_403_are_configuration_errors(script: tuple[Script, str], status: int, hint: str) -> None:
    app, url = script
    app.then(json_answer({"status": status, "title": "Unauthorized"}, status))
    with pytest.raises(ConfigurationError, match=hint) as caught:
        bc(url).products_by_ids([1])
    assert caught.value.kind == "configuration"


def test_404_on_a_store_level_endpoint_is_configuration(script: tuple[Script, str]) -> None:
    app, url = script
    app.then(json_answer({"status": 404, "title": "Store not found"}, 404))
    with pytest.raises(ConfigurationError, match="BIGCOMMERCE_STORE_HASH"):
        bc(url).products_by_ids([1])
    app.then(json_answer({"status": 404, "title": "Not found"}, 404))
    with pytest.raises(ConfigurationError, match="BIGCOMMERCE_CHANNEL_ID"):
        bc(url).site_url(9)


def test_404_on_one_hook_is_permanent_not_configuration(script: tuple[Script, str]) -> None:
    app, url = script
    app.then(json_answer({"status": 404, "title": "Webhook not found"}, 404))
    with pytest.raises(PermanentError, match="Webhook not found") as caught:
        bc(url).update_hook(77, is_active=True)
    assert not isinstance(caught.value, ConfigurationError)
    assert app.requests[0].method == "PUT" and json.loads(app.requests[0].get_data()) == {"is_active": True}


def test_other_4xx_are_permanent_with_bigcommerces_title(script: tuple[Script, str]) -> None:
    app, url = script
    body = {
        "status": 422,
        "title": "JSON data is missing or invalid",
        "errors": {"destination": "must be https"},
    }
    app.then(json_answer(body, 422))
    with pytest.raises(PermanentError, match="JSON data is missing or invalid") as caught:
        bc(url).create_hook("store/product/updated", "http://x", {"X-Webhook-Secret": "s"})
    assert "must be https" in str(caught.value) and caught.value.kind == "permanent"


def test_redirects_are_not_followed_so_the_token_stays_home(script: tuple[Script, str]) -> None:
    app, url = script
    app.then(raw_answer(b"", 301, {"Location": url + "/elsewhere"}))
    with pytest.raises(ConfigurationError, match="BIGCOMMERCE_API_URL"):
        bc(url).currency()
    assert len(app.requests) == 1


def test_secrets_never_appear_in_errors_or_reprs(script: tuple[Script, str]) -> None:
    app, url = script

    def echo(req: Request) -> Response:  # a misbehaving server that echoes the request headers
        return Response(json.dumps({"title": f"bad token {req.headers.get('X-Auth-Token')}"}), 400)

    app.then(echo)
    client = bc(url)
    with pytest.raises(PermanentError) as caught:
        client.products_by_ids([1])
    assert "[redacted]" in str(caught.value)
    assert_no_secret(caught.value)
    assert TOKEN not in repr(client) and TOKEN not in repr(store_for(url))
    # and they survive pickling (Celery) with their classification
    import pickle

    again = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own bytes
    assert type(again) is PermanentError and again.status == 400 and str(again) == str(caught.value)


def test_every_request_goes_through_the_budget(script: tuple[Script, str]) -> None:
    app, url = script
    app.then(
        json_answer({"data": {"url": "https://shop.example.com/"}}),
        json_answer({"currency": "GBP"}),
        json_answer({"data": {"token": "jwt"}}),
        json_answer({"data": {"id": 1, "scope": "store/product/updated"}}),
        json_answer({}, 500),
    )
    budget = CountingBudget()
    client = bc(url, budget)
    assert client.site_url(1) == "https://shop.example.com"
    assert client.currency() == "GBP"
    assert client.create_storefront_token(1, 1_900_000_000, ["https://shop.example.com"]) == "jwt"
    assert (
        client.create_hook("store/product/updated", "https://hooks.example.com/webhooks/bigcommerce")["id"]
        == 1
    )
    with pytest.raises(TransientError):
        client.list_hooks()
    assert budget.acquired == len(app.requests) == client.requests_sent == 5
    assert [status for status, _ in budget.observed] == [200, 200, 200, 200, 500]
    token_request = json.loads(app.requests[2].get_data())
    assert token_request == {"channel_id": 1, "expires_at": 1_900_000_000,
                             "allowed_cors_origins": ["https://shop.example.com"]}  # fmt: skip


def test_no_response_is_observed_as_status_0_so_the_budget_frees_its_slot(script: tuple[Script, str]) -> None:
    app, url = script
    app.then(slow_answer(1.0))
    budget = CountingBudget()
    with pytest.raises(TransientError):
        bc(url, budget, timeout=(1.0, 0.2)).currency()
    assert budget.acquired == 1 and [status for status, *_ in budget.observed] == [0]


# -- Ometria: classification ------------------------------------------------------------------------


def product_record(record_id: str, **extra: Any) -> dict[str, Any]:
    return {"@type": "product", "id": record_id, "title": "Jar", "price": 10.0, **extra}


def test_push_sends_one_json_array_with_the_key_header(script: tuple[Script, str]) -> None:
    app, url = script
    app.then(json_answer({"status": "OK", "request_id": "r-1", "accepted": 2, "rejected": 0}))
    budget = CountingBudget()
    result = om(url, budget).push([product_record("1"), product_record("2")])
    assert result == PushResult(accepted=2, rejected=0, request_id="r-1")
    (request,) = app.requests
    assert request.method == "POST" and request.path == "/v2/push"
    assert request.headers["X-Ometria-Auth"] == OMETRIA_KEY
    assert request.mimetype == "application/json"
    assert [r["id"] for r in json.loads(request.get_data())] == ["1", "2"]
    assert budget.acquired == 1 and budget.observed[0][0] == 200


def test_push_answer_with_rejections_is_returned_not_raised(script: tuple[Script, str]) -> None:
    app, url = script
    app.then(json_answer({"status": "OK", "request_id": "r-2", "accepted": 1, "rejected": 1}))
    assert om(url).push([product_record("1"), product_record("2")]) == PushResult(1, 1, "r-2")


def test_push_refuses_bad_batches_before_sending(script: tuple[Script, str]) -> None:
    app, url = script
    client = om(url)
    with pytest.raises(ValueError):
        client.push([])
    with pytest.raises(ValueError):
        client.push([product_record(str(i)) for i in range(101)])
    with pytest.raises(ValueError, match="@type"):
        client.push([product_record("1"), {"@type": "contact", "id": "c"}])
    big = product_record("huge", description="x" * MAX_RECORD_BYTES)
    with pytest.raises(RecordTooLargeError) as caught:
        client.push([product_record("1"), big])
    assert caught.value.record_ids == ["huge"] and caught.value.kind == "permanent"
    assert app.requests == []


def test_ometria_400_is_permanent_and_carries_the_message(script: tuple[Script, str]) -> None:
    app, url = script
    app.then(json_answer({"status": "ERROR", "message": "Payload invalid: Record is too large."}, 400))
    with pytest.raises(PermanentError, match="Record is too large"):
        om(url).push([product_record("1")])


@pytest.mark.parametrize("status", [401, 403])
def test_ometria_auth_failures_are_configuration(script: tuple[Script, str], status: int) -> None:
    app, url = script
    app.then(json_answer({"status": "ERROR", "message": f"Forbidden {OMETRIA_KEY}"}, status))
    with pytest.raises(ConfigurationError, match="bad Ometria API key") as caught:
        om(url).push([product_record("1")])
    assert_no_secret(caught.value)


@pytest.mark.parametrize(("headers", "retry_after"), [({"Retry-After": "3"}, 3.0), ({}, 1.0)])
def test_ometria_429_is_transient(
    script: tuple[Script, str], headers: dict[str, str], retry_after: float
) -> None:
    app, url = script
    app.then(json_answer({"status": "ERROR", "message": "Too many requests"}, 429, headers))
    budget = CountingBudget()
    with pytest.raises(TransientError) as caught:
        om(url, budget).push([product_record("1")])
    assert caught.value.retry_after == retry_after
    assert budget.observed[0][0] == 429


def test_ometria_queue_room_is_exposed(script: tuple[Script, str]) -> None:
    app, url = script
    queue = {"X-QueueSize-Limit": "50000", "X-QueueSize-Remaining": "120"}
    app.then(json_answer({"status": "OK", "request_id": "r", "accepted": 1, "rejected": 0}, 200, queue))
    client = om(url)
    assert client.last_queue_remaining is None
    client.push([product_record("1")])
    assert (client.last_queue_remaining, client.last_queue_limit) == (120, 50000)


@pytest.mark.parametrize(
    "action",
    [json_answer({}, 502), raw_answer(b"<html>oops</html>", 200), raw_answer(b'{"status": "OK", "acc', 200)],
    ids=["502", "garbage", "truncated"],
)
def test_ometria_5xx_and_bad_json_are_transient(script: tuple[Script, str], action: Action) -> None:
    app, url = script
    app.then(action)
    with pytest.raises(TransientError):
        om(url).push([product_record("1")])


def test_ometria_timeout_is_transient(script: tuple[Script, str]) -> None:
    app, url = script
    app.then(slow_answer(1.0))
    with pytest.raises(TransientError, match="timed out"):
        om(url, timeout=(1.0, 0.2)).errors()


def test_ometria_products_pages_by_offset_until_an_empty_page(script: tuple[Script, str]) -> None:
    app, url = script
    app.then(
        json_answer([product_record(str(i)) for i in range(250)]),
        json_answer([product_record("p-1", is_variant=True), product_record("250")]),
        json_answer([]),
    )
    parents = list(om(url).iter_products(include_variants=False))
    assert len(parents) == 251 and "p-1" not in {p["id"] for p in parents}
    assert [r.args["offset"] for r in app.requests] == ["0", "250", "252"]


# -- against the sandbox ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    server = pytest.importorskip("sandbox.server", reason="the sandbox is not in this checkout")
    box = server.start_sandbox(products=120, seed=7, plan="unlimited", window_seconds=30)
    try:
        yield box
    finally:
        box.stop()


def sandbox_store(box: Any, **overrides: Any) -> StoreConfig:
    fields: dict[str, Any] = {
        "store_hash": box.store_hash,
        "access_token": box.access_token,
        "api_url": box.bc_url,
        "ometria_api_key": box.ometria_key,
        "ometria_api_url": box.ometria_url,
    }
    fields.update(overrides)
    return StoreConfig(**fields)


def test_sandbox_full_walk_and_batch_fetch(sandbox: Any) -> None:
    budget = CountingBudget()
    client = BigCommerceClient(sandbox_store(sandbox), budget=budget)
    pages = list(client.iter_product_pages(page_size=50))
    assert [len(p) for p in pages] == [50, 50, 20]
    walked = [p["id"] for pg in pages for p in pg]
    assert walked == sorted(sandbox.store.product_ids())
    assert budget.acquired == 3 and all("X-Rate-Limit-Requests-Left" in h for _, h in budget.observed)

    wanted = walked[:5] + [999_999]  # the last one does not exist
    fetched = client.products_by_ids(wanted)
    assert sorted(p["id"] for p in fetched) == sorted(walked[:5])
    assert all({"variants", "images", "custom_fields"} <= set(p) for p in fetched)
    assert budget.acquired == 4


def test_sandbox_products_map_into_records_the_sandbox_ometria_accepts(sandbox: Any) -> None:
    client = BigCommerceClient(sandbox_store(sandbox))
    tree = client.category_tree()
    ctx = MappingContext(
        currency=client.currency(),
        site_url=client.site_url(1),
        store_id="",
        category_names=tree.names,
        brand_names=client.brand_names(),
    )
    products = client.products_by_ids(sorted(sandbox.store.product_ids())[:40])
    records = [r for p in products for r in map_product(p, ctx)]
    ometria = OmetriaClient(sandbox_store(sandbox))
    results = [ometria.push(records[i : i + 100]) for i in range(0, len(records), 100)]
    assert sum(r.accepted for r in results) == len(records) and sum(r.rejected for r in results) == 0
    stored = sandbox.account.records
    assert all(r["id"] in stored for r in records)  # nothing failed the sandbox's Ometria validation
    assert not [e for e in OmetriaClient(sandbox_store(sandbox)).errors() if e.get("record_id") in stored]


def test_sandbox_lookups(sandbox: Any) -> None:
    client = BigCommerceClient(sandbox_store(sandbox))
    tree = client.category_tree()
    assert tree.names == {c["category_id"]: c["name"] for c in sandbox.store.category_tree()}
    some_parent = next(cid for cid in tree.names if tree.children.get(cid))
    below = descendants(tree.children, [some_parent]) - {some_parent}
    assert below == set(sandbox.store.category_descendants(some_parent))
    assert client.brand_names() == {b["id"]: b["name"] for b in sandbox.store.brands()}
    assert not client.site_url(1).endswith("/")
    assert len(client.currency()) == 3
    in_category = [p for pg in client.iter_product_pages(category_id=some_parent, include="") for p in pg]
    assert all(some_parent in p["categories"] for p in in_category)


def test_sandbox_hooks(sandbox: Any) -> None:
    client = BigCommerceClient(sandbox_store(sandbox))
    hook = client.create_hook(
        "store/product/updated", "https://hooks.example.com/bc", {"X-Webhook-Secret": "s"}
    )
    assert any(h["id"] == hook["id"] for h in client.list_hooks())
    assert client.update_hook(hook["id"], is_active=False)["is_active"] is False
    # listed as deactivated (what the hook check re-activates)
    assert any(h["id"] == hook["id"] and h["is_active"] is False for h in client.list_hooks())
    with pytest.raises(PermanentError):  # the same scope and destination again
        client.create_hook("store/product/updated", "https://hooks.example.com/bc", {})
    assert client.create_storefront_token(1, int(time.time()) + 3600, ["https://shop.example.com"])


def test_sandbox_wrong_credentials_and_store(sandbox: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        BigCommerceClient(sandbox_store(sandbox, access_token=TOKEN)).products_by_ids([1])
    assert caught.value.status == 401
    assert_no_secret(caught.value)
    with pytest.raises(ConfigurationError, match="BIGCOMMERCE_STORE_HASH"):
        BigCommerceClient(sandbox_store(sandbox, store_hash="nosuchstore")).currency()
    with pytest.raises(ConfigurationError, match="bad Ometria API key") as caught:
        OmetriaClient(sandbox_store(sandbox, ometria_api_key=OMETRIA_KEY)).push([product_record("x")])
    assert_no_secret(caught.value)


def test_sandbox_quota_429_carries_the_window_reset(sandbox: Any) -> None:
    sandbox.limiter.configure(quota=2, window_seconds=5)
    try:
        budget = CountingBudget()
        client = BigCommerceClient(sandbox_store(sandbox), budget=budget)
        client.currency()
        client.currency()
        with pytest.raises(TransientError) as caught:
            client.currency()
        assert caught.value.status == 429
        assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 5
        assert budget.observed[-1][0] == 429
    finally:
        sandbox.limiter.configure(plan="unlimited", window_seconds=30)


@pytest.mark.parametrize("kind", ["500", "429", "truncated", "garbage"])
def test_sandbox_injected_faults_are_transient(sandbox: Any, kind: str) -> None:
    sandbox.bc_faults.configure(rate=1.0, kinds=[kind], paths="/v3/catalog/brands")
    try:
        with pytest.raises(TransientError) as caught:
            BigCommerceClient(sandbox_store(sandbox)).brand_names()
        if kind == "429":  # no rate headers: platform load
            assert caught.value.retry_after == PLATFORM_BACKOFF
    finally:
        sandbox.bc_faults.reset()


def test_sandbox_ometria_rate_limit_and_rejections(sandbox: Any) -> None:
    client = OmetriaClient(sandbox_store(sandbox))
    result = client.push([product_record("ok-1"), {"@type": "product", "title": "no id"}])
    assert (result.accepted, result.rejected) == (1, 1) and result.request_id
    assert any(e.get("request_id") == result.request_id for e in client.errors())
    sandbox.account.configure(push_rate=1)
    try:
        time.sleep(1.05)  # one push per sliding second from now on: let ok-1's second pass
        client.push([product_record("ok-2")])
        with pytest.raises(TransientError) as caught:
            client.push([product_record("ok-3")])
        assert caught.value.retry_after == 1.0
    finally:
        sandbox.account.configure(push_rate=8)
    time.sleep(1.0)  # let the 1-second window pass for the next test
    ids = {p["id"] for p in client.iter_products()}
    assert "ok-1" in ids and "ok-2" in ids and "ok-3" not in ids


def test_errors_are_sync_errors_with_a_kind() -> None:
    for cls, kind in (
        (TransientError, "transient"),
        (PermanentError, "permanent"),
        (ConfigurationError, "configuration"),
    ):
        error = cls("x")
        assert isinstance(error, SyncError) and error.kind == kind and error.retry_after is None
