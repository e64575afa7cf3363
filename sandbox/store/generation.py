"""Generating a deterministic catalogue with the variety real stores have: categories, brands, products;
their variants, images and custom fields are generated on first use (`_details`)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from typing import Any

from sandbox.store.common import EPOCH_BASE, _Dice, _scaled, category_count, slugify
from sandbox.store.shapes import EAGER_DETAILS_UP_TO
from sandbox.store.state import StoreState
from sandbox.store.vocabulary import (
    _ADJECTIVES,
    _BRANDS,
    _DESCRIPTIONS,
    _MATERIALS,
    _NOUNS,
    _SLUGS,
    _SUB_CATEGORIES,
    _TOP_CATEGORIES,
)


class CatalogueGeneration(StoreState):
    """The catalogue of a seed: generated once at start, big stores fill details in the background."""

    def _start_generation(self, products: int) -> None:
        if products <= EAGER_DETAILS_UP_TO:
            self._fill_details()
        else:
            threading.Thread(target=self._fill_details, name="sandbox-store-details", daemon=True).start()

    def _fill_details(self) -> None:
        started = time.perf_counter()
        pids = list(self._ids)
        for i in range(0, len(pids), 250):  # short lock holds: requests interleave
            with self._lock:
                for pid in pids[i : i + 250]:
                    if pid in self._products:
                        self._details(pid)
            time.sleep(0)
        self.details_seconds = time.perf_counter() - started
        self._ready.set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once every generated product has its variants, images and custom fields."""
        return self._ready.wait(timeout)

    def _generate(self, n: int, rng: random.Random) -> None:
        self._generate_categories(category_count(n), rng)
        self._generate_brands(_scaled(n, 8, len(_BRANDS), 2000), rng)
        leaves = [
            c for c in self._categories if not any(x["parent_id"] == c for x in self._categories.values())
        ]
        all_categories = list(self._categories)
        brands = list(self._brands)
        self._by_category = {c: set() for c in self._categories}
        dice = _Dice(rng)
        for _ in range(n):
            self._generate_product(dice, leaves, all_categories, brands)

    def _generate_categories(self, count: int, rng: random.Random) -> None:
        tops = max(5, count // 12)
        depth: dict[int, int] = {}
        names_used: dict[int, set[str]] = {}

        def add(name: str, parent: int) -> int:
            siblings = names_used.setdefault(parent, set())
            base, k = name, 2
            while name in siblings:
                name, k = f"{base} {k}", k + 1
            siblings.add(name)
            cid = self._id("category")
            parent_path = self._categories[parent]["path"] if parent else "/"
            self._categories[cid] = {
                "id": cid,
                "parent_id": parent,
                "name": name[:50],
                "path": f"{parent_path}{slugify(name)}/",
                "is_visible": rng.random() > 0.05,
                "sort_order": len(siblings) - 1,
                "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "is_customized": rng.random() < 0.2,
            }
            depth[cid] = 0 if not parent else depth[parent] + 1
            return cid

        for name in _TOP_CATEGORIES[:tops] if tops <= len(_TOP_CATEGORIES) else _TOP_CATEGORIES:
            add(name, 0)
        while len(self._categories) < tops:
            add(f"Collection {len(self._categories)}", 0)
        # guarantee depth: one chain four levels deep, then grow randomly up to depth 3 (4 levels)
        chain = next(iter(self._categories))
        for _ in range(3):
            chain = add(rng.choice(_SUB_CATEGORIES), chain)
        while len(self._categories) < count:
            parent = rng.choice([c for c in self._categories if depth[c] < 3])
            add(rng.choice(_SUB_CATEGORIES), parent)

    def _generate_brands(self, count: int, rng: random.Random) -> None:
        for name in _BRANDS[:count]:
            bid = self._id("brand")
            self._brands[bid] = {
                "id": bid,
                "name": name,
                "search_keywords": name.lower(),
                "image_url": ""
                if rng.random() < 0.5
                else f"https://cdn11.bigcommerce.com/s-{self.store_hash}/product_images/{slugify(name)}.png",
            }

    def _generate_product(
        self, d: _Dice, leaves: list[int], all_categories: list[int], brands: list[int]
    ) -> None:
        r, pick, between = d.r, d.pick, d.between
        pid = self._next["product"]
        self._next["product"] = pid + 1
        adjective, material, noun = pick(_ADJECTIVES), pick(_MATERIALS), pick(_NOUNS)
        name = f"{adjective} {material} {noun} {pid}"
        price = 0.0 if r() < 0.01 else round(2 + r() * 398, 2)
        roll = r()
        sale = (
            0.0
            if roll < 0.6 or price == 0
            else (
                round(price * pick((0.5, 0.75, 0.8, 0.9)), 2)
                if roll < 0.85
                else price
                if roll < 0.92
                else round(price + pick((1, 5, 10)), 2)
            )
        )
        has_variants = r() < 0.3
        roll = r()
        if has_variants:
            tracking = "variant" if roll < 0.5 else "product" if roll < 0.75 else "none"
        else:
            tracking = "product" if roll < 0.5 else "none"
        categories: list[int] = (
            []
            if r() < 0.03
            else sorted({pick(leaves if r() < 0.8 else all_categories) for _ in range(between(1, 3))})
        )
        created = EPOCH_BASE + between(0, 300 * 86400)
        availability_roll = r()
        core: dict[str, Any] = {
            "id": pid,
            "name": name,
            "sku": "" if r() < 0.04 else f"SKU-{pid:06d}",
            "description": pick(_DESCRIPTIONS),
            "weight": round(0.1 + r() * 12, 2),
            "price": price,
            "cost_price": round(price * 0.4, 2) if r() < 0.5 else 0,
            "retail_price": 0 if r() < 0.7 else round(price * 1.2, 2),
            "sale_price": sale,
            "categories": categories,
            "brand_id": 0 if r() < 0.15 or not brands else pick(brands),
            "inventory_level": 0,
            "inventory_tracking": tracking,
            "total_sold": between(0, 500),
            "is_visible": r() > 0.1,
            "availability": "disabled"
            if availability_roll < 0.05
            else "preorder"
            if availability_roll < 0.07
            else "available",
            "is_featured": r() < 0.05,
            "url": f"/{_SLUGS[adjective]}-{_SLUGS[material]}-{_SLUGS[noun]}-{pid}/",
            "url_customized": r() < 0.1,
            "created": created,
            "base_variant_id": None,
        }
        if tracking == "product":
            core["inventory_level"] = 0 if r() < 0.2 else between(1, 500)
        self._products[pid] = core
        self._names[name] = pid
        self._ids.append(pid)
        self._modified[pid] = created + between(0, 200 * 86400)
        by_category = self._by_category
        for cid in categories:
            by_category[cid].add(pid)
        if not has_variants:
            core["base_variant_id"] = pid * 10
        self._pending.add(pid)  # variants, images, custom fields: generated on first use
