"""The simulated BigCommerce REST API (Flask), over a `sandbox.catalog.Store`, on loopback.

Serves `/stores/<hash>/v3/...` (catalogue, channels, hooks, storefront tokens) and `/stores/<hash>/v2/store`
with BigCommerce's shapes (checked against the official OpenAPI specs by tests/test_sandbox_openapi.py),
its auth (`X-Auth-Token`; 401), unknown store (404), error bodies, pagination, rate limiting
(`sandbox.ratelimit`: headers on every response, 429) and fault injection (`sandbox.faults`).

Control API under `/_sandbox/` (never authenticated, rate-limited, faulted or counted) — see
`register_control_routes`; the `sandbox.client.SandboxClient` wraps it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Request, Response, g, request

from sandbox.catalog import CATALOG_SCOPES, INCLUDES, Invalid, NotFound, Store, iso, parse_date_filter
from sandbox.faults import Counters, Faults, install
from sandbox.ratelimit import RateLimiter
from workers.settings import SANDBOX_ACCESS_TOKEN, SANDBOX_CLIENT_SECRET

SANDBOX_CLIENT_ID = "sandbox-client-id"  # the API account's client id (hooks belong to a client)
ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
MAX_LIMIT = 250
DEFAULT_LIMIT = 50
OPTIONS_PAGE_CAP = 10  # include=options|modifiers caps a page at 10 (FACTS.md)
_PREFIX = re.compile(r"^/stores/(?P<hash>[^/]+)/(?P<version>v2|v3)(?P<rest>/.*)?$")
_RULE_PREFIX = "/stores/<store_hash>/v3"
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
PRODUCT_SORTS = {
    "id",
    "name",
    "sku",
    "price",
    "date_modified",
    "date_last_imported",
    "inventory_level",
    "is_visible",
    "total_sold",
    "calculated_price",
}


class ApiError(Exception):
    def __init__(self, status: int, title: str, errors: dict[str, str] | None = None):
        super().__init__(title)
        self.status, self.title, self.errors = status, title, errors or {}


# ---------------------------------------------------------------------------------------------- helpers
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), check_circular=False
)  # plain data only


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = _ENCODER.encode(payload).encode()
    response = Response(body, status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_body(status: int, title: str, errors: dict[str, str] | None = None) -> dict:
    """BigCommerce v3's error shape: {"status", "title", "type", "errors"}."""
    return {"status": status, "title": title, "type": ERROR_TYPE, "errors": errors or {}}


def error_response(
    status: int, title: str, errors: dict[str, str] | None = None, v2: bool = False
) -> Response:
    if v2:  # the v2 API answers errors as a list of {"status", "message"}
        return json_response([{"status": status, "message": title}], status)
    return json_response(error_body(status, title, errors), status)


def endpoint_name(req: Request) -> str:
    """Counter / concurrency key: the route without the store prefix ("/catalog/products/{product_id}")."""
    rule = req.url_rule.rule if req.url_rule is not None else req.path
    if rule.startswith(_RULE_PREFIX):
        rule = rule[len(_RULE_PREFIX) :]
    elif rule.startswith("/stores/<store_hash>"):
        rule = rule[len("/stores/<store_hash>") :]
    return _CONVERTER.sub(r"{\1}", rule)


def int_list(name: str, raw: str | None) -> list[int] | None:
    if raw is None:
        return None
    try:
        return [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise ApiError(
            422, f"The filter {name} must be a comma-separated list of integers", {name: "invalid"}
        ) from None


def int_arg(name: str, default: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(422, f"The parameter {name} must be an integer", {name: "invalid"}) from None


def bool_arg(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise ApiError(422, f"The parameter {name} must be true or false", {name: "invalid"})


def page_args(cap: int = MAX_LIMIT) -> tuple[int, int]:
    # limit over 250 is served as 250 (BigCommerce: "the maximum number of products returned is 250")
    limit = int_arg("limit", DEFAULT_LIMIT) or DEFAULT_LIMIT
    if limit < 1:
        raise ApiError(422, "The parameter limit must be at least 1", {"limit": "invalid"})
    page = max(1, int_arg("page", 1) or 1)
    return page, min(limit, cap)


def pagination(total: int, count: int, page: int, limit: int) -> dict:
    """meta.pagination as BigCommerce gives it; links are query strings keeping the other parameters."""
    total_pages = math.ceil(total / limit) if limit else 0
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "limit")]

    def link(p: int) -> str:
        return "?" + urlencode([*kept, ("limit", limit), ("page", p)], safe=":,")

    links = {"current": link(page)}
    if page > 1:
        links["previous"] = link(page - 1)
    if page < total_pages:
        links["next"] = link(page + 1)
    return {
        "pagination": {
            "total": total,
            "count": count,
            "per_page": limit,
            "current_page": page,
            "total_pages": total_pages,
            "links": links,
        }
    }


def paged(items: list[dict], cap: int = MAX_LIMIT) -> Response:
    page, limit = page_args(cap)
    chunk = items[(page - 1) * limit : page * limit]
    return json_response({"data": chunk, "meta": pagination(len(items), len(chunk), page, limit)})


def csv_arg(name: str) -> list[str]:
    raw = request.args.get(name, "")
    return [x.strip() for x in raw.split(",") if x.strip()]


def shape_fields(
    item: dict, include_fields: list[str], exclude_fields: list[str], keep: tuple[str, ...]
) -> dict:
    """include_fields: only id + those (+ requested sub-resources); exclude_fields: all but those (not id)."""
    if include_fields:
        wanted = {"id", *include_fields, *keep}
        item = {k: v for k, v in item.items() if k in wanted}
    if exclude_fields:
        dropped = set(exclude_fields) - {"id"}
        item = {k: v for k, v in item.items() if k not in dropped}
    return item


def body_object() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "Input is invalid.", {"body": "expected a JSON object"})
    return body


