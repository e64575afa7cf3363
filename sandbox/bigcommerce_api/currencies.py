"""/v2/currencies and /v2/currencies/{id}: the store's currencies (a plain JSON array, v2 style)."""

from __future__ import annotations

from flask import Blueprint, Response

from sandbox.bigcommerce_api.http import V2, ApiError, json_response, page_args
from sandbox.store import Store


def currencies_blueprint(store: Store) -> Blueprint:
    bp = Blueprint("currencies", __name__, url_prefix=V2)

    @bp.get("/currencies")
    def currencies(store_hash: str) -> Response:
        page, limit = page_args()
        items = store.currencies()
        return json_response(items[(page - 1) * limit : page * limit])

    @bp.get("/currencies/<int:currency_id>")
    def currency(store_hash: str, currency_id: int) -> Response:
        for item in store.currencies():
            if item["id"] == currency_id:
                return json_response(item)
        raise ApiError(404, "The requested resource was not found.")

    return bp
