"""/v3/catalog/trees, /v3/catalog/trees/categories, /v3/catalog/categories and /v3/catalog/brands."""

from __future__ import annotations

from flask import Blueprint, Response, request

from sandbox.bigcommerce_api.http import V3, bool_arg, csv_arg, int_arg, int_list, paged, shape_fields
from sandbox.store import Store


def categories_blueprint(store: Store) -> Blueprint:
    bp = Blueprint("categories", __name__, url_prefix=V3)

    @bp.get("/catalog/trees/categories")
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

    @bp.get("/catalog/trees")
    def trees(store_hash: str) -> Response:
        return paged([{"id": 1, "name": "Default tree", "channels": [1]}])

    @bp.get("/catalog/categories")
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

    @bp.get("/catalog/brands")
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

    return bp


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
