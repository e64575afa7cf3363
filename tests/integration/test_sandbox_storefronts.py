"""Multi-storefront in the sandbox store: a default store looks exactly as before (one channel, one currency,
no price list, every product on channel 1); with channels and price lists, each channel has its own site,
currency, tree and products; price-list records filter and page as the API does; and every change fires the
callbacks BigCommerce documents, delivered to the hooks registered for them."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from sandbox.server import Sandbox, start_sandbox
from sandbox.store import Invalid, NotFound, Store
from sandbox.store.currencies import convert

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def msf() -> Iterator[Sandbox]:
    sb = start_sandbox(
        products=400,
        seed=8,
        plan="unlimited",
        time_scale=0.001,
        currency="GBP",
        channels=2,
        channel_currencies={2: "EUR"},
        price_lists=4,
    )
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def http(msf: Sandbox) -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False
    session.headers["X-Auth-Token"] = msf.access_token
    yield session
    session.close()


def call(http: requests.Session, sb: Sandbox, method: str, path: str, status: int = 200, **kw: Any) -> Any:
    response = http.request(method, f"{sb.api_url}{path}", timeout=30, **kw)
    assert response.status_code == status, response.text
    return response.json() if response.content else None


class Collector:
    """A receiver on loopback that keeps every callback body."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self, threaded=True, request_handler=_Quiet)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/bigcommerce"

    def __call__(self, environ: dict, start_response: Any) -> Any:
        with self.lock:
            self.bodies.append(json.loads(Request(environ).get_data()))
        return Response(status=200)(environ, start_response)

    def scopes(self) -> list[tuple[str, Any]]:
        with self.lock:
            return [(b["scope"], b["data"]) for b in self.bodies]


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


# ------------------------------------------------------------------------------------ default store
def test_a_default_store_has_one_channel_one_currency_no_price_list() -> None:
    store = Store(150, seed=4)
    assert [(c["id"], c["currencies"]) for c in store.channels()] == [
        (1, {"channel_id": 1, "enabled_currencies": ["USD"], "default_currency": "USD"})
    ]
    assert store.trees() == [{"id": 1, "name": "Default tree", "channels": [1]}]
    assert [(c["currency_code"], c["is_default"]) for c in store.currencies()] == [("USD", True)]
    assert store.price_lists() == [] and store.price_list_assignments() == []
    assert store.channel_product_ids(1) == store.product_ids()
    assert {tuple(p["channels"]) for p in store.query_products(limit=150, includes=("channels",))[1]} == {
        (1,)
    }
    assert {c["tree_id"] for c in store.category_tree()} == {1}
    assert store.site(1)["url"] == store.site_url
    assert store.effective_price_list(1) is None
    created = store.create_product({"name": "Lands on channel 1"})
    assert created.entity is not None and store.get_product(created.entity["id"], ["channels"])[
        "channels"
    ] == [1]
    category = store.create_category("One tree only")
    assert [e["scope"] for e in category.events] == ["store/category/created"]  # no channel callbacks


def test_storefronts_draw_nothing_from_the_catalogue_stream() -> None:
    """The same seed gives the same products with or without storefronts (bar tree-2 categories)."""
    plain = Store(200, seed=6).snapshot()["products"]
    multi = Store(200, seed=6, channels=2, price_lists=2)
    tree_two = {c["category_id"] for c in multi.category_tree() if c["tree_id"] == 2}
    for a, b in zip(plain, multi.snapshot()["products"], strict=True):
        assert a == {**b, "categories": [c for c in b["categories"] if c not in tree_two]}


