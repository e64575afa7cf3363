"""The simulated BigCommerce store: catalogue variety and determinism, queries (pagination, id:in,
categories:in, date_modified:min, include/include_fields), mutations and the callbacks they fire, hooks,
rate limiting and storms — through its HTTP API on loopback where that is what clients see."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from sandbox.catalog import Store, category_count, iso, parse_date_filter
from sandbox.client import SandboxClient, SandboxError
from sandbox.ratelimit import RateLimiter
from sandbox.server import Sandbox, start_sandbox
from sandbox.storm import run_storm

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sb = start_sandbox(products=600, seed=3, plan="unlimited")
    yield sb
    sb.stop()


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False
    session.headers["X-Auth-Token"] = sandbox.access_token
    yield session
    session.close()


def products(http: requests.Session, sandbox: Sandbox, **params: Any) -> dict:
    response = http.get(f"{sandbox.api_url}/catalog/products", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


# ------------------------------------------------------------------------------------ catalogue
def test_same_seed_same_store_other_seed_other_store() -> None:
    assert Store(150, seed=9).snapshot() == Store(150, seed=9).snapshot()
    assert Store(150, seed=9).snapshot()["products"] != Store(150, seed=10).snapshot()["products"]


def test_catalogue_has_the_variety_of_real_stores() -> None:
    store = Store(2000, seed=1)
    snap = store.snapshot()
    items = snap["products"]
    assert len(items) == 2000
    variants = [v for p in items for v in p["variants"]]
    with_options = [p for p in items if any(v["option_values"] for v in p["variants"])]
    simple = [p for p in items if len(p["variants"]) == 1 and not p["variants"][0]["option_values"]]
    assert with_options and simple and len(with_options) + len(simple) == len(items)
    assert all(p["base_variant_id"] == p["variants"][0]["id"] for p in simple)
    assert all(p["base_variant_id"] is None for p in with_options)
    images = [p["images"] for p in items]
    assert any(not i for i in images)
    assert any(i and any(x["is_thumbnail"] for x in i) for i in images)
    assert any(i and not any(x["is_thumbnail"] for x in i) for i in images)
    assert any(len({x["sort_order"] for x in i}) < len(i) for i in images if len(i) > 1)  # sort_order ties
    assert any(len({f["name"] for f in p["custom_fields"]}) < len(p["custom_fields"]) for p in items)
    assert {p["inventory_tracking"] for p in items} == {"none", "product", "variant"}
    assert any(p["inventory_tracking"] == "product" and p["inventory_level"] == 0 for p in items)
    assert any(v["inventory_level"] == 0 for v in variants) and any(
        v["purchasing_disabled"] for v in variants
    )
    assert any(v["price"] is None for v in variants if v["option_values"])
    assert any(v["price"] is not None for v in variants if v["option_values"])
    assert any(v["sale_price"] is None for v in variants if v["option_values"])
    assert any(v["sale_price"] is not None for v in variants if v["option_values"])
    assert any(p["sale_price"] == 0 for p in items)
    assert any(0 < p["sale_price"] < p["price"] for p in items)
    assert any(p["sale_price"] >= p["price"] > 0 for p in items)
    assert any(not p["is_visible"] for p in items) and any(p["availability"] == "disabled" for p in items)
    assert any(p["brand_id"] == 0 for p in items) and any(p["brand_id"] for p in items)
    assert any(not p["categories"] for p in items)
    assert all(
        p["date_modified"].endswith("+00:00") and p["custom_url"]["url"].startswith("/") for p in items
    )
    assert len({p["name"] for p in items}) == len(items)
    # categories: 50..200 of them, at least three levels deep; every assigned one exists
    categories = {c["category_id"]: c for c in snap["categories"]}
    assert 50 <= len(categories) <= 200

    def depth(cid: int) -> int:
        parent = categories[cid]["parent_id"]
        return 1 if parent == 0 else 1 + depth(parent)

    assert max(depth(c) for c in categories) >= 3
    assert {c for p in items for c in p["categories"]} <= set(categories)
    assert {p["brand_id"] for p in items} - {0} <= {b["id"] for b in snap["brands"]}
    assert snap["site_url"].startswith("https://") and snap["currency"] == "USD"


def test_category_count_scales_with_store_size() -> None:
    assert len(Store(10, seed=1).category_tree()) == 50
    assert [category_count(n) for n in (200, 30_000, 60_000, 100_000, 500_000)] == [50, 60, 120, 200, 200]


# ------------------------------------------------------------------------------------ queries over HTTP
def test_pagination_meta_and_links(http: requests.Session, sandbox: Sandbox) -> None:
    total = sandbox.store.product_count()
    first = products(http, sandbox, limit=100, sort="id")
    meta = first["meta"]["pagination"]
    assert meta == {
        "total": total,
        "count": 100,
        "per_page": 100,
        "current_page": 1,
        "total_pages": -(-total // 100),
        "links": meta["links"],
    }
    assert meta["links"] == {"current": "?sort=id&limit=100&page=1", "next": "?sort=id&limit=100&page=2"}
    seen = [p["id"] for p in first["data"]]
    page = 2
    while True:
        body = products(http, sandbox, limit=100, sort="id", page=page)
        if not body["data"]:
            break
        assert body["meta"]["pagination"]["links"]["previous"] == f"?sort=id&limit=100&page={page - 1}"
        seen += [p["id"] for p in body["data"]]
        page += 1
    assert seen == sorted(sandbox.store.product_ids())
    last = products(http, sandbox, limit=100, page=page - 1)["meta"]["pagination"]
    assert "next" not in last["links"] and last["count"] == total - 100 * (page - 2)
    assert products(http, sandbox)["meta"]["pagination"]["per_page"] == 50  # default
    assert (
        products(http, sandbox, limit=1000)["meta"]["pagination"]["per_page"] == 250
    )  # capped like BigCommerce
    desc = products(http, sandbox, sort="id", direction="desc", limit=5)["data"]
    assert [p["id"] for p in desc] == sorted(sandbox.store.product_ids())[-5:][::-1]


def test_id_in_returns_exactly_the_existing_ones(http: requests.Session, sandbox: Sandbox) -> None:
    ids = sandbox.store.product_ids()[10:260:5] + [99_999_999]
    body = products(http, sandbox, **{"id:in": ",".join(map(str, ids)), "limit": 250})
    assert [p["id"] for p in body["data"]] == ids[:-1]
    assert body["meta"]["pagination"]["total"] == len(ids) - 1
    bad = http.get(f"{sandbox.api_url}/catalog/products", params={"id:in": "1,x"}, timeout=30)
    assert bad.status_code == 422


def test_categories_in_reads_any_and_can_be_switched_to_all(http: requests.Session, sandbox: Sandbox) -> None:
    snap = sandbox.store.snapshot()["products"]
    counts = Counter(c for p in snap for c in p["categories"])
    a, b = (c for c, _ in counts.most_common(2))
    in_a = {p["id"] for p in snap if a in p["categories"]}
    in_b = {p["id"] for p in snap if b in p["categories"]}
    one = products(http, sandbox, **{"categories:in": str(a), "limit": 250})
    assert {p["id"] for p in one["data"]} == in_a
    any_of = products(http, sandbox, **{"categories:in": f"{a},{b}", "limit": 250})
    assert {p["id"] for p in any_of["data"]} == in_a | in_b
    client = sandbox.client()
    client.config(categories_in="all")
    try:
        all_of = products(http, sandbox, **{"categories:in": f"{a},{b}", "limit": 250})
        assert {p["id"] for p in all_of["data"]} == in_a & in_b
    finally:
        client.config(categories_in="any")


def test_date_modified_min_finds_what_changed(http: requests.Session, sandbox: Sandbox) -> None:
    before = time.time()
    since = iso(before - 1)
    pid = sandbox.store.product_ids()[42]
    sandbox.store.update_product(pid, price=19.99)
    image_pid = sandbox.store.product_ids()[43]
    sandbox.store.add_image(image_pid)  # fires nothing, but date_modified moves: a sweep catches it
    body = products(http, sandbox, **{"date_modified:min": since, "limit": 250})
    found = {p["id"] for p in body["data"]}
    assert {pid, image_pid} <= found
    assert all(p["date_modified"] >= since for p in body["data"])
    old = products(http, sandbox, **{"date_modified:max": "2023-06-01T00:00:00Z", "limit": 250})["data"]
    assert old and all(p["date_modified"] <= "2023-06-01T00:00:00+00:00" for p in old)
    assert pid not in {p["id"] for p in old}
    assert (
        http.get(
            f"{sandbox.api_url}/catalog/products", params={"date_modified:min": "yesterday"}, timeout=30
        ).status_code
        == 422
    )


def test_a_bare_date_gets_the_time_of_the_request_like_bigcommerce_documents() -> None:
    now = 1_699_920_000 + 3600 * 5 + 42  # 05:00:42 on 2023-11-14
    assert parse_date_filter("2023-11-14", now) == 1_699_920_000 + 3600 * 5 + 42
    assert parse_date_filter("2023-11-14T00:00:00Z", now) == 1_699_920_000
    assert parse_date_filter("2023-11-14T01:00:00+01:00", now) == 1_699_920_000


def test_include_and_include_fields(http: requests.Session, sandbox: Sandbox) -> None:
    bare = products(http, sandbox, limit=5)["data"][0]
    assert not {"variants", "images", "custom_fields"} & set(bare)
    full = products(http, sandbox, include="variants,images,custom_fields", limit=5)["data"][0]
    assert {"variants", "images", "custom_fields"} <= set(full)
    slim = products(http, sandbox, include="variants", include_fields="name,price", limit=5)["data"][0]
    assert set(slim) == {"id", "name", "price", "variants"}
    fewer = products(http, sandbox, exclude_fields="description,id", limit=5)["data"][0]
    assert "description" not in fewer and "id" in fewer
    capped = products(http, sandbox, include="options", limit=50)
    assert capped["meta"]["pagination"]["per_page"] == 10  # options/modifiers cap a page at 10
    single = http.get(
        f"{sandbox.api_url}/catalog/products/{bare['id']}", params={"include_fields": "sku"}, timeout=30
    )
    assert set(single.json()["data"]) == {"id", "sku"}


def test_auth_and_unknown_store(sandbox: Sandbox) -> None:
    url = f"{sandbox.api_url}/catalog/products"
    assert requests.get(url, timeout=30).status_code == 401
    assert requests.get(url, headers={"X-Auth-Token": "nope"}, timeout=30).status_code == 401
    other = requests.get(
        f"{sandbox.bc_url}/stores/nosuchstore/v3/catalog/products",
        headers={"X-Auth-Token": sandbox.access_token},
        timeout=30,
    )
    assert other.status_code == 404
    assert (
        requests.get(
            f"{sandbox.api_url}/no/such/thing", headers={"X-Auth-Token": sandbox.access_token}, timeout=30
        ).json()["status"]
        == 404
    )


# ------------------------------------------------------------------------------------ mutations and callbacks
def fired(result: Any) -> list[str]:
    return [e["scope"] for e in result.events]


def test_each_mutation_fires_what_bigcommerce_fires() -> None:
    store = Store(300, seed=4)
    heard: list[tuple[str, dict]] = []
    store.add_listener(lambda scope, data: heard.append((scope, data)))
    snap = store.snapshot()["products"]
    simple = next(p for p in snap if not p["variants"][0]["option_values"])["id"]
    complex_ = next(
        p for p in snap if p["variants"][0]["option_values"] and p["inventory_tracking"] == "variant"
    )
    pid, vid = complex_["id"], complex_["variants"][0]["id"]
    cid = store.category_ids()[5]

    assert fired(store.update_product(simple, price=5.5)) == ["store/product/updated"]
    assert fired(store.update_product(simple, inventory_level=9)) == [
        "store/product/updated",
        "store/product/inventory/updated",
    ]
    assert fired(store.update_product(simple, mpn="MPN-1", gtin="123")) == []  # BigCommerce fires nothing
    assert fired(store.set_product_inventory(simple, 3, "relative")) == [
        "store/product/inventory/updated",
        "store/product/updated",
    ]
    assert store.get_product(simple)["inventory_level"] == 12
    assert fired(store.set_total_sold(simple, 1000)) == ["store/product/updated"]  # order noise
    assert fired(store.update_variant(pid, vid, sku="NEW-SKU")) == ["store/sku/updated"]
    assert fired(store.set_variant_inventory(pid, vid, 4)) == ["store/sku/inventory/updated"]
    assert fired(store.record_sale(pid, 1, vid)) == [
        "store/product/updated",
        "store/sku/inventory/order/updated",
    ]
    new_variant = store.create_variant(pid, label="Gold")
    assert fired(new_variant) == ["store/sku/created"]
    assert new_variant.entity is not None
    assert fired(store.delete_variant(pid, new_variant.entity["id"])) == ["store/sku/deleted"]
    created = store.create_product({"name": "Fresh product"}, variants=2)
    assert fired(created) == ["store/product/created", "store/sku/created", "store/sku/created"]
    assert created.entity is not None
    assert fired(store.delete_product(created.entity["id"])) == ["store/product/deleted"]
    assert fired(store.update_category(cid, name="Renamed")) == ["store/category/updated"]
    assert fired(store.update_category(cid, parent_id=0)) == ["store/category/updated"]  # moved to the top
    assert (
        store.category_tree()[[c["category_id"] for c in store.category_tree()].index(cid)]["url"]["path"]
        == "/renamed/"
    )
    assert fired(store.create_category("New one")) == ["store/category/created"]

    before = store.get_product(simple)["date_modified"]
    time.sleep(1.05)
    assert fired(store.add_image(simple, is_thumbnail=True)) == []  # no callback for images
    assert fired(store.set_custom_field(simple, "Origin", "Mars")) == []  # nor for custom fields
    after = store.get_product(simple, ["images", "custom_fields"])
    assert after["date_modified"] > before
    assert [i for i in after["images"] if i["is_thumbnail"]] == [after["images"][-1]]
    assert after["custom_fields"][-1]["value"] == "Mars"

    # payload shapes of the published samples
    assert heard[0] == ("store/product/updated", {"type": "product", "id": simple})
    sku = next(d for s, d in heard if s == "store/sku/updated")
    sku_id = complex_["variants"][0][
        "sku_id"
    ]  # data.id is the SKU id, as in the samples (461 vs variant 509)
    assert (
        sku == {"type": "sku", "id": sku_id, "sku": {"product_id": pid, "variant_id": vid}} and sku_id != vid
    )
    inventory = next(d for s, d in heard if s == "store/product/inventory/updated")
    assert inventory["inventory"] == {"product_id": simple, "method": "absolute", "value": 9}
    sku_inventory = next(d for s, d in heard if s == "store/sku/inventory/updated")
    assert sku_inventory["inventory"] == {
        "product_id": pid,
        "method": "absolute",
        "value": 4,
        "variant_id": vid,
    }
    assert len(heard) == sum(store.event_counts().values())


def test_deleting_a_category_takes_its_subtree_and_assignments() -> None:
    store = Store(500, seed=2)
    parent = next(
        c["category_id"] for c in store.category_tree() if store.category_descendants(c["category_id"])
    )
    doomed = {parent, *store.category_descendants(parent)}
    result = store.delete_category(parent)
    assert {e["data"]["id"] for e in result.events} == doomed
    assert {e["scope"] for e in result.events} == {"store/category/deleted"}
    assert not doomed & {c for p in store.snapshot()["products"] for c in p["categories"]}


def test_mutation_errors(sandbox: Sandbox) -> None:
    client = sandbox.client()
    with pytest.raises(SandboxError) as missing:
        client.update_product(987654321, price=1)
    assert missing.value.status == 404
    with pytest.raises(SandboxError) as bad:
        client.update_product(1, price=-3)
    assert bad.value.status == 422
    with pytest.raises(SandboxError) as unknown:
        client.mutate("explode")
    assert unknown.value.status == 422


def test_put_product_over_http_changes_it_and_fires(http: requests.Session, sandbox: Sandbox) -> None:
    pid = sandbox.store.product_ids()[7]
    seq = sandbox.store.last_event_seq
    response = http.put(
        f"{sandbox.api_url}/catalog/products/{pid}", json={"sale_price": 1.25, "id": 5}, timeout=30
    )
    assert response.status_code == 200 and response.json()["data"]["sale_price"] == 1.25
    assert response.json()["data"]["id"] == pid  # read-only fields are ignored
    assert [(e["scope"], e["data"]["id"]) for e in sandbox.store.events(seq)] == [
        ("store/product/updated", pid)
    ]
    gone = http.delete(f"{sandbox.api_url}/catalog/products/{sandbox.store.product_ids()[-1]}", timeout=30)
    assert gone.status_code == 204


# ------------------------------------------------------------------------------------ hooks
def test_hooks_crud_and_one_per_scope_and_destination(http: requests.Session, sandbox: Sandbox) -> None:
    url = f"{sandbox.api_url}/hooks"
    body = {
        "scope": "store/sku/updated",
        "destination": "https://receiver.example.com/hooks",
        "is_active": True,
        "headers": {"X-Webhook-Secret": "abc"},
    }
    created = http.post(url, json=body, timeout=30)
    assert created.status_code == 200
    hook = created.json()["data"]
    assert {k: hook[k] for k in body} == body and hook["store_hash"] == sandbox.store_hash
    duplicate = http.post(url, json=body, timeout=30)
    assert duplicate.status_code == 422
    other_scope = http.post(url, json={**body, "scope": "store/sku/created"}, timeout=30)
    assert other_scope.status_code == 200
    assert (
        http.post(
            url, json={**body, "destination": "https://receiver.example.com:8443/x"}, timeout=30
        ).status_code
        == 422
    )  # only port 443
    assert (
        http.post(url, json={**body, "destination": "http://receiver.example.com/x"}, timeout=30).status_code
        == 422
    )  # only https
    assert (
        http.post(url, json={**body, "destination": "http://127.0.0.1:8123/x"}, timeout=30).status_code == 200
    )  # sandbox relaxation: loopback, any port
    listed = http.get(url, params={"scope": "store/sku/updated"}, timeout=30).json()["data"]
    assert [h["id"] for h in listed if h["destination"] == body["destination"]] == [hook["id"]]
    clash = http.put(
        f"{url}/{other_scope.json()['data']['id']}", json={"scope": "store/sku/updated"}, timeout=30
    )
    assert clash.status_code == 422  # an update cannot create a duplicate either
    off = http.put(f"{url}/{hook['id']}", json={"is_active": False}, timeout=30).json()["data"]
    assert off["is_active"] is False and off["updated_at"] >= hook["updated_at"]
    admin = http.get(f"{url}/admin", timeout=30).json()["data"]
    assert hook["id"] in {h["id"] for h in admin["hooks_list"]}
    assert http.delete(f"{url}/{hook['id']}", timeout=30).json()["data"]["id"] == hook["id"]
    assert http.get(f"{url}/{hook['id']}", timeout=30).status_code == 404
    for h in sandbox.store.list_hooks():
        sandbox.store.delete_hook(h["id"])


def test_deactivated_hooks_show_in_admin(http: requests.Session, sandbox: Sandbox) -> None:
    hook = sandbox.store.create_hook("sandbox-client-id", "store/product/created", "https://a.example.com/h")
    sandbox.store.deactivate_hook(hook["id"])  # what the dispatcher does after the last retry
    admin = http.get(f"{sandbox.api_url}/hooks/admin", timeout=30).json()["data"]
    assert [h["status"] for h in admin["hooks_list"] if h["id"] == hook["id"]] == ["deactivated"]
    sandbox.store.delete_hook(hook["id"])


# ------------------------------------------------------------------------------------ rate limiting
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_quota_headers_and_window_reset() -> None:
    clock = FakeClock()
    limiter = RateLimiter(plan="standard", window_seconds=30, clock=clock)
    tickets = []
    for _ in range(150):
        ticket = limiter.enter("s", "GET /x")
        limiter.leave(ticket)
        tickets.append(ticket)
    assert all(t.allowed for t in tickets)
    assert [t.headers["X-Rate-Limit-Requests-Left"] for t in tickets[:2]] == ["149", "148"]
    assert tickets[-1].headers == {
        "X-Rate-Limit-Time-Window-Ms": "30000",
        "X-Rate-Limit-Time-Reset-Ms": "30000",
        "X-Rate-Limit-Requests-Quota": "150",
        "X-Rate-Limit-Requests-Left": "0",
    }
    clock.now += 10
    refused = limiter.enter("s", "GET /x")
    assert not refused.allowed and refused.reason == "quota"
    assert refused.headers["X-Rate-Limit-Time-Reset-Ms"] == "20000"
    assert limiter.enter("other-store", "GET /x").allowed  # one quota per store
    clock.now += 20
    again = limiter.enter("s", "GET /x")
    assert again.allowed and again.headers["X-Rate-Limit-Requests-Left"] == "149"
    limiter.leave(again)
    limiter.configure(plan="pro")
    pro = limiter.enter("s", "GET /x")
    limiter.leave(pro)
    assert pro.headers["X-Rate-Limit-Requests-Quota"] == "450"
    limiter.configure(plan="unlimited")
    for _ in range(2000):
        ticket = limiter.enter("s", "GET /y")
        assert ticket.allowed and int(ticket.headers["X-Rate-Limit-Requests-Quota"]) > 10**6
        limiter.leave(ticket)


def test_rate_limiter_concurrency_cap_per_endpoint() -> None:
    limiter = RateLimiter(plan="unlimited", concurrency=3, clock=FakeClock())
    held = [limiter.enter("s", "GET /catalog/products") for _ in range(3)]
    assert all(t.allowed for t in held)
    excess = limiter.enter("s", "GET /catalog/products")
    assert not excess.allowed and excess.reason == "concurrency"
    assert limiter.enter("s", "GET /catalog/brands").allowed  # another endpoint has its own cap
    limiter.leave(held[0])
    assert limiter.enter("s", "GET /catalog/products").allowed


def test_rate_limit_over_http_with_a_compressed_window() -> None:
    with start_sandbox(products=20, seed=1, plan="standard", window_seconds=1.5) as sb:
        client = sb.client()
        client.ratelimit(quota=5)
        session = requests.Session()
        session.trust_env = False
        session.headers["X-Auth-Token"] = sb.access_token
        url = f"{sb.api_url}/catalog/brands"
        answers = [session.get(url, timeout=30) for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert [a.headers["X-Rate-Limit-Requests-Left"] for a in answers] == ["4", "3", "2", "1", "0", "0"]
        limited = answers[-1]
        assert limited.json()["status"] == 429
        assert limited.headers["X-Rate-Limit-Requests-Quota"] == "5"
        assert limited.headers["X-Rate-Limit-Time-Window-Ms"] == "1500"
        client.snapshot()  # control requests are never limited nor counted
        time.sleep(int(limited.headers["X-Rate-Limit-Time-Reset-Ms"]) / 1000 + 0.05)
        assert session.get(url, timeout=30).status_code == 200
        counts = client.counters()["calls"]["GET /catalog/brands"]
        assert counts == {"200": 6, "429": 1}
        # concurrency: BigCommerce takes its time (latency), 6 parallel requests to one endpoint
        client.ratelimit(plan="unlimited", concurrency=2)
        client.config(latency_seconds=0.4)
        with ThreadPoolExecutor(6) as pool:
            statuses = list(
                pool.map(
                    lambda _: requests.get(
                        url, headers={"X-Auth-Token": sb.access_token}, timeout=30
                    ).status_code,
                    range(6),
                )
            )
        client.config(latency_seconds=0)
        assert statuses.count(200) >= 2 and statuses.count(429) >= 1
        assert client.ratelimit()["refused"]["concurrency"] == statuses.count(429)


# ------------------------------------------------------------------------------------ storms and live changes
def test_storm_fires_exactly_n_callbacks_about_m_products() -> None:
    store = Store(3000, seed=5)
    heard: Counter[str] = Counter()
    store.add_listener(lambda scope, data: heard.update([scope]))
    before = {p["id"]: p for p in store.snapshot()["products"]}
    report = run_storm(store, callbacks=2500, products=500, seed=8)
    assert report["callbacks"] == 2500 == sum(heard.values())
    assert report["products"] == 500 and len(report["product_ids"]) == 500
    assert report["changes"] > 500  # duplicates
    assert set(report["by_scope"]) >= {
        "store/product/updated",
        "store/sku/updated",
        "store/sku/inventory/updated",
        "store/product/inventory/updated",
    }
    after = {p["id"]: p for p in store.snapshot()["products"]}
    changed = {pid for pid in before if before[pid] != after[pid]}
    assert changed <= set(report["product_ids"]) and len(changed) > 450  # real changes, to those products
    assert (
        run_storm(Store(3000, seed=5), callbacks=2500, products=500, seed=8)["by_scope"] == report["by_scope"]
    )


def test_storm_fire_only_changes_nothing() -> None:
    store = Store(400, seed=6)
    before = store.snapshot()
    report = run_storm(store, callbacks=300, products=50, seed=2, fire_only=True)
    assert report["callbacks"] == 300 == sum(store.event_counts().values())
    assert store.snapshot() == before


def test_storm_over_the_control_api(sandbox: Sandbox) -> None:
    client = SandboxClient(sandbox.bc_url, sandbox.ometria_url)
    seq = client.events()["last_seq"]
    report = client.storm(callbacks=120, products=30, seed=4)
    assert report["callbacks"] == 120 and report["products"] == 30
    assert len(client.events(seq)["events"]) == 120


def test_live_activity_keeps_changing_the_store() -> None:
    from sandbox.live import start_live

    store = Store(100, seed=7)
    live = start_live(store, seed=1, interval=(0.01, 0.02))
    deadline = time.time() + 10
    while live.changes < 30 and time.time() < deadline:
        time.sleep(0.05)
    live.stop()
    assert live.changes >= 30 and store.last_event_seq > 0


def test_control_client_round_trip(sandbox: Sandbox) -> None:
    client = sandbox.client()
    snapshot = client.snapshot()
    assert (
        snapshot["store_hash"] == sandbox.store_hash
        and len(snapshot["products"]) == sandbox.store.product_count()
    )
    result = client.mutate(
        "set_custom_field", product_id=snapshot["products"][0]["id"], name="Care", value="Dry"
    )
    assert result["events"] == [] and result["entity"]["value"] == "Dry"
    many = client.mutate_many(
        [{"op": "set_total_sold", "product_id": snapshot["products"][1]["id"], "value": 3}]
    )
    assert [e["scope"] for e in many[0]["events"]] == ["store/product/updated"]
    assert client.records() == {} and client.ometria_config()["api_key_set"] is True
    assert client.wait_deliveries(5)["idle"] is True


# ---------------------------------------------------------------- pages at size (figures: make bench)
def test_a_generated_catalogue_answers_full_pages_of_exactly_the_ids_asked_for() -> None:
    """bench/catalogue.py measures generation and page times at 100,000 products; this checks what it
    measures is right (every page holds exactly the ids asked for) at a size the suite can afford."""
    from bench.catalogue import page_latencies

    store = Store(5_000, seed=1)
    assert store.wait_ready(120)
    assert len(page_latencies(store, rounds=4)) == 4


def test_threads_may_mutate_and_read_at_once() -> None:
    store = Store(200, seed=8)
    ids = store.product_ids()
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for k in range(100):
                store.update_product(ids[(offset + k) % len(ids)], price=float(k + 1))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n * 7,)) for n in range(4)]
    for t in threads:
        t.start()
    for _ in range(20):
        store.query_products(limit=250, includes=("variants", "images"))
    for t in threads:
        t.join()
    assert not errors and sum(store.event_counts().values()) == 400


def test_python_m_sandbox_serves_until_interrupted(tmp_path: Any) -> None:
    import signal
    import subprocess
    import sys

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [
        sys.executable,
        "-m",
        "sandbox",
        "--products",
        "20",
        "--bc-port",
        "0",
        "--ometria-port",
        "0",
        "--no-live",
        "--hook-destination",
        "http://127.0.0.1:9/webhooks/bigcommerce",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(lines)
        api = next(line.split()[2] for line in lines if line.strip().startswith("BigCommerce API"))
        assert "sandbox-access-token" in text and "13 registered" in text
        response = requests.get(
            f"{api}/stores/sandbox1/v3/catalog/products",
            timeout=30,
            headers={"X-Auth-Token": "sandbox-access-token"},
        )
        assert response.status_code == 200 and response.json()["meta"]["pagination"]["total"] == 20
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0
