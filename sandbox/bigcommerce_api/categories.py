"""/v3/catalog/trees (a tree per channel), /v3/catalog/trees/categories, /v3/catalog/trees/{id}/categories,
/v3/catalog/categories (the default tree) and /v3/catalog/brands."""

from __future__ import annotations

from flask import Blueprint, Response, request

from sandbox.bigcommerce_api.http import (
    V3,
    ApiError,
    bool_arg,
    csv_arg,
    int_arg,
    int_list,
    json_response,
    paged,
    shape_fields,
)
from sandbox.store import NotFound, Store


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
        items = store.trees()
        ids = int_list("id:in", request.args.get("id:in"))
        if ids is not None:
            items = [t for t in items if t["id"] in set(ids)]
        channels = int_list("channel_id:in", request.args.get("channel_id:in"))
        if channels is not None:
            items = [t for t in items if set(t["channels"]) & set(channels)]
        return paged(items)

    @bp.put("/catalog/trees")
    def upsert_trees(store_hash: str) -> Response:
        """Renames existing trees (the sandbox makes no new trees: one per channel exists already)."""
        body = request.get_json(silent=True)
        if not isinstance(body, list) or not all(isinstance(t, dict) for t in body):
            raise ApiError(422, "Input is invalid.", {"body": "expected a JSON array of trees"})
        out = []
        for tree in body:
            if not isinstance(tree.get("id"), int):
                raise ApiError(
                    422, "Creating category trees is not supported by the sandbox", {"id": "required"}
                )
            try:
                out.append(store.update_tree(tree["id"], tree.get("name")).entity)  # type: ignore[arg-type]
            except NotFound:
                raise ApiError(422, f"Category tree {tree['id']} does not exist", {"id": "invalid"}) from None
        return json_response({"data": out, "meta": {}})

    @bp.get("/catalog/trees/<int:tree_id>/categories")
    def nested_tree(store_hash: str, tree_id: int) -> Response:
        """One tree as nested nodes (id, parent_id, depth, path, name, is_visible, url, children)."""
        if tree_id not in {t["id"] for t in store.trees()}:
            raise ApiError(404, f"Category tree {tree_id} not found")
        max_depth = int_arg("depth")
        items = [c for c in store.category_tree() if c["tree_id"] == tree_id]
        children: dict[int, list[dict]] = {}
        for c in sorted(items, key=lambda c: (c["sort_order"], c["category_id"])):
            children.setdefault(c["parent_id"], []).append(c)

        def node(c: dict, depth: int, path: list[int]) -> dict:
            below = children.get(c["category_id"], []) if max_depth is None or depth < max_depth else []
            return {
                "id": c["category_id"],
                "parent_id": c["parent_id"],
                "depth": depth,
                "path": path,
                "name": c["name"],
                "is_visible": c["is_visible"],
                "children": [node(k, depth + 1, [*path, c["category_id"]]) for k in below],
                "url": c["url"]["path"],
            }

        return json_response({"data": [node(c, 1, []) for c in children.get(0, [])], "meta": {}})

    @bp.post("/catalog/trees/categories")
    def create_tree_categories(store_hash: str) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, list) or not body or not all(isinstance(c, dict) for c in body):
            raise ApiError(422, "Input is invalid.", {"body": "expected a JSON array of categories"})
        created = []
        for item in body:
            result = store.create_category(
                item.get("name"),  # type: ignore[arg-type]
                int(item.get("parent_id") or 0),
                item.get("tree_id"),
            )
            created.append(result.entity)
        return json_response(
            {"data": created, "meta": {"total": len(created), "success": len(created), "failed": 0}}, 201
        )

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