# ------------------------------------------------------------------------------------ multi-storefront
def test_channels_have_their_own_site_currency_tree_and_products(
    http: requests.Session, msf: Sandbox
) -> None:
    store = msf.store
    one, two = set(store.channel_product_ids(1)), set(store.channel_product_ids(2))
    everything = set(store.product_ids())
    assert one - two and two - one and one & two and everything - one - two  # every kind of product
    assert store.site(1)["url"] == store.site_url and store.site(2)["url"].startswith("https://store2.")
    trees = call(http, msf, "GET", "/catalog/trees", params={"channel_id:in": "2"})["data"]
    assert [(t["id"], t["channels"]) for t in trees] == [(2, [2])]
    tree_two = {c["category_id"] for c in store.category_tree() if c["tree_id"] == 2}
    assert tree_two
    legacy = call(http, msf, "GET", "/catalog/categories", params={"limit": 250})["data"]
    assert not tree_two & {c["id"] for c in legacy}  # the legacy endpoint is the default tree's
    listed = call(http, msf, "GET", "/catalog/trees/categories", params={"tree_id:in": "2", "limit": 250})
    assert {c["category_id"] for c in listed["data"]} == tree_two
    for product in store.query_products(limit=400, includes=("channels",))[1]:
        assert product["channels"] == sorted(c for c, ids in ((1, one), (2, two)) if product["id"] in ids)
        if set(product["categories"]) & tree_two:
            assert product["id"] in two  # only channel 2's products sit in channel 2's tree
    rows = call(
        http, msf, "GET", "/catalog/products/channel-assignments", params={"channel_id:in": "2", "limit": 250}
    )
    assert rows["meta"]["pagination"]["total"] == len(two) and {r["channel_id"] for r in rows["data"]} == {2}
    currencies = {c["currency_code"]: c for c in store.currencies()}
    assert set(currencies) == {"GBP", "EUR"} and currencies["GBP"]["is_default"]


def test_price_list_records_filter_and_page_like_the_api(http: requests.Session, msf: Sandbox) -> None:
    store = msf.store
    everything = store.price_records(1)
    assert {r["currency"] for r in everything} == {"eur", "gbp"}  # a multi-currency list
    some = sorted({r["product_id"] for r in everything})[:5]
    path = "/pricelists/1/records"
    by_product = call(
        http, msf, "GET", path, params={"product_id:in": ",".join(map(str, some)), "limit": 250}
    )
    assert {r["product_id"] for r in by_product["data"]} == set(some)
    assert len(by_product["data"]) == sum(r["product_id"] in some for r in everything)
    euros = call(
        http, msf, "GET", path, params={"product_id:in": ",".join(map(str, some)), "currency": "EUR"}
    )
    assert euros["data"] and {r["currency"] for r in euros["data"]} == {"eur"}
    variant = everything[0]["variant_id"]
    by_variant = call(http, msf, "GET", path, params={"variant_id:in": str(variant)})["data"]
    assert {r["variant_id"] for r in by_variant} == {variant}
    capped = call(http, msf, "GET", path, params={"limit": 5000})
    assert capped["meta"]["pagination"]["per_page"] == 250 and len(capped["data"]) == min(
        250, len(everything)
    )
    pages = []
    for page in range(1, 100):
        body = call(http, msf, "GET", path, params={"limit": 40, "page": page})
        assert "cursor_pagination" not in body["meta"]  # page given: offset pagination only
        pages += body["data"]
        if page >= body["meta"]["pagination"]["total_pages"]:
            break
    assert pages == everything
    walked, params = [], {"limit": 40}
    while True:
        body = call(http, msf, "GET", path, params=params)
        assert "pagination" not in body["meta"] or "after" not in params
        walked += body["data"]
        links = body["meta"]["cursor_pagination"]["links"]
        if "next" not in links:
            break
        params = {"limit": 40, "after": links["next"].split("after=")[1]}
    assert walked == everything
    first = call(http, msf, "GET", path, params={"limit": 40})
    second = call(
        http,
        msf,
        "GET",
        path,
        params={"limit": 40, "after": first["meta"]["cursor_pagination"]["end_cursor"]},
    )
    assert second["data"] == everything[40:80]
    previous = second["meta"]["cursor_pagination"]["links"]["previous"].split("before=")[1]
    back = call(http, msf, "GET", path, params={"limit": 40, "before": previous})
    assert back["data"] == first["data"] == everything[:40] and "pagination" not in back["meta"]


def test_the_price_list_that_applies_follows_the_documented_order(msf: Sandbox) -> None:
    store = msf.store
    assert store.effective_price_list(2) == 1  # channel 2's own list, no group
    assert store.effective_price_list(1) is None  # channel 1's no-group list ("Spring Sale") is inactive
    assert store.effective_price_list(1, customer_group_id=2) == 3  # channel + group beats group alone
    assert store.effective_price_list(2, customer_group_id=1) == 2  # group without channel beats channel
    assert store.effective_price_list(2, customer_group_id=5) == 1


