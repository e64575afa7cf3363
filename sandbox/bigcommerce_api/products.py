"""/v3/catalog/products: list (every filter, sort, include, include_fields), create, read, update, delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from sandbox.bigcommerce_api.http import (
    MAX_LIMIT,
    OPTIONS_PAGE_CAP,
    V3,
    ApiError,
    _comparison,
    body_object,
    bool_arg,
    csv_arg,
    int_arg,
    int_list,
    json_response,
    page_args,
    pagination,
    shape_fields,
)
from sandbox.store import INCLUDES, Store, parse_date_filter

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


def products_blueprint(store: Store) -> Blueprint:
    bp = Blueprint("products", __name__, url_prefix=V3)

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

    @bp.get("/catalog/products")
    def list_products(store_hash: str) -> Response:
        q = product_query_args()
        page = q.pop("page")
        total, items = store.query_products(**q)
        items = shape_products(items, q["includes"])
        return json_response({"data": items, "meta": pagination(total, len(items), page, q["limit"])})

    @bp.post("/catalog/products")
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

    @bp.delete("/catalog/products")
    def delete_products(store_hash: str) -> Response:
        ids = int_list("id:in", request.args.get("id:in"))
        if not ids:
            raise ApiError(422, "A filter is required to delete products", {"id:in": "required"})
        for pid in ids[:MAX_LIMIT]:
            if store.has_product(pid):
                store.delete_product(pid)
        return Response(status=204)

    @bp.get("/catalog/products/<int:product_id>")
    def get_product(store_hash: str, product_id: int) -> Response:
        includes = [i for i in csv_arg("include") if i in INCLUDES]
        product = store.get_product(product_id, includes)
        product = shape_fields(product, csv_arg("include_fields"), csv_arg("exclude_fields"), tuple(includes))
        return json_response({"data": product, "meta": {}})

    @bp.put("/catalog/products/<int:product_id>")
    def update_product(store_hash: str, product_id: int) -> Response:
        store.update_product(product_id, **body_object())
        includes = [i for i in csv_arg("include") if i in INCLUDES]
        return json_response({"data": store.get_product(product_id, includes), "meta": {}})

    @bp.delete("/catalog/products/<int:product_id>")
    def delete_product(store_hash: str, product_id: int) -> Response:
        store.delete_product(product_id)
        return Response(status=204)

    return bp