def destination_error(destination: Any) -> str | None:
    """BigCommerce wants https on port 443. Sandbox relaxation: http or https on 127.0.0.1 / localhost
    with any port is accepted too, so hooks can point at a receiver on loopback."""
    if not isinstance(destination, str) or not destination:
        return "error.path.missing."
    parts = urlsplit(destination)
    try:
        port = parts.port
    except ValueError:
        return "destination port is invalid"
    if parts.hostname in ("127.0.0.1", "localhost") and parts.scheme in ("http", "https"):
        return None
    if parts.scheme != "https" or not parts.hostname:
        return "destination must be an https URL"
    if port not in (None, 443):
        return "destination must be served on port 443"
    return None


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# ---------------------------------------------------------------------------------------------- the app
def create_bigcommerce_app(
    store: Store,
    limiter: RateLimiter,
    dispatcher: Any,
    faults: Faults,
    counters: Counters,
    access_token: str = SANDBOX_ACCESS_TOKEN,
    client_id: str = SANDBOX_CLIENT_ID,
    client_secret: str = SANDBOX_CLIENT_SECRET,
    control_extras: Callable[[Flask], None] | None = None,
) -> Flask:
    """The BigCommerce API app. `dispatcher` (a HookDispatcher, or None) only feeds the control routes and
    /hooks/admin; callbacks flow from `store` listeners. `control_extras(app)` may add more control routes."""
    app = Flask("sandbox.bigcommerce")
    settings: dict[str, Any] = {"latency_seconds": 0.0, "access_token": access_token}
    app.config["SANDBOX_SETTINGS"] = settings
    install(app, faults, counters, endpoint_name)
    P = _RULE_PREFIX

    @app.before_request
    def gatekeeper() -> Response | None:
        if request.path.startswith("/_sandbox"):
            return None
        match = _PREFIX.match(request.path)
        v2 = bool(match and match["version"] == "v2")
        if match is None or match["hash"] != store.store_hash:
            return error_response(404, "Store not found" if match else "Not Found", v2=v2)
        token = request.headers.get("X-Auth-Token", "")
        if not hmac.compare_digest(token.encode(), str(settings["access_token"]).encode()):
            return error_response(
                401,
                "Unauthorized - the v3 Auth client ID or token in the request are not "
                "a valid combination for this store.",
                v2=v2,
            )
        ticket = limiter.enter(store.store_hash, f"{request.method} {endpoint_name(request)}")
        g.ticket = ticket
        if not ticket.allowed:
            return error_response(429, "Too many requests", v2=v2)
        if settings["latency_seconds"]:
            time.sleep(settings["latency_seconds"])  # BigCommerce's own response time, inside the slot
        return None

    @app.after_request
    def rate_headers(response: Response) -> Response:
        match = _PREFIX.match(request.path)
        if match and match["hash"] == store.store_hash:
            ticket = getattr(g, "ticket", None)
            headers = ticket.headers if ticket is not None else limiter.peek(store.store_hash)
            for key, value in headers.items():
                response.headers[key] = value
        return response

    @app.teardown_request
    def release(_exc: BaseException | None) -> None:
        ticket = getattr(g, "ticket", None)
        if ticket is not None:
            limiter.leave(ticket)

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.title, exc.errors, v2="/v2/" in request.path)

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound) -> Response:
        return error_response(404, f"The requested {exc} was not found.", v2="/v2/" in request.path)

    @app.errorhandler(Invalid)
    def invalid(exc: Invalid) -> Response:
        return error_response(409 if exc.conflict else 422, str(exc), exc.errors)

    @app.errorhandler(404)
    def no_route(_exc: Exception) -> Response:
        return error_response(404, "The requested resource was not found.", v2="/v2/" in request.path)

    @app.errorhandler(405)
    def no_method(_exc: Exception) -> Response:
        return json_response(
            {
                "status": 405,
                "title": "Method Not Allowed",
                "type": ERROR_TYPE,
                "detail": f"{request.method} is not supported here",
            },
            405,
        )

    # ------------------------------------------------------------------ products
    def product_query_args() -> dict:
        args = request.args
        includes = [i for i in csv_arg("include") if i in INCLUDES]
        cap = OPTIONS_PAGE_CAP if {"options", "modifiers"} & set(includes) else MAX_LIMIT
        page, limit = page_args(cap)
        ids = int_list("id:in", args.get("id:in"))
        single = int_arg("id")
        if single is not None:
            ids = [single] if ids is None else [i for i in ids if i == single]
        # categories:in=a,b — products in ANY of them (common use; the spec's wording says "all"); the
        # store's `categories_in` setting ("any" | "all", POST /_sandbox/config) switches the reading
        categories = int_list("categories:in", args.get("categories:in"))
        if args.get("categories") is not None:  # `categories=5`: products in that category
            in_category = int_list("categories", args.get("categories")) or []
            categories = (categories or []) + in_category
        now = store.clock()
        bounds: dict[str, float | None] = {"date_modified:min": None, "date_modified:max": None}
        for name in bounds:
            if args.get(name):
                try:
                    bounds[name] = parse_date_filter(args[name], now)
                except ValueError:
                    raise ApiError(422, f"The filter {name} is not a valid date", {name: "invalid"}) from None
        predicates: list[tuple[str, Callable[[Any], bool]]] = []
        for key, kind in (("id:min", "min"), ("id:max", "max"), ("id:greater", "gt"), ("id:less", "lt")):
            value = int_arg(key)
            if value is not None:
                predicates.append(("id", _comparison(kind, value)))
        not_in = int_list("id:not_in", args.get("id:not_in"))
        if not_in:
            excluded = set(not_in)
            predicates.append(("id", lambda v: v not in excluded))
        for key in ("name", "sku", "type", "availability", "condition"):
            if args.get(key) is not None:
                wanted = args[key]
                predicates.append((key, lambda v, w=wanted: str(v).lower() == w.lower()))
        if args.get("sku:in") is not None:
            skus = {s.strip().lower() for s in args["sku:in"].split(",")}
            predicates.append(("sku", lambda v: str(v).lower() in skus))
        if args.get("name:like") is not None:
            needle = args["name:like"].lower()
            predicates.append(("name", lambda v: needle in str(v).lower()))
        for key in ("brand_id", "inventory_level", "total_sold"):
            value = int_arg(key)
            if value is not None:
                predicates.append((key, lambda v, w=value: v == w))
        for key in ("is_visible", "is_featured"):
            flag = bool_arg(key)
            if flag is not None:
                predicates.append((key, lambda v, w=flag: bool(v) == w))
        sort = args.get("sort", "id")
        if sort not in PRODUCT_SORTS:
            raise ApiError(422, f"The sort field {sort} is not supported", {"sort": "invalid"})
        direction = args.get("direction", "asc").lower()
        if direction not in ("asc", "desc"):
            raise ApiError(422, "direction must be asc or desc", {"direction": "invalid"})
        return {
            "ids": ids,
            "categories": categories,
            "modified_min": bounds["date_modified:min"],
            "modified_max": bounds["date_modified:max"],
            "predicates": predicates,
            "sort": "date_modified" if sort == "date_last_imported" else sort,
            "descending": direction == "desc",
            "offset": (page - 1) * limit,
            "limit": limit,
            "includes": includes,
            "page": page,
        }

    def shape_products(items: list[dict], includes: list[str]) -> list[dict]:
        include_fields, exclude_fields = csv_arg("include_fields"), csv_arg("exclude_fields")
        if not include_fields and not exclude_fields:
            return items
        return [shape_fields(p, include_fields, exclude_fields, tuple(includes)) for p in items]

    @app.get(f"{P}/catalog/products")
    def list_products(store_hash: str) -> Response:
        q = product_query_args()
        page = q.pop("page")
        total, items = store.query_products(**q)
        items = shape_products(items, q["includes"])
        return json_response({"data": items, "meta": pagination(total, len(items), page, q["limit"])})

    @app.post(f"{P}/catalog/products")
    def create_product(store_hash: str) -> Response:
        body = body_object()
        missing = [k for k in ("name", "type", "weight", "price") if k not in body]
        if missing:
            raise ApiError(
                422, "The request payload is missing required fields", {k: "required" for k in missing}
            )
        variants = body.pop("variants", None)
        result = store.create_product(body, variants=len(variants) if isinstance(variants, list) else 0)
        assert result.entity is not None
        return json_response({"data": store.get_product(result.entity["id"], csv_arg("include")), "meta": {}})

    @app.delete(f"{P}/catalog/products")
    def delete_products(store_hash: str) -> Response:
        ids = int_list("id:in", request.args.get("id:in"))
        if not ids:
            raise ApiError(422, "A filter is required to delete products", {"id:in": "required"})
        for pid in ids[:MAX_LIMIT]:
            if store.has_product(pid):
                store.delete_product(pid)
        return Response(status=204)

    @app.get(f"{P}/catalog/products/<int:product_id>")
    def get_product(store_hash: str, product_id: int) -> Response:
        includes = [i for i in csv_arg("include") if i in INCLUDES]
        product = store.get_product(product_id, includes)
        product = shape_fields(product, csv_arg("include_fields"), csv_arg("exclude_fields"), tuple(includes))
        return json_response({"data": product, "meta": {}})

    @app.put(f"{P}/catalog/products/<int:product_id>")
    def update_product(store_hash: str, product_id: int) -> Response:
        store.update_product(product_id, **body_object())
        includes = [i for i in csv_arg("include") if i in INCLUDES]
        return json_response({"data": store.get_product(product_id, includes), "meta": {}})

    @app.delete(f"{P}/catalog/products/<int:product_id>")
    def delete_product(store_hash: str, product_id: int) -> Response:
        store.delete_product(product_id)
        return Response(status=204)

    @app.get(f"{P}/catalog/products/<int:product_id>/variants")
    def list_variants(store_hash: str, product_id: int) -> Response:
        return paged(store.variants(product_id))

    @app.get(f"{P}/catalog/products/<int:product_id>/variants/<int:variant_id>")
    def get_variant(store_hash: str, product_id: int, variant_id: int) -> Response:
        for variant in store.variants(product_id):
            if variant["id"] == variant_id:
                return json_response({"data": variant, "meta": {}})
        raise NotFound(f"variant {variant_id}")

    @app.put(f"{P}/catalog/products/<int:product_id>/variants/<int:variant_id>")
    def update_variant(store_hash: str, product_id: int, variant_id: int) -> Response:
        body = {
            k: v
            for k, v in body_object().items()
            if k not in ("id", "product_id", "option_values", "calculated_price", "sku_id")
        }
        result = store.update_variant(product_id, variant_id, **body)
        return json_response({"data": result.entity, "meta": {}})

    @app.delete(f"{P}/catalog/products/<int:product_id>/variants/<int:variant_id>")
    def delete_variant(store_hash: str, product_id: int, variant_id: int) -> Response:
        store.delete_variant(product_id, variant_id)
        return Response(status=204)

    @app.get(f"{P}/catalog/products/<int:product_id>/images")
    def list_images(store_hash: str, product_id: int) -> Response:
        # The spec also documents a 204 for a product without images; a 200 with an empty list is what
        # clients commonly see, and what this sandbox answers.
        return paged(store.images(product_id))

    @app.post(f"{P}/catalog/products/<int:product_id>/images")
    def create_image(store_hash: str, product_id: int) -> Response:
        body = body_object()
        if not isinstance(body.get("image_url"), str):
            raise ApiError(422, "image_url is required", {"image_url": "required"})
        result = store.add_image(
            product_id,
            is_thumbnail=bool(body.get("is_thumbnail", False)),
            sort_order=body.get("sort_order"),
            description=str(body.get("description", "")),
        )
        return json_response({"data": result.entity, "meta": {}})

    @app.delete(f"{P}/catalog/products/<int:product_id>/images/<int:image_id>")
    def delete_image(store_hash: str, product_id: int, image_id: int) -> Response:
        store.delete_image(product_id, image_id)
        return Response(status=204)

    @app.get(f"{P}/catalog/products/<int:product_id>/custom-fields")
    def list_custom_fields(store_hash: str, product_id: int) -> Response:
        return paged(store.custom_fields(product_id))

    @app.post(f"{P}/catalog/products/<int:product_id>/custom-fields")
    def create_custom_field(store_hash: str, product_id: int) -> Response:
        body = body_object()
        result = store.set_custom_field(product_id, body.get("name"), body.get("value"))  # type: ignore[arg-type]
        return json_response({"data": result.entity, "meta": {}})

    @app.put(f"{P}/catalog/products/<int:product_id>/custom-fields/<int:field_id>")
    def update_custom_field(store_hash: str, product_id: int, field_id: int) -> Response:
        body = body_object()
        current = next((f for f in store.custom_fields(product_id) if f["id"] == field_id), None)
        if current is None:
            raise NotFound(f"custom field {field_id}")
        result = store.set_custom_field(
            product_id, body.get("name", current["name"]), body.get("value", current["value"]), field_id
        )
        return json_response({"data": result.entity, "meta": {}})

    @app.delete(f"{P}/catalog/products/<int:product_id>/custom-fields/<int:field_id>")
    def delete_custom_field(store_hash: str, product_id: int, field_id: int) -> Response:
        store.delete_custom_field(product_id, field_id)
        return Response(status=204)

    @app.get(f"{P}/catalog/products/category-assignments")
    def category_assignments(store_hash: str) -> Response:
        items = store.category_assignments(
            int_list("product_id:in", request.args.get("product_id:in")),
            int_list("category_id:in", request.args.get("category_id:in")),
        )
        return paged(items)

    # ------------------------------------------------------------------ categories, brands
    @app.get(f"{P}/catalog/trees/categories")
    def tree_categories(store_hash: str) -> Response:
        items = store.category_tree()
        for name, key in (
            ("category_id:in", "category_id"),
            ("parent_id:in", "parent_id"),
            ("tree_id:in", "tree_id"),
        ):
            wanted = int_list(name, request.args.get(name))
            if wanted is not None:
                items = [c for c in items if c[key] in set(wanted)]
        for name, key in (("category_id:not_in", "category_id"), ("parent_id:not_in", "parent_id")):
            unwanted = int_list(name, request.args.get(name))
            if unwanted:
                items = [c for c in items if c[key] not in set(unwanted)]
        items = _common_category_filters(items)
        return paged(
            [
                shape_fields(c, csv_arg("include_fields"), csv_arg("exclude_fields"), ("category_id",))
                for c in items
            ]
        )

    @app.get(f"{P}/catalog/trees")
    def trees(store_hash: str) -> Response:
        return paged([{"id": 1, "name": "Default tree", "channels": [1]}])

    @app.get(f"{P}/catalog/categories")
    def categories(store_hash: str) -> Response:
        items = store.categories()
        for name, key in (("id:in", "id"), ("parent_id:in", "parent_id")):
            wanted = int_list(name, request.args.get(name))
            if wanted is not None:
                items = [c for c in items if c[key] in set(wanted)]
        for name, key in (("id", "id"), ("parent_id", "parent_id")):
            value = int_arg(name)
            if value is not None:
                items = [c for c in items if c[key] == value]
        items = _common_category_filters(items)
        return paged(
            [shape_fields(c, csv_arg("include_fields"), csv_arg("exclude_fields"), ()) for c in items]
        )

    @app.get(f"{P}/catalog/brands")
    def brands(store_hash: str) -> Response:
        items = store.brands()
        wanted = int_list("id:in", request.args.get("id:in"))
        if wanted is not None:
            items = [b for b in items if b["id"] in set(wanted)]
        if int_arg("id") is not None:
            items = [b for b in items if b["id"] == int_arg("id")]
        if request.args.get("name"):
            items = [b for b in items if b["name"] == request.args["name"]]
        return paged(
            [shape_fields(b, csv_arg("include_fields"), csv_arg("exclude_fields"), ()) for b in items]
        )

    # ------------------------------------------------------------------ channels, site, store profile
    def channel(channel_id: int) -> dict:
        if channel_id != 1:
            raise ApiError(404, "Not found")
        created = iso(store.created_at).replace("+00:00", "Z")
        return {
            "id": 1,
            "external_id": "",
            "is_listable_from_ui": True,
            "is_enabled": True,
            "is_visible": True,
            "status": "active",
            "name": "Sandbox Storefront",
            "type": "storefront",
            "platform": "bigcommerce",
            "date_created": created,
            "date_modified": created,
            "icon_url": "https://storage.googleapis.com/bigcommerce-production-dev-center/images/bigcommerce_icon.svg",
            "currencies": {
                "channel_id": 1,
                "enabled_currencies": [store.currency],
                "default_currency": store.currency,
            },
        }

    @app.get(f"{P}/channels")
    def channels(store_hash: str) -> Response:
        return paged([channel(1)])

    @app.get(f"{P}/channels/<int:channel_id>")
    def get_channel(store_hash: str, channel_id: int) -> Response:
        return json_response({"data": channel(channel_id), "meta": {}})

    @app.get(f"{P}/channels/<int:channel_id>/site")
    def get_site(store_hash: str, channel_id: int) -> Response:
        channel(channel_id)
        stamp = iso(store.created_at).replace("+00:00", ".000Z")
        urls = [
            {"url": store.site_url, "type": kind, "created_at": stamp, "updated_at": stamp}
            for kind in ("primary", "canonical", "checkout")
        ]
        return json_response(
            {
                "data": {
                    "id": 1000,
                    "url": store.site_url,
                    "channel_id": channel_id,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "ssl_status": "shared",
                    "urls": urls,
                    "is_checkout_url_customized": False,
                },
                "meta": {},
            }
        )

    @app.get("/stores/<store_hash>/v2/store")
    def store_profile(store_hash: str) -> Response:
        domain = urlsplit(store.site_url).hostname or "sandbox-store.example"
        return json_response(
            {
                "id": store.store_hash,
                "account_uuid": "8d4d492f-17a1-4d95-b396-e1c5720815a5",
                "domain": domain,
                "secure_url": store.site_url,
                "control_panel_base_url": f"https://store-{store.store_hash}.mybigcommerce.com",
                "status": "live",
                "name": "Sandbox Store",
                "first_name": "Sam",
                "last_name": "Sandbox",
                "address": "1 Loopback Lane",
                "country": "United States",
                "country_code": "US",
                "phone": "555-0100",
                "admin_email": "admin@sandbox-store.example",
                "order_email": "orders@sandbox-store.example",
                "favicon_url": "",
                "timezone": {
                    "name": "Etc/UTC",
                    "raw_offset": 0,
                    "dst_offset": 0,
                    "dst_correction": False,
                    "date_format": {
                        "display": "M jS Y",
                        "export": "M jS Y",
                        "extended_display": "M jS Y @ g:i A",
                    },
                },
                "language": "en",
                "currency": store.currency,
                "currency_symbol": "$" if store.currency == "USD" else "",
                "decimal_separator": ".",
                "thousands_separator": ",",
                "decimal_places": 2,
                "currency_symbol_location": "left",
                "weight_units": "Ounces",
                "dimension_units": "Inches",
                "dimension_decimal_places": 2,
                "dimension_decimal_token": ".",
                "dimension_thousands_token": ",",
                "plan_name": limiter.plan.title(),
                "plan_level": limiter.plan.title(),
                "plan_is_trial": False,
                "industry": "Home & Garden",
                "logo": [],
                "is_price_entered_with_tax": False,
                "store_id": 1000001,
                "default_channel_id": 1,
                "default_site_id": 1000,
                "active_comparison_modules": [],
                "features": {
                    "stencil_enabled": True,
                    "sitewidehttps_enabled": True,
                    "facebook_catalog_id": "",
                    "checkout_type": "optimized",
                    "wishlists_enabled": False,
                    "graphql_storefront_api_enabled": True,
                    "shopper_consent_tracking_enabled": True,
                    "multi_storefront_enabled": False,
                    "storefront_limits": {"active": 1, "total_including_inactive": 1},
                },
            }
        )

    @app.get("/stores/<store_hash>/v2/time")
    def store_time(store_hash: str) -> Response:
        return json_response({"time": int(store.clock())})

    # ------------------------------------------------------------------ hooks
    def hook_fields(body: dict, creating: bool) -> dict:
        errors: dict[str, str] = {}
        out: dict[str, Any] = {}
        if "scope" in body or creating:
            scope = body.get("scope")
            if not isinstance(scope, str) or not scope.startswith("store/"):
                errors["scope"] = "error.path.missing." if scope is None else "scope is invalid"
            else:
                out["scope"] = scope
        if "destination" in body or creating:
            problem = destination_error(body.get("destination"))
            if problem:
                errors["destination"] = problem
            else:
                out["destination"] = body["destination"]
        if "is_active" in body:
            if not isinstance(body["is_active"], bool):
                errors["is_active"] = "must be a boolean"
            else:
                out["is_active"] = body["is_active"]
        if "headers" in body:
            headers = body["headers"]
            if headers is not None and (
                not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values())
            ):
                errors["headers"] = "must be an object of strings"
            else:
                out["headers"] = headers
        if errors:
            raise ApiError(422, "JSON data is missing or invalid", errors)
        return out

    @app.post(f"{P}/hooks")
    def create_hook(store_hash: str) -> Response:
        fields = hook_fields(body_object(), creating=True)
        try:
            hook = store.create_hook(
                client_id,
                fields["scope"],
                fields["destination"],
                fields.get("is_active", True),
                fields.get("headers"),
            )
        except Invalid as exc:  # one hook per store + client + scope + destination
            raise ApiError(422, str(exc), exc.errors) from None
        return json_response({"data": hook, "meta": {}})

    @app.get(f"{P}/hooks")
    def list_hooks(store_hash: str) -> Response:
        hooks = store.list_hooks(client_id)
        active = bool_arg("is_active")
        if active is not None:
            hooks = [h for h in hooks if h["is_active"] == active]
        for key in ("scope", "destination"):
            if request.args.get(key):
                hooks = [h for h in hooks if h[key] == request.args[key]]
        return paged(hooks)

    @app.get(f"{P}/hooks/admin")
    def hooks_admin(store_hash: str) -> Response:
        hooks = store.inactive_hooks(client_id)
        active = bool_arg("is_active")
        if active is not None:
            hooks = [h for h in hooks if h["is_active"] == active]
        blocked = []
        if dispatcher is not None:
            until = getattr(dispatcher, "_blocked_until", {})
            now = time.monotonic()
            for host in dispatcher.stats().get("blocked_hosts", []):
                destinations = sorted(
                    {
                        h["destination"]
                        for h in store.list_hooks(client_id)
                        if (urlsplit(h["destination"]).hostname or "") == host
                    }
                )
                blocked.append(
                    {
                        "destination": destinations[0] if destinations else f"https://{host}",
                        "time_left": max(0, int(until.get(host, now) - now)),
                        "reasons": [
                            {
                                "failure_description": "success ratio under 90%",
                                "count": 1,
                                "timestamp": int(store.clock()),
                            }
                        ],
                    }
                )
        page, limit = page_args()
        chunk = hooks[(page - 1) * limit : page * limit]
        return json_response(
            {
                "data": {"emails": [], "hooks_list": chunk, "blocked_domains": blocked},
                "meta": pagination(len(hooks), len(chunk), page, limit),
            }
        )

    @app.get(f"{P}/hooks/<int:hook_id>")
    def get_hook(store_hash: str, hook_id: int) -> Response:
        try:
            return json_response({"data": store.get_hook(hook_id, client_id), "meta": {}})
        except NotFound:
            raise ApiError(404, f"Webhook with id [{hook_id}] not found") from None

    @app.put(f"{P}/hooks/<int:hook_id>")
    def update_hook(store_hash: str, hook_id: int) -> Response:
        fields = hook_fields(body_object(), creating=False)
        try:
            return json_response({"data": store.update_hook(hook_id, client_id, **fields), "meta": {}})
        except NotFound:
            raise ApiError(404, f"Webhook with id [{hook_id}] not found") from None
        except Invalid as exc:
            raise ApiError(422, str(exc), exc.errors) from None

    @app.delete(f"{P}/hooks/<int:hook_id>")
    def delete_hook(store_hash: str, hook_id: int) -> Response:
        try:
            return json_response({"data": store.delete_hook(hook_id, client_id), "meta": {}})
        except NotFound:
            raise ApiError(404, f"Webhook with id [{hook_id}] not found") from None

    # ------------------------------------------------------------------ storefront token
    @app.post(f"{P}/storefront/api-token")
    def storefront_token(store_hash: str) -> Response:
        body = body_object()
        errors: dict[str, str] = {}
        channel_ids = body.get("channel_ids")
        if "channel_id" in body:
            channel_ids = [body["channel_id"]]
        if (
            not isinstance(channel_ids, list)
            or not channel_ids
            or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in channel_ids)
        ):
            errors["channel_id"] = "channel_id must be a positive integer"
        elif any(c != 1 for c in channel_ids):
            errors["channel_id"] = "channel not found"
        expires_at = body.get("expires_at")
        if not isinstance(expires_at, int) or isinstance(expires_at, bool) or expires_at < 0:
            errors["expires_at"] = "expires_at must be a unix timestamp (integer seconds)"
        elif expires_at <= int(store.clock()):
            errors["expires_at"] = "expires_at must be in the future"
        origins = body.get("allowed_cors_origins", [])
        if (
            not isinstance(origins, list)
            or len(origins) > 2
            or not all(isinstance(o, str) and o for o in origins)
            or ("allowed_cors_origins" in body and not origins)
        ):
            errors["allowed_cors_origins"] = "allowed_cors_origins must hold 1 or 2 origins"
        if errors:
            raise ApiError(422, "Invalid JSON request body - missing or invalid data.", errors)
        now = int(store.clock())
        claims = {
            "cid": channel_ids,
            "cors": origins,
            "eat": expires_at,
            "iat": now,
            "iss": "BC",
            "sid": 1000001,
            "sub": client_id,
            "sub_type": 2,
            "token_type": 1,
        }
        head = b64url(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signature = b64url(
            hmac.new(client_secret.encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest()
        )
        return json_response({"data": {"token": f"{head}.{payload}.{signature}"}, "meta": {}})

    # ------------------------------------------------------------------ anything else under a store: 404
    @app.route("/stores/<store_hash>/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def unknown(store_hash: str, rest: str) -> Response:
        return error_response(404, "The requested resource was not found.", v2=rest.startswith("v2/"))

    register_control_routes(app, store, limiter, dispatcher, client_id)
    if control_extras is not None:
        control_extras(app)
    return app


def _comparison(kind: str, value: int) -> Callable[[Any], bool]:
    if kind == "min":
        return lambda v: v >= value
    if kind == "max":
        return lambda v: v <= value
    if kind == "gt":
        return lambda v: v > value
    return lambda v: v < value


def _common_category_filters(items: list[dict]) -> list[dict]:
    visible = bool_arg("is_visible")
    if visible is not None:
        items = [c for c in items if c["is_visible"] == visible]
    if request.args.get("name"):
        items = [c for c in items if c["name"] == request.args["name"]]
    if request.args.get("name:like"):
        needle = request.args["name:like"].lower()
        items = [c for c in items if needle in c["name"].lower()]
    return items


# ---------------------------------------------------------------------------------------------- control API
def register_control_routes(
    app: Flask, store: Store, limiter: RateLimiter, dispatcher: Any, client_id: str = SANDBOX_CLIENT_ID
) -> None:
    """/_sandbox/… on the BigCommerce server (faults and counters routes come from `sandbox.faults.install`):

    GET  /_sandbox/snapshot            every product (variants, images, custom fields), categories, brands,
                                       site_url, currency, store_hash
    POST /_sandbox/mutations           {"op": …} or {"ops": [...]} → {"events", "entity"} (or a list)
    POST /_sandbox/storm               sandbox.storm.run_storm arguments → its report
    GET  /_sandbox/events?since=N      callbacks fired (seq > N) and counts per scope
    GET|POST /_sandbox/ratelimit       plan / window_seconds / concurrency / quota
    GET|POST /_sandbox/config          latency_seconds, categories_in ("any" | "all"), access_token
    GET  /_sandbox/deliveries          dispatcher stats;  POST /_sandbox/deliveries/wait {"timeout"}
    GET  /_sandbox/hooks               every hook
    POST /_sandbox/hooks/register      {destination, scopes?, headers?}: one hook per catalogue scope
    """
    from sandbox.storm import run_storm  # storm imports catalog only; imported late to keep this module light

    settings: dict[str, Any] = app.config.setdefault("SANDBOX_SETTINGS", {"latency_seconds": 0.0})

    def control_error(status: int, message: str) -> Response:
        return json_response({"error": message}, status)

    def body() -> dict:
        payload = request.get_json(silent=True)
        return payload if isinstance(payload, dict) else {}

    @app.get("/_sandbox/snapshot")
    def snapshot() -> Response:
        return json_response(store.snapshot())

    @app.post("/_sandbox/mutations")
    def mutations() -> Response:
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return control_error(400, 'expected a JSON object {"op": ...} or {"ops": [...]}')
        ops = payload.get("ops")
        try:
            if isinstance(ops, list):
                return json_response([store.apply(op).as_dict() for op in ops])
            return json_response(store.apply(payload).as_dict())
        except NotFound as exc:
            return control_error(404, f"not found: {exc}")
        except Invalid as exc:
            return control_error(409 if exc.conflict else 422, str(exc))

    @app.post("/_sandbox/storm")
    def storm() -> Response:
        try:
            return json_response(run_storm(store, **body()))
        except (TypeError, ValueError) as exc:
            return control_error(400, str(exc))

    @app.get("/_sandbox/events")
    def events() -> Response:
        since = int(request.args.get("since", 0))
        return json_response(
            {"events": store.events(since), "counts": store.event_counts(), "last_seq": store.last_event_seq}
        )

    @app.route("/_sandbox/ratelimit", methods=["GET", "POST"])
    def ratelimit() -> Response:
        if request.method == "GET":
            return json_response(limiter.state(store.store_hash))
        try:
            return json_response(limiter.configure(**body()))
        except (TypeError, ValueError) as exc:
            return control_error(400, str(exc))

    @app.route("/_sandbox/config", methods=["GET", "POST"])
    def config() -> Response:
        if request.method == "POST":
            changes = body()
            unknown = set(changes) - {"latency_seconds", "categories_in", "access_token"}
            if unknown:
                return control_error(400, f"unknown setting(s): {', '.join(sorted(unknown))}")
            if "categories_in" in changes:
                if changes["categories_in"] not in ("any", "all"):
                    return control_error(400, "categories_in must be 'any' or 'all'")
                store.categories_in = changes["categories_in"]
            if "latency_seconds" in changes:
                settings["latency_seconds"] = max(0.0, float(changes["latency_seconds"]))
            if "access_token" in changes:
                settings["access_token"] = str(changes["access_token"])
        return json_response(
            {"latency_seconds": settings.get("latency_seconds", 0.0), "categories_in": store.categories_in}
        )

    @app.get("/_sandbox/deliveries")
    def deliveries() -> Response:
        return json_response(dispatcher.stats() if dispatcher is not None else {})

    @app.post("/_sandbox/deliveries/wait")
    def deliveries_wait() -> Response:
        timeout = float(body().get("timeout", 30.0))
        idle = dispatcher.wait_idle(timeout) if dispatcher is not None else True
        return json_response({"idle": idle, **(dispatcher.stats() if dispatcher is not None else {})})

    @app.get("/_sandbox/hooks")
    def all_hooks() -> Response:
        return json_response(store.list_hooks())

    @app.post("/_sandbox/hooks/register")
    def register_hooks() -> Response:
        payload = body()
        destination = payload.get("destination")
        problem = destination_error(destination)
        if problem:
            return control_error(400, problem)
        scopes = payload.get("scopes") or list(CATALOG_SCOPES)
        return json_response(
            register_hooks_for(store, str(destination), scopes, payload.get("headers"), client_id)
        )


def register_hooks_for(
    store: Store,
    destination: str,
    scopes: list[str],
    headers: dict[str, str] | None,
    client_id: str = SANDBOX_CLIENT_ID,
) -> list[dict]:
    """Create (or keep, if already there) one active hook per scope to `destination`."""
    out = []
    existing = {(h["scope"], h["destination"]): h for h in store.list_hooks(client_id)}
    for scope in scopes:
        hook = existing.get((scope, destination))
        if hook is None:
            hook = store.create_hook(client_id, scope, destination, True, headers)
        elif not hook["is_active"] or hook["headers"] != headers:
            hook = store.update_hook(hook["id"], client_id, is_active=True, headers=headers)
        out.append(hook)
    return out