def test_every_storefront_change_fires_its_callbacks_to_the_hooks(
    http: requests.Session, msf: Sandbox
) -> None:
    store = msf.store
    collector = Collector()
    hooks = [
        call(
            http,
            msf,
            "POST",
            "/hooks",
            json={"scope": scope, "destination": collector.url, "is_active": True},
        )
        for scope in (
            "store/channel/2/product/assigned",
            "store/channel/2/product/unassigned",
            "store/channel/2/category/*",
            "store/priceList/*",
            "store/product/metafield/*",
        )
    ]
    try:
        outsider = next(p for p in store.channel_product_ids(1) if p not in store.channel_product_ids(2))
        call(
            http,
            msf,
            "PUT",
            "/catalog/products/channel-assignments",
            204,
            json=[{"product_id": outsider, "channel_id": 2}],
        )
        call(
            http,
            msf,
            "PUT",
            "/catalog/products/channel-assignments",
            204,
            json=[{"product_id": outsider, "channel_id": 2}],
        )
        call(
            http,
            msf,
            "DELETE",
            "/catalog/products/channel-assignments",
            204,
            params={"product_id:in": str(outsider), "channel_id:in": "2"},
        )
        record = store.price_records(1, currencies=["EUR"])[0]
        call(
            http,
            msf,
            "PUT",
            "/pricelists/1/records",
            json=[{"variant_id": record["variant_id"], "currency": "EUR", "price": 9.5}],
        )
        call(http, msf, "PUT", f"/pricelists/1/records/{record['variant_id']}/EUR", json={"price": 9.0})
        call(
            http,
            msf,
            "DELETE",
            "/pricelists/1/records",
            204,
            params={"variant_id:in": str(record["variant_id"]), "currency": "EUR"},
        )
        call(http, msf, "PUT", "/pricelists/4", json={"name": "Spring Sale", "active": True})
        call(http, msf, "PUT", "/pricelists/4", json={"name": "Spring Sale", "active": False})
        call(http, msf, "PUT", "/pricelists/2/assignments", json={"customer_group_id": 4})
        call(http, msf, "DELETE", "/pricelists/assignments", 204, params={"customer_group_id": "4"})
        made = call(
            http,
            msf,
            "POST",
            "/catalog/trees/categories",
            201,
            json=[{"name": "Only in Europe", "tree_id": 2}],
        )
        added = made["data"][0]["category_id"]
        call(http, msf, "PUT", f"/catalog/products/{outsider}", json={"categories": [added]})
        metafield = call(
            http,
            msf,
            "POST",
            f"/catalog/products/{outsider}/metafields",
            json={"namespace": "ometria", "key": "tag", "value": "new", "permission_set": "read"},
        )
        call(http, msf, "DELETE", f"/catalog/products/{outsider}/metafields/{metafield['data']['id']}", 204)
        assert msf.dispatcher.wait_idle(30)
    finally:
        for hook in hooks:
            call(http, msf, "DELETE", f"/hooks/{hook['data']['id']}")
        collector.server.shutdown()
    got = sorted(collector.scopes(), key=json.dumps)  # delivered by parallel threads: in any order
    ref = {"price_list_id": 1, "variant_id": record["variant_id"], "currency": "EUR"}
    assert got == sorted(
        [
            (
                "store/channel/2/product/assigned",
                {"product_id": outsider},
            ),  # once: the second PUT changed nothing
            ("store/channel/2/product/unassigned", {"product_id": outsider}),
            ("store/priceList/records/updated", [ref]),
            ("store/priceList/record/updated", ref),
            ("store/priceList/records/deleted", [ref]),
            ("store/priceList/updated", {"price_list_id": 4}),
            ("store/priceList/activated", {"price_list_id": 4}),
            ("store/priceList/updated", {"price_list_id": 4}),
            ("store/priceList/deactivated", {"price_list_id": 4}),
            ("store/priceList/assignment/updated", {"price_list_id": 2, "customer_group_id": 4}),
            ("store/priceList/assignment/deleted", {"price_list_id": 2, "customer_group_id": 4}),
            ("store/channel/2/category/created", {"category_id": added, "tree_id": 2}),
            ("store/channel/2/category/product/assigned", {"product_id": outsider}),
            (
                "store/product/metafield/created",
                {
                    "metafield_id": metafield["data"]["id"],
                    "resource_id": str(outsider),
                    "resource_type": "product",
                },
            ),
            (
                "store/product/metafield/deleted",
                {
                    "metafield_id": metafield["data"]["id"],
                    "resource_id": str(outsider),
                    "resource_type": "product",
                },
            ),
        ],
        key=json.dumps,
    )
    assert store.price_records(1, variant_ids=[record["variant_id"]], currencies=["EUR"]) == []


