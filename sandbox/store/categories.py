"""Categories (a tree per storefront channel; tree 1 is the default channel's) and brands.

Callbacks: store/category/{created,updated,deleted} {"type": "category", "id"} as always; with
multi-storefront callbacks on (`channel_callbacks`), also
store/channel/{id}/category/{created,updated,deleted}
{"category_id", "tree_id"} for the channel of the category's tree, and
store/channel/{id}/category/product/{assigned,unassigned} {"product_id"} when a product's categories in that
channel's tree change (webhook-events-channels.mdx)."""

from __future__ import annotations

import uuid

from sandbox.store.common import Invalid, NotFound, Result, slugify
from sandbox.store.state import StoreState


class Categories(StoreState):
    """The category tree: read, create, rename/move, delete (store/category/* callbacks); brands."""

    def category_tree(self) -> list[dict]:
        with self._lock:
            return [self._render_category_tree_item(c) for c in self._categories.values()]

    def categories(self) -> list[dict]:
        """The legacy `/catalog/categories`: the default tree's (tree 1) categories only."""
        with self._lock:
            return [self._render_category(c) for c in self._categories.values() if c.get("tree_id", 1) == 1]

    def category_tree_id(self, category_id: int) -> int:
        with self._lock:
            return self._category(category_id).get("tree_id", 1)

    def _channel_category_events(self, kind: str, cid: int, tree_id: int) -> list[tuple[str, dict]]:
        if not self.channel_callbacks:
            return []
        tree = self._trees.get(tree_id)
        return [
            (f"store/channel/{ch}/category/{kind}", {"category_id": cid, "tree_id": tree_id})
            for ch in (tree["channels"] if tree else ())
        ]

    def _category_assignment_events(self, pid: int, old: list[int], new: list[int]) -> list[tuple[str, dict]]:
        """store/channel/{id}/category/product/assigned|unassigned for the trees whose categories changed."""
        if not self.channel_callbacks:
            return []
        out = []
        for kind, cids in (("assigned", set(new) - set(old)), ("unassigned", set(old) - set(new))):
            trees = sorted({self._categories[c].get("tree_id", 1) for c in cids if c in self._categories})
            for tree_id in trees:
                for ch in self._trees.get(tree_id, {}).get("channels", ()):
                    out.append((f"store/channel/{ch}/category/product/{kind}", {"product_id": pid}))
        return out

    def category_descendants(self, category_id: int) -> list[int]:
        with self._lock:
            out, frontier = [], [category_id]
            while frontier:
                parent = frontier.pop()
                children = [c for c, v in self._categories.items() if v["parent_id"] == parent]
                out.extend(children)
                frontier.extend(children)
            return out

    def brands(self) -> list[dict]:
        with self._lock:
            return [self._render_brand(b) for b in self._brands.values()]

    def _category(self, category_id: int) -> dict:
        c = self._categories.get(category_id)
        if c is None:
            raise NotFound(f"category {category_id}")
        return c

    def _repath(self, cid: int) -> None:
        c = self._categories[cid]
        parent_path = self._categories[c["parent_id"]]["path"] if c["parent_id"] else "/"
        c["path"] = f"{parent_path}{slugify(c['name'])}/"
        for child in [k for k, v in self._categories.items() if v["parent_id"] == cid]:
            self._repath(child)

    def create_category(self, name: str, parent_id: int = 0, tree_id: int | None = None) -> Result:
        """A new category under `parent_id` (its tree), or at the top of `tree_id` (default: tree 1)."""
        if not isinstance(name, str) or not 1 <= len(name) <= 50:
            raise Invalid("name must be 1-50 characters", {"name": "invalid"})
        with self._lock:
            if parent_id:
                parent_tree = self._category(parent_id).get("tree_id", 1)
                if tree_id is not None and tree_id != parent_tree:
                    raise Invalid("The parent category is in another tree", {"parent_id": "tree"})
                tree_id = parent_tree
            tree_id = tree_id or 1
            if tree_id not in self._trees:
                raise Invalid(
                    f"Category tree {tree_id} does not exist", {"tree_id": "not found"}, conflict=True
                )
            if any(
                c["parent_id"] == parent_id and c["name"] == name and c.get("tree_id", 1) == tree_id
                for c in self._categories.values()
            ):
                raise Invalid(
                    "A sibling category already has that name", {"name": "duplicate"}, conflict=True
                )
            cid = self._id("category")
            self._categories[cid] = {
                "id": cid,
                "parent_id": parent_id,
                "name": name,
                "path": "",
                "is_visible": True,
                "sort_order": 0,
                "uuid": str(uuid.uuid4()),
                "is_customized": False,
                "tree_id": tree_id,
            }
            self._by_category[cid] = set()
            self._repath(cid)
            entity = self._render_category_tree_item(self._categories[cid])
            pending = [("store/category/created", {"type": "category", "id": cid})]
            pending += self._channel_category_events("created", cid, tree_id)
        return self._emit(pending, entity)

    def update_category(
        self,
        category_id: int,
        name: str | None = None,
        parent_id: int | None = None,
        is_visible: bool | None = None,
    ) -> Result:
        """Rename and/or move a category (its URL path follows, with its descendants')."""
        with self._lock:
            c = self._category(category_id)
            if parent_id is not None and parent_id != c["parent_id"]:
                if parent_id == category_id or parent_id in self.category_descendants(category_id):
                    raise Invalid("A category cannot move under itself", {"parent_id": "cycle"})
                if parent_id and self._category(parent_id).get("tree_id", 1) != c.get("tree_id", 1):
                    raise Invalid("A category cannot move to another tree", {"parent_id": "tree"})
                c["parent_id"] = parent_id
            if name is not None:
                if not isinstance(name, str) or not 1 <= len(name) <= 50:
                    raise Invalid("name must be 1-50 characters", {"name": "invalid"})
                c["name"] = name
            if is_visible is not None:
                c["is_visible"] = bool(is_visible)
            self._repath(category_id)
            entity = self._render_category_tree_item(c)
            pending = [("store/category/updated", {"type": "category", "id": category_id})]
            pending += self._channel_category_events("updated", category_id, c.get("tree_id", 1))
        return self._emit(pending, entity)

    def delete_category(self, category_id: int) -> Result:
        """Delete a category and its subcategories; products lose the assignment (no product callbacks)."""
        with self._lock:
            tree_id = self._category(category_id).get("tree_id", 1)
            doomed = [category_id, *self.category_descendants(category_id)]
            for cid in doomed:
                for pid in self._by_category.pop(cid, set()):
                    core = self._products[pid]
                    core["categories"] = [c for c in core["categories"] if c != cid]
                    self._touch(pid)
                del self._categories[cid]
            pending = [("store/category/deleted", {"type": "category", "id": cid}) for cid in doomed]
            for cid in doomed:
                pending += self._channel_category_events("deleted", cid, tree_id)
        return self._emit(pending)
