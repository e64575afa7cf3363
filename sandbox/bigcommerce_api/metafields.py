"""Product metafields: /v3/catalog/products/{id}/metafields[/{metafield_id}] and every product's at
/v3/catalog/products/metafields (filters namespace[:in], key[:in], date_modified:min/max, direction)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from sandbox.bigcommerce_api.http import (
    V3,
    ApiError,
    body_object,
    csv_arg,
    int_list,
    json_response,
    paged,
    shape_fields,
)
from sandbox.store import NotFound, Store, parse_date_filter


def _filters(store: Store) -> dict[str, Any]:
    args = request.args
    out: dict[str, Any] = {}
    namespaces = csv_arg("namespace:in") + ([args["namespace"]] if args.get("namespace") else [])
    keys = csv_arg("key:in") + ([args["key"]] if args.get("key") else [])
    if namespaces:
        out["namespaces"] = namespaces
    if keys:
        out["keys"] = keys
    for name, key in (("date_modified:min", "modified_min"), ("date_modified:max", "modified_max")):
        if args.get(name):
            try:
                out[key] = parse_date_filter(args[name], store.clock())
            except ValueError:
                raise ApiError(422, f"The filter {name} is not a valid date", {name: "invalid"}) from None
    direction = args.get("direction", "asc").lower()
    if direction not in ("asc", "desc"):
        raise ApiError(422, "direction must be asc or desc", {"direction": "invalid"})
    out["descending"] = direction == "desc"
    return out


def _shaped(items: list[dict]) -> list[dict]:
    include_fields = csv_arg("include_fields")
    return [shape_fields(m, include_fields, [], ()) for m in items] if include_fields else items


def metafields_blueprint(store: Store) -> Blueprint:
    bp = Blueprint("metafields", __name__, url_prefix=V3)

    @bp.get("/catalog/products/metafields")
    def all_metafields(store_hash: str) -> Response:
        pids = int_list("resource_id:in", request.args.get("resource_id:in"))
        return paged(_shaped(store.metafields(product_ids=pids, **_filters(store))))

    @bp.get("/catalog/products/<int:product_id>/metafields")
    def product_metafields(store_hash: str, product_id: int) -> Response:
        return paged(_shaped(store.product_metafields(product_id, **_filters(store))))

    @bp.post("/catalog/products/<int:product_id>/metafields")
    def create_metafield(store_hash: str, product_id: int) -> Response:
        body = body_object()
        missing = [k for k in ("namespace", "key", "value", "permission_set") if k not in body]
        if missing:
            raise ApiError(
                422, "The request payload is missing required fields", {k: "required" for k in missing}
            )
        if any(
            (m["namespace"], m["key"]) == (body["namespace"], body["key"])
            for m in store.product_metafields(product_id)
        ):
            raise ApiError(
                409, "A metafield with this namespace and key already exists", {"key": "duplicate"}
            )
        result = store.set_metafield(
            product_id,
            body["namespace"],
            body["key"],
            body["value"],
            body["permission_set"],
            str(body.get("description", "")),
        )
        return json_response({"data": result.entity, "meta": {}})

    def one(product_id: int, metafield_id: int) -> dict:
        for m in store.product_metafields(product_id):
            if m["id"] == metafield_id:
                return m
        raise NotFound(f"metafield {metafield_id}")

    @bp.get("/catalog/products/<int:product_id>/metafields/<int:metafield_id>")
    def get_metafield(store_hash: str, product_id: int, metafield_id: int) -> Response:
        return json_response({"data": one(product_id, metafield_id), "meta": {}})

    @bp.put("/catalog/products/<int:product_id>/metafields/<int:metafield_id>")
    def update_metafield(store_hash: str, product_id: int, metafield_id: int) -> Response:
        current = one(product_id, metafield_id)
        body = body_object()
        result = store.set_metafield(
            product_id,
            body.get("namespace", current["namespace"]),
            body.get("key", current["key"]),
            body.get("value", current["value"]),
            body.get("permission_set", current["permission_set"]),
            str(body.get("description", current["description"])),
            metafield_id,
        )
        return json_response({"data": result.entity, "meta": {}})

    @bp.delete("/catalog/products/<int:product_id>/metafields/<int:metafield_id>")
    def delete_metafield(store_hash: str, product_id: int, metafield_id: int) -> Response:
        store.delete_metafield(product_id, metafield_id)
        return Response(status=204)

    return bp
