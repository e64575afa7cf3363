"""A product's sub-resources: variants, images, custom fields; and the category assignments of products."""

from __future__ import annotations

from flask import Blueprint, Response, request

from sandbox.bigcommerce_api.http import V3, ApiError, body_object, int_list, json_response, paged
from sandbox.store import NotFound, Store


def product_parts_blueprint(store: Store) -> Blueprint:
    bp = Blueprint("product_parts", __name__, url_prefix=V3)

    @bp.get("/catalog/products/<int:product_id>/variants")
    def list_variants(store_hash: str, product_id: int) -> Response:
        return paged(store.variants(product_id))

    @bp.get("/catalog/products/<int:product_id>/variants/<int:variant_id>")
    def get_variant(store_hash: str, product_id: int, variant_id: int) -> Response:
        for variant in store.variants(product_id):
            if variant["id"] == variant_id:
                return json_response({"data": variant, "meta": {}})
        raise NotFound(f"variant {variant_id}")

    @bp.put("/catalog/products/<int:product_id>/variants/<int:variant_id>")
    def update_variant(store_hash: str, product_id: int, variant_id: int) -> Response:
        body = {
            k: v
            for k, v in body_object().items()
            if k not in ("id", "product_id", "option_values", "calculated_price", "sku_id")
        }
        result = store.update_variant(product_id, variant_id, **body)
        return json_response({"data": result.entity, "meta": {}})

    @bp.delete("/catalog/products/<int:product_id>/variants/<int:variant_id>")
    def delete_variant(store_hash: str, product_id: int, variant_id: int) -> Response:
        store.delete_variant(product_id, variant_id)
        return Response(status=204)

    @bp.get("/catalog/products/<int:product_id>/images")
    def list_images(store_hash: str, product_id: int) -> Response:
        # The spec also documents a 204 for a product without images; a 200 with an empty list is what
        # clients commonly see, and what this sandbox answers.
        return paged(store.images(product_id))

    @bp.post("/catalog/products/<int:product_id>/images")
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

    @bp.delete("/catalog/products/<int:product_id>/images/<int:image_id>")
    def delete_image(store_hash: str, product_id: int, image_id: int) -> Response:
        store.delete_image(product_id, image_id)
        return Response(status=204)

    @bp.get("/catalog/products/<int:product_id>/custom-fields")
    def list_custom_fields(store_hash: str, product_id: int) -> Response:
        return paged(store.custom_fields(product_id))

    @bp.post("/catalog/products/<int:product_id>/custom-fields")
    def create_custom_field(store_hash: str, product_id: int) -> Response:
        body = body_object()
        result = store.set_custom_field(product_id, body.get("name"), body.get("value"))  # type: ignore[arg-type]
        return json_response({"data": result.entity, "meta": {}})

    @bp.put("/catalog/products/<int:product_id>/custom-fields/<int:field_id>")
    def update_custom_field(store_hash: str, product_id: int, field_id: int) -> Response:
        body = body_object()
        current = next((f for f in store.custom_fields(product_id) if f["id"] == field_id), None)
        if current is None:
            raise NotFound(f"custom field {field_id}")
        result = store.set_custom_field(
            product_id, body.get("name", current["name"]), body.get("value", current["value"]), field_id
        )
        return json_response({"data": result.entity, "meta": {}})

    @bp.delete("/catalog/products/<int:product_id>/custom-fields/<int:field_id>")
    def delete_custom_field(store_hash: str, product_id: int, field_id: int) -> Response:
        store.delete_custom_field(product_id, field_id)
        return Response(status=204)

    @bp.get("/catalog/products/category-assignments")
    def category_assignments(store_hash: str) -> Response:
        items = store.category_assignments(
            int_list("product_id:in", request.args.get("product_id:in")),
            int_list("category_id:in", request.args.get("category_id:in")),
        )
        return paged(items)

    return bp
