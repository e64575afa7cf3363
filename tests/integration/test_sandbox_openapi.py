"""The sandbox store answers in BigCommerce's shapes: every response checked against the official OpenAPI
schemas (reference/bigcommerce/openapi), and the callbacks it fires against the official sample payloads."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from sandbox.catalog import CATALOG_SCOPES
from sandbox.server import Sandbox, start_sandbox
from tests.reference import (
    component_schema,
    openapi_spec,
    patched,
    require_reference,
    response_schema,
    sample_payloads,
    undeclared_keys,
    validate,
)

pytestmark = pytest.mark.timeout(120)

PRODUCTS = "products_catalog.v3.yml"
VARIANTS = "product-variants_catalog.v3.yml"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    require_reference("bigcommerce", "openapi")
    sb = start_sandbox(products=400, seed=11, plan="unlimited", time_scale=0.001)
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def http(sandbox: Sandbox) -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False
    session.headers["X-Auth-Token"] = sandbox.access_token
    yield session
    session.close()


def get(http: requests.Session, sandbox: Sandbox, path: str, status: int = 200, **params: Any) -> Any:
    response = http.get(f"{sandbox.api_url}{path}", params=params, timeout=30)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def with_errata(schema: Any) -> Any:
    """The spec's one self-contradiction met here: base_variant_id is typed integer while its own description
    says "This value is `null` for complex products" (and BigCommerce answers null); allow that null."""
    if isinstance(schema, dict):
        out = {k: with_errata(v) for k, v in schema.items()}
        if "base_variant_id" in out.get("properties", {}):
            out["properties"]["base_variant_id"] = {**out["properties"]["base_variant_id"], "nullable": True}
        return out
    if isinstance(schema, list):
        return [with_errata(v) for v in schema]
    return schema


@cache
def products_schema(path: str, method: str = "get", status: str = "200") -> dict:
    return with_errata(response_schema(PRODUCTS, path, method, status))


@cache
def product_item_schema() -> dict:
    return products_schema("/catalog/products")["properties"]["data"]["items"]


def example_keys(spec_name: str, path: str) -> set[str]:
    """Keys of the first item of the spec's own 200 example for GET `path`."""
    example = openapi_spec(spec_name)["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    return set(example["example"]["data"][0])


def check_product(product: dict) -> None:
    """One product against product_Full, its sub-resources against their own schemas, no unknown keys."""
    validate(product, product_item_schema())
    subresources = {"variants", "images", "custom_fields", "options", "primary_image", "channels"}
    assert (
        undeclared_keys({k: v for k, v in product.items() if k not in subresources}, product_item_schema())
        == set()
    )
    variant_schema = component_schema(VARIANTS, "productVariant_Full")
    for variant in product.get("variants", []):
        validate(variant, variant_schema)
        assert undeclared_keys(variant, variant_schema) == set()
        for option_value in variant["option_values"]:
            assert set(option_value) == {"id", "label", "option_id", "option_display_name"}
    image_schema = component_schema(PRODUCTS, "productImage_Full")
    for image in product.get("images", []):
        validate(image, image_schema)
        # image_file is not in productImage_Full, but it is in the spec's own example of this response
        assert undeclared_keys(image, image_schema) <= example_keys(
            PRODUCTS, "/catalog/products/{product_id}/images"
        )
    field_schema = component_schema(PRODUCTS, "productCustomField_Base")
    for custom_field in product.get("custom_fields", []):
        validate(custom_field, field_schema)
        assert undeclared_keys(custom_field, field_schema) == set()


@pytest.mark.parametrize(
    "include",
    ["", "variants", "images", "custom_fields", "variants,images,custom_fields", "primary_image", "options"],
)
def test_product_list_matches_the_spec(http: requests.Session, sandbox: Sandbox, include: str) -> None:
    body = get(http, sandbox, "/catalog/products", include=include, limit=80)
    validate(body, products_schema("/catalog/products"))
    assert body["data"], "an empty page proves nothing"
    for product in body["data"]:
        check_product(product)
        for name in filter(None, include.split(",")):
            if name != "primary_image":  # only products with a thumbnail have one
                assert name in product
    if "variants" in include:
        with_options = [p for p in body["data"] if any(v["option_values"] for v in p["variants"])]
        simple = [
            p for p in body["data"] if len(p["variants"]) == 1 and not p["variants"][0]["option_values"]
        ]
        assert with_options and simple  # both kinds were validated


def test_single_product_variants_images_custom_fields_match_the_spec(
    http: requests.Session, sandbox: Sandbox
) -> None:
    snapshot = sandbox.store.snapshot()["products"]
    product = next(p for p in snapshot if p["custom_fields"] and p["images"] and len(p["variants"]) > 1)
    pid = product["id"]
    body = get(http, sandbox, f"/catalog/products/{pid}", include="variants,images,custom_fields")
    validate(body, products_schema("/catalog/products/{product_id}"))
    check_product(body["data"])
    variants = get(http, sandbox, f"/catalog/products/{pid}/variants")
    validate(variants, response_schema(VARIANTS, "/catalog/products/{product_id}/variants", "get"))
    assert [v["id"] for v in variants["data"]] == [v["id"] for v in product["variants"]]
    images = get(http, sandbox, f"/catalog/products/{pid}/images")
    validate(images, response_schema(PRODUCTS, "/catalog/products/{product_id}/images", "get"))
    assert len(images["data"]) == len(product["images"])
    fields = get(http, sandbox, f"/catalog/products/{pid}/custom-fields")
    validate(fields, response_schema(PRODUCTS, "/catalog/products/{product_id}/custom-fields", "get"))
    assert fields["data"] == product["custom_fields"]


def test_categories_trees_brands_assignments_match_the_spec(http: requests.Session, sandbox: Sandbox) -> None:
    tree = get(http, sandbox, "/catalog/trees/categories", limit=250)
    validate(tree, response_schema("category-trees_catalog.v3.yml", "/catalog/trees/categories", "get"))
    assert tree["data"] and {"category_id", "parent_id", "tree_id", "name", "is_visible", "url"} <= set(
        tree["data"][0]
    )
    old = get(http, sandbox, "/catalog/categories", limit=250)
    validate(old, response_schema("categories_catalog.v3.yml", "/catalog/categories", "get"))
    assert {c["id"] for c in old["data"]} == {c["category_id"] for c in tree["data"]}
    assert all(
        c["custom_url"]["url"] == t["url"]["path"] for c, t in zip(old["data"], tree["data"], strict=True)
    )
    brands = get(http, sandbox, "/catalog/brands")
    validate(brands, response_schema("brands_catalog.v3.yml", "/catalog/brands", "get"))
    assert brands["data"]
    assignments = get(http, sandbox, "/catalog/products/category-assignments", **{"product_id:in": "1,2,3"})
    validate(assignments, response_schema(PRODUCTS, "/catalog/products/category-assignments", "get"))


def test_channel_site_and_store_profile_match_the_spec(http: requests.Session, sandbox: Sandbox) -> None:
    channel = get(http, sandbox, "/channels/1")
    validate(channel, response_schema("channels.v3.yml", "/channels/{channel_id}", "get"))
    site = get(http, sandbox, "/channels/1/site")
    validate(site, response_schema("channels.v3.yml", "/channels/{channel_id}/site", "get"))
    assert site["data"]["url"] == sandbox.store.site_url
    missing = get(http, sandbox, "/channels/99", status=404)
    validate(missing, response_schema("channels.v3.yml", "/channels/{channel_id}", "get", "404"))
    profile = http.get(f"{sandbox.bc_url}/stores/{sandbox.store_hash}/v2/store", timeout=30)
    assert profile.status_code == 200
    validate(profile.json(), response_schema("store_information.v2.yml", "/store", "get"))
    assert profile.json()["currency"] == sandbox.store.currency


def test_hooks_and_storefront_token_match_the_spec(http: requests.Session, sandbox: Sandbox) -> None:
    spec = "webhooks.v3.yml"
    created = http.post(
        f"{sandbox.api_url}/hooks",
        timeout=30,
        json={
            "scope": "store/product/deleted",
            "destination": "https://hooks.example.com/bc",
            "is_active": True,
            "headers": {"X-Webhook-Secret": "s"},
        },
    )
    assert created.status_code == 200, created.text
    validate(created.json(), response_schema(spec, "/hooks", "post"))
    hook_id = created.json()["data"]["id"]
    validate(get(http, sandbox, "/hooks"), response_schema(spec, "/hooks", "get"))
    validate(get(http, sandbox, f"/hooks/{hook_id}"), response_schema(spec, "/hooks/{webhook_id}", "get"))
    updated = http.put(f"{sandbox.api_url}/hooks/{hook_id}", json={"is_active": False}, timeout=30)
    validate(updated.json(), response_schema(spec, "/hooks/{webhook_id}", "put"))
    validate(get(http, sandbox, "/hooks/admin"), response_schema(spec, "/hooks/admin", "get"))
    deleted = http.delete(f"{sandbox.api_url}/hooks/{hook_id}", timeout=30)
    validate(deleted.json(), response_schema(spec, "/hooks/{webhook_id}", "delete"))
    token = http.post(
        f"{sandbox.api_url}/storefront/api-token",
        timeout=30,
        json={
            "channel_id": 1,
            "expires_at": int(time.time()) + 3600,
            "allowed_cors_origins": ["https://www.example.com"],
        },
    )
    assert token.status_code == 200, token.text
    validate(token.json(), response_schema("storefront_tokens.v3.yml", "/storefront/api-token", "post"))
    assert token.json()["meta"] == {} and token.json()["data"]["token"].count(".") == 2


def test_error_bodies_match_the_spec(http: requests.Session, sandbox: Sandbox) -> None:
    missing = get(http, sandbox, "/catalog/products/999999999", status=404)
    validate(missing, response_schema(PRODUCTS, "/catalog/products/{product_id}", "get", "404"))
    for schema_name in ("GeneralError", "error_Base"):
        validate(missing, component_schema(PRODUCTS, schema_name))
    no_fields = get(http, sandbox, "/catalog/products/999999999/custom-fields", status=404)
    validate(
        no_fields, response_schema(PRODUCTS, "/catalog/products/{product_id}/custom-fields", "get", "404")
    )
    bad = http.put(f"{sandbox.api_url}/catalog/products/1", json={"price": "free"}, timeout=30)
    assert bad.status_code == 422
    validate(bad.json(), response_schema(PRODUCTS, "/catalog/products/{product_id}", "put", "422"))
    assert "price" in bad.json()["errors"]
    conflict = http.put(f"{sandbox.api_url}/catalog/products/1", json={"categories": [987654]}, timeout=30)
    assert conflict.status_code == 409
    validate(conflict.json(), response_schema(PRODUCTS, "/catalog/products/{product_id}", "put", "409"))
    unauthorized = requests.get(f"{sandbox.api_url}/hooks", headers={"X-Auth-Token": "wrong"}, timeout=30)
    assert unauthorized.status_code == 401
    validate(unauthorized.json(), response_schema("webhooks.v3.yml", "/hooks", "get", "401"))
    invalid = http.post(f"{sandbox.api_url}/hooks", json={"scope": "store/product/updated"}, timeout=30)
    assert invalid.status_code == 422 and "destination" in invalid.json()["errors"]
    validate(invalid.json(), response_schema("webhooks.v3.yml", "/hooks", "post", "422"))
    not_json = http.post(f"{sandbox.api_url}/hooks", data="nope", timeout=30)
    assert not_json.status_code == 400
    validate(not_json.json(), response_schema("webhooks.v3.yml", "/hooks", "post", "400"))


# ------------------------------------------------------------------------------------ callbacks vs. samples
class _Collector:
    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.bodies.append(json.loads(request.get_data()))
        return Response(status=200)(environ, start_response)


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def shape(value: Any) -> Any:
    """Keys and JSON types, recursively (an int and a float are both "number"; ids are ints)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return "null"


def test_callbacks_have_the_shape_of_the_official_samples(sandbox: Sandbox) -> None:
    samples = sample_payloads()
    assert set(samples) <= set(CATALOG_SCOPES)
    collector = _Collector()
    server = make_server("127.0.0.1", 0, collector, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    store = sandbox.store
    try:
        sandbox.register_hooks(f"http://127.0.0.1:{server.server_port}/webhooks/bigcommerce")
        simple = next(
            p
            for p in store.snapshot()["products"]
            if len(p["variants"]) == 1 and not p["variants"][0]["option_values"]
        )["id"]
        pid = next(
            p["id"]
            for p in store.snapshot()["products"]
            if any(v["option_values"] for v in p["variants"]) and p["inventory_tracking"] == "variant"
        )
        vid = store.option_variant_ids(pid)[0]
        store.update_product(simple, inventory_tracking="product")
        store.update_product(simple, name="A renamed product")
        store.set_product_inventory(simple, 7)
        store.record_sale(simple, 1)
        store.record_sale(pid, 1, vid)
        store.update_variant(pid, vid, price=12.5)
        store.set_variant_inventory(pid, vid, 3)
        new_variant = store.create_variant(pid, label="Special").entity
        assert new_variant is not None
        store.delete_variant(pid, new_variant["id"])
        created = store.create_product({"name": "Brand new thing"}, variants=2).entity
        assert created is not None
        store.delete_product(created["id"])
        category = store.create_category("Callback Shapes").entity
        assert category is not None
        store.update_category(category["category_id"], name="Callback Shapes 2")
        store.delete_category(category["category_id"])
        assert sandbox.dispatcher.wait_idle(30)
    finally:
        server.shutdown()
        for hook in store.list_hooks():
            store.delete_hook(hook["id"])
    by_scope: dict[str, dict] = {}
    for body in collector.bodies:
        by_scope.setdefault(body["scope"], body)
    missing = set(samples) - set(by_scope)
    assert not missing, f"no callback fired for {sorted(missing)}"
    for scope, sample in samples.items():
        got = by_scope[scope]
        assert shape(got) == shape(sample), scope
        assert got["producer"] == f"stores/{sandbox.store_hash}"


# ------------------------------------------------------------------------------------ multi-storefront
CHANNELS = "channels.v3.yml"
PRICE_LISTS = "price_lists.v3.yml"
TREES = "category-trees_catalog.v3.yml"


@pytest.fixture(scope="module")
def msf() -> Iterator[Sandbox]:
    """Two storefronts (GBP default, EUR on channel 2) and every generated price list."""
    require_reference("bigcommerce", "openapi")
    sb = start_sandbox(
        products=300,
        seed=5,
        plan="unlimited",
        time_scale=0.001,
        currency="GBP",
        channels=2,
        channel_currencies={2: "EUR"},
        price_lists=4,
    )
    yield sb
    sb.stop()


def send(
    http: requests.Session, sandbox: Sandbox, method: str, path: str, status: int = 200, **kw: Any
) -> Any:
    response = http.request(method, f"{sandbox.api_url}{path}", timeout=30, **kw)
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def v2(http: requests.Session, sandbox: Sandbox, path: str, **params: Any) -> Any:
    response = http.get(f"{sandbox.bc_url}/stores/{sandbox.store_hash}/v2{path}", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_channels_sites_and_currency_assignments_match_the_spec(http: requests.Session, msf: Sandbox) -> None:
    listed = get(http, msf, "/channels")
    validate(listed, response_schema(CHANNELS, "/channels", "get"))
    assert [c["id"] for c in listed["data"]] == [1, 2] and all("currencies" not in c for c in listed["data"])
    with_currencies = get(http, msf, "/channels", include="currencies")
    validate(with_currencies, response_schema(CHANNELS, "/channels", "get"))
    assert with_currencies["data"][1]["currencies"]["default_currency"] == "EUR"
    one = get(http, msf, "/channels/2")
    validate(one, response_schema(CHANNELS, "/channels/{channel_id}", "get"))
    assert one["data"]["type"] == "storefront" and one["data"]["platform"] == "bigcommerce"
    site = get(http, msf, "/channels/2/site")
    validate(site, response_schema(CHANNELS, "/channels/{channel_id}/site", "get"))
    assert site["data"]["url"] != msf.store.site_url and site["data"]["channel_id"] == 2
    assignment = get(http, msf, "/channels/2/currency-assignments")
    validate(assignment, response_schema(CHANNELS, "/channels/{channel_id}/currency-assignments", "get"))
    assert assignment["data"] == {
        "channel_id": 2,
        "enabled_currencies": ["EUR", "GBP"],
        "default_currency": "EUR",
    }
    every = get(http, msf, "/channels/currency-assignments")
    validate(every, response_schema(CHANNELS, "/channels/currency-assignments", "get"))
    assert [a["channel_id"] for a in every["data"]] == [1, 2]
    missing = get(http, msf, "/channels/9/currency-assignments", status=404)
    validate(missing, response_schema(CHANNELS, "/channels/{channel_id}/currency-assignments", "get", "404"))
    updated = send(http, msf, "PUT", "/channels/2", json={"name": "Sandbox Europe"})
    validate(updated, response_schema(CHANNELS, "/channels/{channel_id}", "put"))
    sites = get(http, msf, "/sites")
    validate(sites, response_schema("sites.v3.yml", "/sites", "get"))
    assert {s["channel_id"] for s in sites["data"]} == {1, 2}
    only_two = get(http, msf, "/sites", **{"channel_id:in": "2"})
    assert [s["channel_id"] for s in only_two["data"]] == [2]
    by_id = get(http, msf, f"/sites/{site['data']['id']}")
    validate(by_id, response_schema("sites.v3.yml", "/sites/{site_id}", "get"))
    profile = v2(http, msf, "/store")
    validate(profile, response_schema("store_information.v2.yml", "/store", "get"))
    assert profile["features"]["multi_storefront_enabled"] is True


def test_currencies_match_the_spec(http: requests.Session, msf: Sandbox) -> None:
    # The spec types last_updated as date-time, while its own example (and the v2 API) use RFC 2822
    # ("Tue, 12 Jun 2018 14:41:56 +0000"); the sandbox answers like the API, so that one format is relaxed.
    schema = patched(
        response_schema("currencies.v2.yml", "/currencies", "get"),
        ("items", "allOf", "1", "properties", "last_updated"),
        format="rfc-2822",
    )
    body = v2(http, msf, "/currencies")
    validate(body, schema)
    by_code = {c["currency_code"]: c for c in body}
    assert (
        set(by_code) == {"GBP", "EUR"} and by_code["GBP"]["is_default"] and not by_code["EUR"]["is_default"]
    )
    assert float(by_code["EUR"]["currency_exchange_rate"]) > 1 and by_code["EUR"]["decimal_places"] == 2
    one = v2(http, msf, f"/currencies/{by_code['EUR']['id']}")
    assert one == by_code["EUR"]


def test_price_lists_assignments_and_records_match_the_spec(http: requests.Session, msf: Sandbox) -> None:
    lists = get(http, msf, "/pricelists")
    validate(lists, response_schema(PRICE_LISTS, "/pricelists", "get"))
    assert len(lists["data"]) == 4 and {"pagination", "cursor_pagination"} <= set(lists["meta"])
    one = get(http, msf, "/pricelists/1")
    validate(one, response_schema(PRICE_LISTS, "/pricelists/{price_list_id}", "get"))
    assignments = get(http, msf, "/pricelists/assignments")
    validate(assignments, response_schema(PRICE_LISTS, "/pricelists/assignments", "get"))
    assert {"channel_id": 2, "price_list_id": 1} in [
        {k: a[k] for k in ("channel_id", "price_list_id") if k in a} for a in assignments["data"]
    ]
    records = get(http, msf, "/pricelists/1/records", include="bulk_pricing_tiers,sku", limit=100)
    validate(records, response_schema(PRICE_LISTS, "/pricelists/{price_list_id}/records", "get"))
    assert records["data"] and all("sku" in r and r["bulk_pricing_tiers"] == [] for r in records["data"])
    record = records["data"][0]
    by_variant = get(http, msf, f"/pricelists/1/records/{record['variant_id']}")
    validate(
        by_variant, response_schema(PRICE_LISTS, "/pricelists/{price_list_id}/records/{variant_id}", "get")
    )
    path = f"/pricelists/1/records/{record['variant_id']}/{record['currency']}"
    single = get(http, msf, path)
    validate(
        single,
        response_schema(
            PRICE_LISTS, "/pricelists/{price_list_id}/records/{variant_id}/{currency_code}", "get"
        ),
    )
    put = send(http, msf, "PUT", path, json={"price": 12.34, "sale_price": 10.0})
    validate(
        put,
        response_schema(
            PRICE_LISTS, "/pricelists/{price_list_id}/records/{variant_id}/{currency_code}", "put"
        ),
    )
    assert put["data"]["price"] == 12.34 and put["data"]["calculated_price"] == 10.0
    batch = send(
        http,
        msf,
        "PUT",
        "/pricelists/1/records",
        json=[{"variant_id": record["variant_id"], "currency": "EUR", "price": 11}],
    )
    validate(batch, response_schema(PRICE_LISTS, "/pricelists/{price_list_id}/records", "put"))
    created = send(http, msf, "POST", "/pricelists", json={"name": "Spec check", "active": False})
    validate(created, response_schema(PRICE_LISTS, "/pricelists", "post"))
    upsert = send(
        http,
        msf,
        "PUT",
        f"/pricelists/{created['data']['id']}/assignments",
        json={"customer_group_id": 7, "channel_id": 1},
    )
    validate(upsert, response_schema(PRICE_LISTS, "/pricelists/{price_list_id}/assignments", "put"))
    changed = send(
        http,
        msf,
        "PUT",
        f"/pricelists/{created['data']['id']}",
        json={"name": "Spec check 2", "active": True},
    )
    validate(changed, response_schema(PRICE_LISTS, "/pricelists/{price_list_id}", "put"))
    send(http, msf, "DELETE", f"/pricelists/{created['data']['id']}", status=204)


def test_trees_channel_assignments_and_metafields_match_the_spec(
    http: requests.Session, msf: Sandbox
) -> None:
    trees = get(http, msf, "/catalog/trees", **{"channel_id:in": "2"})
    validate(trees, response_schema(TREES, "/catalog/trees", "get"))
    assert [t["channels"] for t in trees["data"]] == [[2]]
    tree_id = trees["data"][0]["id"]
    nested = get(http, msf, f"/catalog/trees/{tree_id}/categories")
    validate(nested, response_schema(TREES, "/catalog/trees/{tree_id}/categories", "get"))
    assert nested["data"] and all(node["children"] for node in nested["data"])
    flat = get(http, msf, "/catalog/trees/categories", **{"tree_id:in": str(tree_id)})
    validate(flat, response_schema(TREES, "/catalog/trees/categories", "get"))
    assert {c["tree_id"] for c in flat["data"]} == {tree_id}
    created = send(
        http,
        msf,
        "POST",
        "/catalog/trees/categories",
        status=201,
        json=[{"name": "Spec Only", "tree_id": tree_id}],
    )
    validate(created, response_schema(TREES, "/catalog/trees/categories", "post", "201"))
    products = get(http, msf, "/catalog/products", include="channels", limit=50)
    validate(products, products_schema("/catalog/products"))
    for product in products["data"]:
        check_product(product)
    assert {tuple(p["channels"]) for p in products["data"]} >= {(1,), (1, 2)}
    assignments = get(http, msf, "/catalog/products/channel-assignments", **{"product_id:in": "1,2,3,4,5"})
    validate(assignments, response_schema(PRODUCTS, "/catalog/products/channel-assignments", "get"))
    every = get(http, msf, "/catalog/products/metafields", limit=20)
    validate(every, response_schema(PRODUCTS, "/catalog/products/metafields", "get"))
    assert every["data"]
    pid = every["data"][0]["resource_id"]
    mine = get(http, msf, f"/catalog/products/{pid}/metafields")
    validate(mine, response_schema(PRODUCTS, "/catalog/products/{product_id}/metafields", "get"))
    posted = send(
        http,
        msf,
        "POST",
        f"/catalog/products/{pid}/metafields",
        json={"namespace": "spec", "key": "k", "value": "v", "permission_set": "read"},
    )
    validate(posted, response_schema(PRODUCTS, "/catalog/products/{product_id}/metafields", "post"))
    one = get(http, msf, f"/catalog/products/{pid}/metafields/{posted['data']['id']}")
    validate(
        one, response_schema(PRODUCTS, "/catalog/products/{product_id}/metafields/{metafield_id}", "get")
    )


def documented_payloads() -> dict[str, list[dict]]:
    """The example payloads of docs/webhook-events*.mdx, by scope (JSON blocks, their // comments removed)."""
    folder = require_reference("bigcommerce", "docs")
    out: dict[str, list[dict]] = {}
    for path in sorted(folder.glob("webhook-events*.mdx")):
        for block in re.findall(r"```json[^\n]*\n(.*?)```", path.read_text(), re.S):
            text = re.sub(r",(\s*[}\]])", r"\1", re.sub(r"//[^\n]*", "", block))
            try:
                payload = json.loads(text)
            except ValueError:
                continue  # one example (store/hook/deliveryException) is not valid JSON; not ours
            if isinstance(payload, dict) and "scope" in payload:
                out.setdefault(payload["scope"], []).append(payload)
    return out


def test_storefront_callbacks_have_the_shape_of_the_documented_payloads(msf: Sandbox) -> None:
    docs = documented_payloads()
    product_metafield = next(
        p for p in docs["store/metafield/created"] if p["data"]["resource_type"] == "product"
    )
    # every scope we fire -> the documented example of its family (the docs give one example per family)
    family = {
        "store/channel/{id}/product/assigned": docs["store/channel/1/product/assigned"][0],
        "store/channel/{id}/product/unassigned": docs["store/channel/1/product/assigned"][0],
        "store/channel/{id}/category/product/assigned": docs["store/channel/1/product/assigned"][0],
        "store/channel/{id}/category/created": docs["store/channel/1/category/created"][0],
        "store/channel/{id}/category/updated": docs["store/channel/1/category/created"][0],
        "store/channel/{id}/category/deleted": docs["store/channel/1/category/created"][0],
        "store/channel/{id}/categoryTree/updated": docs["store/channel/1/categoryTree/updated"][0],
        "store/channel/{id}/settings/site/updated": docs["store/channel/1/settings/site/updated"][0],
        "store/channel/updated": docs["store/channel/created"][0],
        "store/priceList/created": docs["store/priceList/created"][0],
        "store/priceList/updated": docs["store/priceList/created"][0],
        "store/priceList/activated": docs["store/priceList/created"][0],
        "store/priceList/deactivated": docs["store/priceList/created"][0],
        "store/priceList/deleted": docs["store/priceList/created"][0],
        "store/priceLists/deleted": docs["store/priceLists/deleted"][0],
        "store/priceList/record/created": docs["store/priceList/record/created"][0],
        "store/priceList/record/updated": docs["store/priceList/record/created"][0],
        "store/priceList/record/deleted": docs["store/priceList/record/created"][0],
        "store/priceList/records/created": docs["store/priceList/records/created"][0],
        "store/priceList/records/updated": docs["store/priceList/records/created"][0],
        "store/priceList/records/deleted": docs["store/priceList/records/created"][0],
        "store/priceList/assignment/updated": docs["store/priceList/assignment/updated"][0],
        "store/priceList/assignment/deleted": docs["store/priceList/assignment/updated"][0],
        "store/product/metafield/created": product_metafield,
        "store/product/metafield/updated": product_metafield,
        "store/product/metafield/deleted": product_metafield,
        "store/metafield/created": product_metafield,
        "store/metafield/updated": product_metafield,
        "store/metafield/deleted": product_metafield,
    }
    collector = _Collector()
    server = make_server("127.0.0.1", 0, collector, threaded=True, request_handler=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    store = msf.store
    try:
        msf.register_hooks(
            f"http://127.0.0.1:{server.server_port}/webhooks/bigcommerce",
            [
                *msf.all_scopes,
                "store/metafield/created",
                "store/metafield/updated",
                "store/metafield/deleted",
            ],
        )
        only_one = next(p for p in store.channel_product_ids(1) if p not in store.channel_product_ids(2))
        store.assign_products(2, [only_one])
        store.unassign_products(2, [only_one])
        leaf = next(c for c in store.category_tree() if c["tree_id"] == 2)
        store.update_product(
            only_one, categories=[*store.get_product(only_one)["categories"], leaf["category_id"]]
        )
        category = store.create_category("Shapes", tree_id=2).entity
        assert category is not None
        store.update_category(category["category_id"], name="Shapes 2")
        store.delete_category(category["category_id"])
        store.update_tree(2, "Europe tree")
        store.set_site_url(2, "https://eu.sandbox-store.example")
        store.update_channel(2, name="Sandbox EU")
        created = store.create_price_list("Shapes").entity
        assert created is not None
        record = store.price_records(1)[0]
        store.set_price_record(created["id"], record["variant_id"], "EUR", price=5.0)
        store.set_price_record(created["id"], record["variant_id"], "EUR", price=6.0, sale_price=5.5)
        store.upsert_price_records(
            created["id"], [{"variant_id": record["variant_id"], "currency": "GBP", "price": 4.0}]
        )
        store.upsert_price_records(
            created["id"], [{"variant_id": record["variant_id"], "currency": "GBP", "price": 3.0}]
        )
        store.delete_price_record(created["id"], record["variant_id"], "EUR")
        store.delete_price_records(created["id"])
        store.update_price_list(created["id"], active=False)
        store.update_price_list(created["id"], active=True)
        store.assign_price_list(created["id"], channel_id=1, customer_group_id=9)
        store.delete_price_list_assignments(price_list_id=created["id"])
        store.delete_price_list(created["id"])
        other = store.create_price_list("Shapes batch").entity
        assert other is not None
        store.delete_price_lists([other["id"]])
        made = store.set_metafield(only_one, "shapes", "k", "v").entity
        assert made is not None
        store.set_metafield(only_one, "shapes", "k", "w")
        store.delete_metafield(only_one, made["id"])
        assert msf.dispatcher.wait_idle(30)
    finally:
        server.shutdown()
        for hook in store.list_hooks():
            store.delete_hook(hook["id"])
    by_family: dict[str, dict] = {}
    for body in collector.bodies:
        by_family.setdefault(re.sub(r"^store/channel/\d+/", "store/channel/{id}/", body["scope"]), body)
    missing = set(family) - set(by_family)
    assert not missing, f"no callback fired for {sorted(missing)}"
    for name, example in family.items():
        got = by_family[name]
        assert set(got) == set(example), name  # the envelope
        if name.startswith("store/priceList/assignment/"):  # a key only for what the assignment names
            assert set(got["data"]) <= set(example["data"]) and "price_list_id" in got["data"], name
            assert all(shape(got["data"][k]) == shape(example["data"][k]) for k in got["data"]), name
        else:
            assert shape(got["data"]) == shape(example["data"]), name
