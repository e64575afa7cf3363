"""/v3/pricelists, /v3/pricelists/{id} and /v3/pricelists/assignments (price_lists.v3.yml)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from sandbox.bigcommerce_api.http import (
    V3,
    ApiError,
    body_object,
    cursor_paged,
    int_arg,
    int_list,
    json_response,
)
from sandbox.store import Store, parse_date_filter


def _after(stamp: str, bound: float) -> bool:
    return parse_date_filter(stamp, 0) > bound


def price_lists_blueprint(store: Store) -> Blueprint:
    bp = Blueprint("price_lists", __name__, url_prefix=V3)

    @bp.get("/pricelists")
    def list_price_lists(store_hash: str) -> Response:
        items = store.price_lists()
        ids = int_list("id:in", request.args.get("id:in"))
        if ids is not None:
            items = [p for p in items if p["id"] in set(ids)]
        if request.args.get("name"):
            items = [p for p in items if p["name"] == request.args["name"]]
        if request.args.get("name:like"):
            needle = request.args["name:like"].lower()
            items = [p for p in items if needle in p["name"].lower()]
        for name, key, low in (
            ("date_modified:min", "date_modified", True),
            ("date_modified:max", "date_modified", False),
            ("date_created:min", "date_created", True),
            ("date_created:max", "date_created", False),
        ):
            if request.args.get(name):
                try:
                    bound = parse_date_filter(request.args[name], store.clock())
                except ValueError:
                    raise ApiError(422, f"The filter {name} is not a valid date", {name: "invalid"}) from None
                items = [
                    p for p in items if _after(p[key], bound) == low or parse_date_filter(p[key], 0) == bound
                ]
        return cursor_paged(items)

    @bp.post("/pricelists")
    def create_price_list(store_hash: str) -> Response:
        body = body_object()
        result = store.create_price_list(body.get("name"), bool(body.get("active", True)))  # type: ignore[arg-type]
        return json_response({"data": result.entity, "meta": {}})

    @bp.delete("/pricelists")
    def delete_price_lists(store_hash: str) -> Response:
        ids = int_list("id:in", request.args.get("id:in"))
        if request.args.get("name"):
            ids = (ids or []) + [p["id"] for p in store.price_lists() if p["name"] == request.args["name"]]
        if not ids:
            raise ApiError(422, "A filter is required to delete price lists", {"id:in": "required"})
        store.delete_price_lists(ids)
        return Response(status=204)

    @bp.get("/pricelists/<int:price_list_id>")
    def get_price_list(store_hash: str, price_list_id: int) -> Response:
        return json_response({"data": store.price_list(price_list_id), "meta": {}})

    @bp.put("/pricelists/<int:price_list_id>")
    def update_price_list(store_hash: str, price_list_id: int) -> Response:
        body = body_object()
        active = body.get("active")
        if active is not None and not isinstance(active, bool):
            raise ApiError(422, "active must be a boolean", {"active": "invalid"})
        result = store.update_price_list(price_list_id, body.get("name"), active)
        return json_response({"data": result.entity, "meta": {}})

    @bp.delete("/pricelists/<int:price_list_id>")
    def delete_price_list(store_hash: str, price_list_id: int) -> Response:
        store.delete_price_list(price_list_id)
        return Response(status=204)

    def assignment_filters() -> dict[str, set[int]]:
        out: dict[str, set[int]] = {}
        for key in ("id", "price_list_id", "customer_group_id", "channel_id"):
            values = set(int_list(f"{key}:in", request.args.get(f"{key}:in")) or [])
            single = int_arg(key)
            if single is not None:
                values.add(single)
            if values:
                out[key] = values
        return out

    @bp.get("/pricelists/assignments")
    def list_assignments(store_hash: str) -> Response:
        filters = assignment_filters()
        items = [a for a in store.price_list_assignments() if all(a.get(k) in v for k, v in filters.items())]
        return cursor_paged(items)

    @bp.post("/pricelists/assignments")
    def create_assignments(store_hash: str) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, list) or not body or not all(isinstance(a, dict) for a in body):
            raise ApiError(422, "Input is invalid.", {"body": "expected a JSON array of assignments"})
        for a in body:
            if not isinstance(a.get("price_list_id"), int):
                raise ApiError(422, "price_list_id is required", {"price_list_id": "required"})
            store.assign_price_list(a["price_list_id"], a.get("channel_id"), a.get("customer_group_id"))
        return json_response({"data": [], "meta": {}})

    @bp.delete("/pricelists/assignments")
    def delete_assignments(store_hash: str) -> Response:
        filters = assignment_filters()
        if not filters:
            raise ApiError(
                422, "A filter is required to delete price list assignments", {"id:in": "required"}
            )
        ids = [
            a["id"] for a in store.price_list_assignments() if all(a.get(k) in v for k, v in filters.items())
        ]
        if ids:
            store.delete_price_list_assignments(assignment_ids=ids)
        return Response(status=204)

    @bp.put("/pricelists/<int:price_list_id>/assignments")
    def upsert_assignment(store_hash: str, price_list_id: int) -> Response:
        body = body_object()
        result = store.assign_price_list(price_list_id, body.get("channel_id"), body.get("customer_group_id"))
        return json_response({"data": result.entity, "meta": {}})

    return bp
