"""Categories (one tree, the default channel's) and brands: queries and mutations."""

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
        with self._lock:
            return [self._render_category(c) for c in self._categories.values()]

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

    def create_category(self, name: str, parent_id: int = 0) -> Result:
        if not isinstance(name, str) or not 1 <= len(name) <= 50:
            raise Invalid("name must be 1-50 characters", {"name": "invalid"})
        with self._lock:
            if parent_id:
                self._category(parent_id)
            if any(c["parent_id"] == parent_id and c["name"] == name for c in self._categories.values()):
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
            }
            self._repath(cid)
            entity = self._render_category_tree_item(self._categories[cid])
        return self._emit([("store/category/created", {"type": "category", "id": cid})], entity)

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
                if parent_id:
                    self._category(parent_id)
                c["parent_id"] = parent_id
            if name is not None:
                if not isinstance(name, str) or not 1 <= len(name) <= 50:
                    raise Invalid("name must be 1-50 characters", {"name": "invalid"})
                c["name"] = name
            if is_visible is not None:
                c["is_visible"] = bool(is_visible)
            self._repath(category_id)
            entity = self._render_category_tree_item(c)
        return self._emit([("store/category/updated", {"type": "category", "id": category_id})], entity)

    def delete_category(self, category_id: int) -> Result:
        """Delete a category and its subcategories; products lose the assignment (no product callbacks)."""
        with self._lock:
            self._category(category_id)
            doomed = [category_id, *self.category_descendants(category_id)]
            for cid in doomed:
                for pid in self._by_category.pop(cid, set()):
                    core = self._products[pid]
                    core["categories"] = [c for c in core["categories"] if c != cid]
                    self._touch(pid)
                del self._categories[cid]
        return self._emit([("store/category/deleted", {"type": "category", "id": cid}) for cid in doomed])
