"""The sandbox store answers in BigCommerce's shapes: every response checked against the official OpenAPI
schemas (reference/bigcommerce/openapi), and the callbacks it fires against the official sample payloads."""

from __future__ import annotations

import json
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