def test_metafields_filter_by_namespace_key_and_date_modified(http: requests.Session, msf: Sandbox) -> None:
    store = msf.store
    every = call(http, msf, "GET", "/catalog/products/metafields", params={"limit": 250})
    assert every["meta"]["pagination"]["total"] == len(store.metafields())
    ometria = call(
        http, msf, "GET", "/catalog/products/metafields", params={"namespace": "ometria", "limit": 250}
    )
    assert ometria["data"] and {m["namespace"] for m in ometria["data"]} == {"ometria"}
    keyed = call(
        http, msf, "GET", "/catalog/products/metafields", params={"key:in": "season,care", "limit": 250}
    )
    assert keyed["data"] and {m["key"] for m in keyed["data"]} <= {"season", "care"}
    since = store.clock() - 1
    pid = store.product_ids()[7]
    changed = store.set_metafield(pid, "ometria", "season", "AW26").entity
    assert changed is not None
    recent = call(http, msf, "GET", "/catalog/products/metafields", params={"date_modified:min": int(since)})
    assert [m["id"] for m in recent["data"]] == [changed["id"]]
    assert (
        store.set_metafield(pid, "ometria", "season", "SS27").entity["id"] == changed["id"]
    )  # same key: updated


def test_product_fields_personalisation_uses_have_variety() -> None:
    products = Store(3000, seed=2).snapshot()["products"]
    reviewed = [p for p in products if p["reviews_count"]]
    assert reviewed and len(reviewed) < len(products)
    assert all(p["reviews_count"] <= p["reviews_rating_sum"] <= 5 * p["reviews_count"] for p in reviewed)
    preorder = [p for p in products if p["availability"] == "preorder"]
    assert any(p["preorder_release_date"] for p in preorder) and any(
        not p["preorder_release_date"] for p in preorder
    )
    assert all(p["preorder_release_date"] is None for p in products if p["availability"] != "preorder")
    hidden = [p for p in products if p["is_price_hidden"]]
    assert hidden and all(p["availability"] == "disabled" and p["price_hidden_label"] for p in hidden)
    levels = {p["inventory_level"] for p in products if p["inventory_tracking"] == "product"}
    assert 0 in levels and len(levels) > 50


def test_deleting_a_product_or_variant_removes_its_assignments_records_and_metafields() -> None:
    store = Store(300, seed=3, channels=2, price_lists=2)
    with_records = {r["product_id"] for r in store.price_records(2)}
    pid = next(p for p in store.channel_product_ids(2) if p in with_records)
    store.set_metafield(pid, "x", "y", "z")
    store.delete_product(pid)
    assert pid not in store.channel_product_ids(1) + store.channel_product_ids(2)
    assert not store.price_records(2, product_ids=[pid]) and not store.metafields(product_ids=[pid])
    complex_pid = next(
        p for p in {r["product_id"] for r in store.price_records(2)} if store.product_has_option_variants(p)
    )
    vid = next(r["variant_id"] for r in store.price_records(2, product_ids=[complex_pid]))
    store.delete_variant(complex_pid, vid)
    assert not store.price_records(2, variant_ids=[vid])


def test_storefront_mutations_check_their_input() -> None:
    store = Store(100, seed=1, channels=2, price_lists=1)
    with pytest.raises(NotFound):
        store.assign_products(7, [1])
    with pytest.raises(NotFound):
        store.set_price_record(1, 999_999_991, "USD", price=1.0)
    with pytest.raises(Invalid):
        store.set_price_record(
            1, store.price_records(1)[0]["variant_id"], "EUR", price=1.0
        )  # not a store currency
    with pytest.raises(Invalid):
        store.assign_price_list(1)
    before = store.price_records(1)
    good = {"variant_id": before[0]["variant_id"], "currency": "USD", "price": 1.0}
    with pytest.raises(Invalid):  # a batch is checked whole: nothing of it lands
        store.upsert_price_records(1, [good, {"variant_id": before[0]["variant_id"], "currency": "USD"}])
    assert store.price_records(1) == before
    with pytest.raises(Invalid):
        store.create_category(
            "Cross tree",
            parent_id=next(c["category_id"] for c in store.category_tree() if c["tree_id"] == 2),
            tree_id=1,
        )
    with pytest.raises(Invalid):
        store.create_price_list(store.price_lists()[0]["name"])
    with pytest.raises(ValueError):
        Store(10, channels=6)
    alone = Store(60, seed=2, price_lists=4)  # one channel: still one list per (channel, group)
    keys = [(a.get("channel_id"), a.get("customer_group_id")) for a in alone.price_list_assignments()]
    assert len(keys) == len(set(keys)) == 4 and alone.effective_price_list(1) == 1


