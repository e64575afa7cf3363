"""/v3/catalog/products/channel-assignments: which channels sell which products (GET, PUT, DELETE)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from sandbox.bigcommerce_api.http import V3, ApiError, int_list, paged
from sandbox.store import NotFound, Store


def assignments_blueprint(store: Store) -> Blueprint:
    bp = Blueprint("channel_assignments", __name__, url_prefix=V3)

    @bp.get("/catalog/products/channel-assignments")
    def list_assignments(store_hash: str) -> Response:
        items = store.channel_assignments(
            int_list("product_id:in", request.args.get("product_id:in")),
            int_list("channel_id:in", request.args.get("channel_id:in")),
        )
        return paged(items)

    @bp.put("/catalog/products/channel-assignments")
    def assign(store_hash: str) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, list) or not all(
            isinstance(a, dict)
            and isinstance(a.get("product_id"), int)
            and isinstance(a.get("channel_id"), int)
            for a in body
        ):
            raise ApiError(422, "Input is invalid.", {"body": "expected [{product_id, channel_id}, ...]"})
        by_channel: dict[int, list[int]] = {}
        for a in body:
            by_channel.setdefault(a["channel_id"], []).append(a["product_id"])
        known = set(store.channel_ids())
        unknown = sorted(set(by_channel) - known)
        if unknown:
            raise ApiError(422, f"Channel {unknown[0]} does not exist", {"channel_id": "invalid"})
        for channel_id, pids in by_channel.items():
            try:
                store.assign_products(channel_id, pids)
            except NotFound as exc:
                raise ApiError(422, f"The {exc} does not exist", {"product_id": "invalid"}) from None
        return Response(status=204)

    @bp.delete("/catalog/products/channel-assignments")
    def unassign(store_hash: str) -> Response:
        pids = int_list("product_id:in", request.args.get("product_id:in"))
        channels = int_list("channel_id:in", request.args.get("channel_id:in"))
        if not pids and not channels:
            raise ApiError(422, "A filter must be supplied", {"product_id:in": "required"})
        for channel_id in channels or store.channel_ids():
            if channel_id in store.channel_ids():
                store.unassign_products(channel_id, pids if pids else store.channel_product_ids(channel_id))
        return Response(status=204)

    return bp
