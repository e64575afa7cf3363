"""Read-only queries over the catalogue, answered from precomputed indexes."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

from sandbox.store.common import NotFound
from sandbox.store.shapes import PRODUCT_TEMPLATE
from sandbox.store.state import StoreState


class CatalogueQueries(StoreState):
    """Products (filter, sort, page), their sub-resources, and the snapshot tests compare against."""

    def product_count(self) -> int:
        with self._lock:
            return len(self._ids)

    def product_ids(self) -> list[int]:
        with self._lock:
            return list(self._ids)

    def has_product(self, product_id: int) -> bool:
        with self._lock:
            return product_id in self._products

    def get_product(self, product_id: int, includes: Iterable[str] = ()) -> dict:
        with self._lock:
            core = self._products.get(product_id)
            if core is None:
                raise NotFound(f"product {product_id}")
            return self._render_product(core, includes)

    def query_products(
        self,
        *,
        ids: Iterable[int] | None = None,
        categories: Iterable[int] | None = None,
        modified_min: float | None = None,
        modified_max: float | None = None,
        predicates: Iterable[tuple[str, Callable[[Any], bool]]] = (),
        sort: str = "id",
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
        includes: Iterable[str] = (),
    ) -> tuple[int, list[dict]]:
        """Filter, sort and page the catalogue; returns (total matching, rendered page).

        `ids` and `categories` use the indexes, so `id:in` with 250 ids never scans the catalogue;
        `predicates` are (product field, test) pairs applied to what remains.
        """
        includes = tuple(includes)
        with self._lock:
            if ids is not None:
                candidates = sorted({i for i in ids if i in self._products})
            elif categories is not None:
                cats = [self._by_category.get(c, set()) for c in categories]
                if not cats:
                    chosen: set[int] = set()
                elif self.categories_in == "all":
                    chosen = set.intersection(*cats)
                else:
                    chosen = set().union(*cats)
                candidates = sorted(chosen)
            else:
                candidates = self._ids
            if ids is not None and categories is not None:
                wanted = set().union(*(self._by_category.get(c, set()) for c in categories))
                candidates = [i for i in candidates if i in wanted]
            if modified_min is not None or modified_max is not None:
                lo = modified_min if modified_min is not None else float("-inf")
                hi = modified_max if modified_max is not None else float("inf")
                modified = self._modified
                candidates = [i for i in candidates if lo <= modified[i] <= hi]
            predicates = list(predicates)
            if predicates:
                products = self._products
                candidates = [
                    i
                    for i in candidates
                    if all(test(self._field(products[i], name)) for name, test in predicates)
                ]
            if sort != "id" or descending:
                candidates = self._sorted(candidates, sort, descending)
            total = len(candidates)
            page = candidates[offset : offset + limit]
            return total, [self._render_product(self._products[i], includes) for i in page]

    def _field(self, core: dict, name: str) -> Any:
        """A product field's value as the API shows it, straight from the compact record."""
        if name == "calculated_price":
            return core["sale_price"] if core["sale_price"] and core["sale_price"] > 0 else core["price"]
        if name == "date_modified":
            return self._modified[core["id"]]
        if name == "date_created":
            return core["created"]
        if name == "inventory_level" and core["inventory_tracking"] == "variant":
            self._details(core["id"])
        return core.get(name, PRODUCT_TEMPLATE.get(name))

    def _sorted(self, ids: list[int], sort: str, descending: bool) -> list[int]:
        if sort == "id":
            return sorted(ids, reverse=descending)
        products = self._products
        return sorted(ids, key=lambda i: (self._field(products[i], sort), i), reverse=descending)

    def variants(self, product_id: int) -> list[dict]:
        with self._lock:
            return self._render_variants(self._core(product_id))

    def images(self, product_id: int) -> list[dict]:
        with self._lock:
            self._core(product_id)
            return [self._render_image(product_id, i) for i in self._images.get(product_id, ())]

    def custom_fields(self, product_id: int) -> list[dict]:
        with self._lock:
            self._core(product_id)
            return [dict(f) for f in self._custom_fields.get(product_id, ())]

    def category_assignments(
        self, product_ids: Iterable[int] | None = None, category_ids: Iterable[int] | None = None
    ) -> list[dict]:
        with self._lock:
            if product_ids is not None:
                pids = sorted({p for p in product_ids if p in self._products})
            elif category_ids is not None:
                pids = sorted(set().union(*(self._by_category.get(c, set()) for c in category_ids)))
            else:
                pids = self._ids
            wanted = set(category_ids) if category_ids is not None else None
            return [
                {"product_id": p, "category_id": c}
                for p in pids
                for c in self._products[p]["categories"]
                if wanted is None or c in wanted
            ]

    def snapshot(self) -> dict:
        """Everything a test needs to compute the expected Ometria state, exactly as the API returns it."""
        with self._lock:
            return {
                "store_hash": self.store_hash,
                "products": [
                    self._render_product(self._products[i], ("variants", "images", "custom_fields"))
                    for i in self._ids
                ],
                "categories": [self._render_category_tree_item(c) for c in self._categories.values()],
                "brands": [self._render_brand(b) for b in self._brands.values()],
                "site_url": self.site_url,
                "currency": self.currency,
                "storefronts": self.storefront_snapshot(),
            }

    def storefront_snapshot(self) -> dict:
        """Channels (with site URL, currencies, tree and assigned product ids), trees, currencies, price
        lists, their assignments and records (by list id), and every product metafield."""
        with self._lock:
            return {
                "channels": [
                    {
                        **self._render_channel(ch),
                        "site_url": ch["site_url"],
                        "tree_id": ch["tree_id"],
                        "product_ids": sorted(self._channel_products.get(cid, ())),
                    }
                    for cid, ch in self._channels.items()
                ],
                "trees": self.trees(),
                "currencies": self.currencies(),
                "price_lists": self.price_lists(),
                "price_list_assignments": self.price_list_assignments(),
                "price_records": {str(i): self.price_records(i) for i in self._price_lists},
                "metafields": self.metafields(),
            }

    def random_product_ids(self, rng: random.Random, k: int) -> list[int]:
        with self._lock:
            return rng.sample(self._ids, min(k, len(self._ids)))

    def product_has_option_variants(self, product_id: int) -> bool:
        with self._lock:
            self._details(product_id)
            return bool(self._variants.get(product_id))

    def option_variant_ids(self, product_id: int) -> list[int]:
        with self._lock:
            self._details(product_id)
            return [v["id"] for v in self._variants.get(product_id, ())]

    def image_ids(self, product_id: int) -> list[int]:
        with self._lock:
            self._details(product_id)
            return [i["id"] for i in self._images.get(product_id, ())]

    def category_ids(self) -> list[int]:
        with self._lock:
            return list(self._categories)