def test_conversion_rounds_half_away_from_zero_to_the_currency_places() -> None:
    assert convert(10.0, 1.1646, 2) == 11.65
    assert convert(0.125, 1.0, 2) == 0.13
    assert convert(19.99, 149.5, 0) == 2989.0
    jpy = Store(50, seed=1, currency="GBP", channels=2, channel_currencies={2: "JPY"}, price_lists=1)
    assert {c["currency_code"]: c["decimal_places"] for c in jpy.currencies()} == {"GBP": 2, "JPY": 0}
    assert all(float(r["price"]).is_integer() for r in jpy.price_records(1, currencies=["JPY"]))


def test_the_control_api_applies_storefront_ops_and_registers_every_scope(msf: Sandbox) -> None:
    client = msf.client()
    pid = msf.store.channel_product_ids(2)[0]
    result = client.mutate("unassign_products", channel_id=2, product_ids=[pid])
    assert result["events"] == [{"scope": "store/channel/2/product/unassigned", "data": {"product_id": pid}}]
    client.mutate("assign_products", channel_id=2, product_ids=[pid])
    assert pid in msf.store.channel_product_ids(2)
    snapshot = client.snapshot()["storefronts"]
    assert [c["id"] for c in snapshot["channels"]] == [1, 2] and len(snapshot["price_lists"]) == 4
    assert pid in snapshot["channels"][1]["product_ids"]
    scopes = set(msf.all_scopes)
    assert {
        "store/channel/2/product/assigned",
        "store/priceList/records/updated",
        "store/product/metafield/created",
    } <= scopes


# ------------------------------------------------------------------------------------ two stores
def test_two_stores_each_with_its_own_channels_hooks_and_ometria_account() -> None:
    """Two sandboxes side by side: separate store hashes, channels, quotas, callbacks and Ometria accounts."""
    first = start_sandbox(
        products=60, seed=1, plan="unlimited", time_scale=0.001, store_hash="storea", ometria_key="key-a",
        channels=2, channel_currencies={2: "EUR"}, price_lists=1,
    )  # fmt: skip
    second = start_sandbox(
        products=40, seed=2, plan="standard", time_scale=0.001, store_hash="storeb", ometria_key="key-b",
        currency="GBP",
    )  # fmt: skip
    collector = Collector()
    try:
        assert [c["id"] for c in first.store.channels()] == [1, 2] and [
            c["id"] for c in second.store.channels()
        ] == [1]
        for sb in (first, second):
            sb.register_hooks(collector.url, sb.all_scopes)
        session = requests.Session()
        session.trust_env = False
        wrong_store = session.get(
            f"{first.bc_url}/stores/storeb/v3/catalog/products",
            headers={"X-Auth-Token": first.access_token},
            timeout=30,
        )
        assert wrong_store.status_code == 404  # one server, one store hash
        first.store.unassign_products(2, [first.store.channel_product_ids(2)[0]])
        second.store.update_product(second.store.product_ids()[0], price=1.5)
        assert first.dispatcher.wait_idle(30) and second.dispatcher.wait_idle(30)
        producers = {(b["producer"], b["scope"].split("/")[1]) for b in collector.bodies}
        assert producers == {("stores/storea", "channel"), ("stores/storeb", "product")}
        pushed = session.post(
            f"{first.ometria_url}/v2/push",
            json=[{"@type": "product", "id": "A1", "title": "a"}],
            headers={"X-Ometria-Auth": "key-a"},
            timeout=30,
        )
        assert pushed.status_code == 200
        refused = session.post(
            f"{second.ometria_url}/v2/push",
            json=[{"@type": "product", "id": "A1"}],
            headers={"X-Ometria-Auth": "key-a"},
            timeout=30,
        )
        assert refused.status_code == 403  # store B's account does not take store A's key
        assert set(first.account.records) == {"A1"} and not second.account.records
        assert first.limiter.state("storea")["quota"] != second.limiter.state("storeb")["quota"]
    finally:
        collector.server.shutdown()
        first.stop()
        second.stop()


