"""/v3/channels, /v3/channels/{id}, its site and currency assignments, and /v3/sites."""

from __future__ import annotations

from flask import Blueprint, Response, request

from sandbox.bigcommerce_api.http import V3, ApiError, body_object, csv_arg, int_list, json_response, paged
from sandbox.store import Invalid, NotFound, Store


def channels_blueprint(store: Store) -> Blueprint:
    bp = Blueprint("channels", __name__, url_prefix=V3)

    def channel(channel_id: int) -> dict:
        try:
            return store.channel(channel_id)
        except NotFound:
            raise ApiError(404, "Not found") from None

    @bp.get("/channels")
    def channels(store_hash: str) -> Response:
        """`include=currencies` adds each channel's currencies (the list has none without it)."""
        items = store.channels()
        for name, key in (("status:in", "status"), ("type:in", "type"), ("platform:in", "platform")):
            wanted = csv_arg(name)
            if wanted:
                items = [c for c in items if c[key] in wanted]
        if request.args.get("available") is not None:
            available = request.args["available"].lower() in ("true", "1")
            items = [c for c in items if (c["status"] in ("active", "prelaunch", "connected")) == available]
        if "currencies" not in csv_arg("include"):
            items = [{k: v for k, v in c.items() if k != "currencies"} for c in items]
        return paged(items)

    @bp.get("/channels/<int:channel_id>")
    def get_channel(store_hash: str, channel_id: int) -> Response:
        return json_response({"data": channel(channel_id), "meta": {}})

    @bp.put("/channels/<int:channel_id>")
    def update_channel(store_hash: str, channel_id: int) -> Response:
        channel(channel_id)
        try:
            result = store.update_channel(channel_id, **body_object())
        except Invalid as exc:
            raise ApiError(422, str(exc), exc.errors) from None
        assert result.entity is not None
        entity = {k: v for k, v in result.entity.items() if k != "currencies"}
        return json_response({"data": entity, "meta": {}})

    @bp.get("/channels/<int:channel_id>/site")
    def get_site(store_hash: str, channel_id: int) -> Response:
        channel(channel_id)
        return json_response({"data": store.site(channel_id), "meta": {}})

    @bp.put("/channels/<int:channel_id>/site")
    def update_site(store_hash: str, channel_id: int) -> Response:
        channel(channel_id)
        body = body_object()
        try:
            result = store.set_site_url(channel_id, body.get("url"))  # type: ignore[arg-type]
        except Invalid as exc:
            raise ApiError(422, str(exc), exc.errors) from None
        return json_response({"data": result.entity, "meta": {}})

    @bp.get("/channels/<int:channel_id>/currency-assignments")
    def channel_currencies(store_hash: str, channel_id: int) -> Response:
        channel(channel_id)
        return json_response({"data": store.currency_assignments(channel_id)[0], "meta": {}})

    @bp.get("/channels/currency-assignments")
    def all_currencies(store_hash: str) -> Response:
        return json_response({"data": store.currency_assignments(), "meta": {}})

    @bp.get("/sites")
    def sites(store_hash: str) -> Response:
        items = store.sites()
        wanted = int_list("channel_id:in", request.args.get("channel_id:in"))
        if wanted is not None:
            items = [s for s in items if s["channel_id"] in set(wanted)]
        url_types = csv_arg("url_type:in")
        if url_types:
            items = [s for s in items if any(u["type"] in url_types for u in s["urls"])]
        return paged(items)

    @bp.get("/sites/<int:site_id>")
    def get_site_by_id(store_hash: str, site_id: int) -> Response:
        for site in store.sites():
            if site["id"] == site_id:
                return json_response({"data": site, "meta": {}})
        raise ApiError(404, f"Site {site_id} not found")

    return bp
