"""/v3/pricelists/{id}/records (batched: product_id:in, variant_id:in, currency[:in], paged),
/v3/pricelists/{id}/records/{variant_id} and /v3/pricelists/{id}/records/{variant_id}/{currency_code}."""

from __future__ import annotations

from flask import Blueprint, Response, request

from sandbox.bigcommerce_api.http import (
    V3,
    ApiError,
    body_object,
    csv_arg,
    cursor_paged,
    int_list,
    json_response,
)
from sandbox.store import NotFound, Store

RECORD_INCLUDES = ("bulk_pricing_tiers", "sku")


def price_records_blueprint(store: Store) -> Blueprint:
    bp = Blueprint("price_records", __name__, url_prefix=V3)

    def includes() -> list[str]:
        return [i for i in csv_arg("include") if i in RECORD_INCLUDES]

    @bp.get("/pricelists/<int:price_list_id>/records")
    def list_records(store_hash: str, price_list_id: int) -> Response:
        currencies = csv_arg("currency:in") + (
            [request.args["currency"]] if request.args.get("currency") else []
        )
        items = store.price_records(
            price_list_id,
            product_ids=int_list("product_id:in", request.args.get("product_id:in")),
            variant_ids=int_list("variant_id:in", request.args.get("variant_id:in")),
            currencies=currencies or None,
            includes=includes(),
        )
        for key in ("price", "sale_price", "retail_price", "map_price", "calculated_price"):
            for suffix, test in (("", float.__eq__), (":min", float.__ge__), (":max", float.__le__)):
                raw = request.args.get(key + suffix)
                if raw:
                    try:
                        bound = float(raw)
                    except ValueError:
                        raise ApiError(
                            422, f"The filter {key}{suffix} must be a number", {key: "invalid"}
                        ) from None
                    items = [r for r in items if key in r and test(float(r[key]), bound)]
        skus = set(csv_arg("sku:in")) | ({request.args["sku"]} if request.args.get("sku") else set())
        if skus:
            found = {r["variant_id"]: r for r in store.price_records(price_list_id, includes=("sku",))}
            items = [r for r in items if found[r["variant_id"]].get("sku") in skus]
        return cursor_paged(items)

    @bp.put("/pricelists/<int:price_list_id>/records")
    def upsert_records(store_hash: str, price_list_id: int) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, list):
            raise ApiError(422, "Input is invalid.", {"body": "expected a JSON array of price records"})
        try:
            store.upsert_price_records(price_list_id, body)
        except NotFound as exc:
            if "price list" in str(exc):
                raise
            raise ApiError(422, f"The {exc} does not exist", {"variant_id": "invalid"}) from None
        return json_response({"data": {}, "meta": {}})

    @bp.delete("/pricelists/<int:price_list_id>/records")
    def delete_records(store_hash: str, price_list_id: int) -> Response:
        store.delete_price_records(
            price_list_id,
            variant_ids=int_list("variant_id:in", request.args.get("variant_id:in")),
            currency=request.args.get("currency") or None,
        )
        return Response(status=204)

    @bp.get("/pricelists/<int:price_list_id>/records/<int:variant_id>")
    def variant_records(store_hash: str, price_list_id: int, variant_id: int) -> Response:
        items = store.price_records(price_list_id, variant_ids=[variant_id], includes=includes())
        return cursor_paged(items)

    def one(price_list_id: int, variant_id: int, currency_code: str) -> dict:
        items = store.price_records(price_list_id, variant_ids=[variant_id], currencies=[currency_code])
        if not items:
            raise NotFound(f"price record {variant_id}/{currency_code}")
        return items[0]

    @bp.get("/pricelists/<int:price_list_id>/records/<int:variant_id>/<currency_code>")
    def get_record(store_hash: str, price_list_id: int, variant_id: int, currency_code: str) -> Response:
        return json_response({"data": one(price_list_id, variant_id, currency_code), "meta": {}})

    @bp.put("/pricelists/<int:price_list_id>/records/<int:variant_id>/<currency_code>")
    def set_record(store_hash: str, price_list_id: int, variant_id: int, currency_code: str) -> Response:
        body = body_object()
        prices = {k: body.get(k) for k in ("price", "sale_price", "retail_price", "map_price")}
        try:
            result = store.set_price_record(price_list_id, variant_id, currency_code, **prices)
        except NotFound as exc:
            if "price list" in str(exc):
                raise
            raise ApiError(422, f"The {exc} does not exist", {"variant_id": "invalid"}) from None
        return json_response({"data": result.entity, "meta": {}})

    @bp.delete("/pricelists/<int:price_list_id>/records/<int:variant_id>/<currency_code>")
    def delete_record(store_hash: str, price_list_id: int, variant_id: int, currency_code: str) -> Response:
        store.delete_price_record(price_list_id, variant_id, currency_code)
        return Response(status=204)

    return bp