def test_several_stores_behind_one_bigcommerce_host_and_one_ometria_host() -> None:
    from sandbox.multi import start_multi_sandbox

    multi = start_multi_sandbox(
        {
            "storea": {"channels": 2, "channel_currencies": {2: "EUR"}},
            "storeb": {"products": 30, "currency": "GBP"},
        },
        products=50, plan="unlimited", time_scale=0.001,
    )  # fmt: skip
    try:
        session = requests.Session()
        session.trust_env = False
        a, b = multi["storea"], multi["storeb"]
        for sb, channels, currency in ((a, [1, 2], "USD"), (b, [1], "GBP")):
            body = session.get(
                f"{multi.api_url(sb.store_hash)}/channels",
                headers={"X-Auth-Token": sb.access_token},
                timeout=30,
            )
            assert body.status_code == 200 and [c["id"] for c in body.json()["data"]] == channels
            profile = session.get(
                f"{multi.bc_url}/stores/{sb.store_hash}/v2/store",
                headers={"X-Auth-Token": sb.access_token},
                timeout=30,
            )
            assert profile.json()["currency"] == currency
        assert session.get(f"{multi.bc_url}/stores/nosuch/v3/channels", timeout=30).status_code == 404
        for sb, rid in ((a, "A1"), (b, "B1")):  # the same URL, the key picks the account
            pushed = session.post(
                f"{multi.ometria_url}/v2/push",
                json=[{"@type": "product", "id": rid}],
                headers={"X-Ometria-Auth": sb.ometria_key},
                timeout=30,
            )
            assert pushed.status_code == 200, pushed.text
        refused = session.post(
            f"{multi.ometria_url}/v2/push",
            json=[{"@type": "product", "id": "C1"}],
            headers={"X-Ometria-Auth": "nobody"},
            timeout=30,
        )
        assert refused.status_code == 403
        assert set(a.account.records) == {"A1"} and set(b.account.records) == {"B1"}
        client = multi.client("storeb")
        assert len(client.snapshot()["products"]) == 30 and set(client.records()) == {"B1"}
        before = a.store.get_product(1)["price"]
        assert client.mutate("update_product", product_id=1, fields={"price": before + 1})["events"]
        assert b.store.get_product(1)["price"] == before + 1 and a.store.get_product(1)["price"] == before
    finally:
        multi.stop()


def test_live_activity_makes_storefront_changes_only_in_a_store_with_storefronts() -> None:
    import random

    from sandbox.live import random_change

    storefront_kinds = {"assign", "unassign", "price_record", "metafield"}
    for store, expected in ((Store(80, seed=2), False), (Store(80, seed=2, channels=2, price_lists=1), True)):
        rng, kinds = random.Random(5), set()
        for _ in range(200):
            with contextlib.suppress(NotFound, Invalid):  # a product deleted meanwhile, as live tolerates
                kinds.add(random_change(store, rng)[0])
        assert bool(kinds & storefront_kinds) is expected, kinds
        assert expected is False or storefront_kinds <= kinds


def test_the_sandbox_command_serves_storefronts_from_its_flags() -> None:
    import os
    import signal
    import subprocess
    import sys

    from click.testing import CliRunner

    from sandbox.server import sandbox_command

    bad = CliRunner().invoke(sandbox_command, ["--channel-currency", "EUR"])
    assert bad.exit_code == 2 and "expected ID=CODE" in bad.output
    args = ["--products", "20", "--channels", "2", "--channel-currency", "2=eur", "--currency", "GBP"]
    args += ["--price-lists", "1", "--bc-port", "0", "--ometria-port", "0", "--no-live"]
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        output = "".join(lines)
        assert (
            "storefronts      1: Sandbox Storefront (GBP), 2: Sandbox Europe (EUR); 1 price list(s)" in output
        )
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def test_the_sandbox_client_drives_storefront_changes(msf: Sandbox) -> None:
    client = msf.client()
    pid = next(p for p in msf.store.channel_product_ids(1) if p not in msf.store.channel_product_ids(2))
    assert client.assign_products(2, [pid])["events"][0]["scope"] == "store/channel/2/product/assigned"
    assert client.unassign_products(2, [pid])["events"][0]["scope"] == "store/channel/2/product/unassigned"
    record = client.storefronts()["price_records"]["1"][0]
    result = client.set_price_record(1, record["variant_id"], record["currency"], price=record["price"] + 1)
    assert result["entity"]["price"] == record["price"] + 1
    batch = client.upsert_price_records(
        1, [{"variant_id": record["variant_id"], "currency": "GBP", "price": 3.0}]
    )
    assert batch["events"][0]["scope"].startswith("store/priceList/records/")
    made = client.create_category("Client made", tree_id=2)
    assert made["entity"]["tree_id"] == 2
    assert [e["scope"] for e in made["events"]] == [
        "store/category/created",
        "store/channel/2/category/created",
    ]
