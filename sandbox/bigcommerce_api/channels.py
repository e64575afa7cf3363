"""/v3/channels, /v3/channels/{id}, /v3/channels/{id}/site."""

from __future__ import annotations

from flask import Blueprint, Response

from sandbox.bigcommerce_api.http import V3, ApiError, json_response, paged
from sandbox.store import Store, iso


def channels_blueprint(store: Store) -> Blueprint:
    bp = Blueprint("channels", __name__, url_prefix=V3)

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

    @bp.get("/channels")
    def channels(store_hash: str) -> Response:
        return paged([channel(1)])

    @bp.get("/channels/<int:channel_id>")
    def get_channel(store_hash: str, channel_id: int) -> Response:
        return json_response({"data": channel(channel_id), "meta": {}})

    @bp.get("/channels/<int:channel_id>/site")
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

    return bp
