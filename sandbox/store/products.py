"""Product mutations, the way the control panel, the API and orders change a product, and the callbacks
they fire (see the table in `sandbox.store`)."""

from __future__ import annotations

import bisect
import random
from typing import Any

from sandbox.store.common import Invalid, Result, _Dice, slugify
from sandbox.store.shapes import (
    PRODUCT_TEMPLATE,
    SILENT_FIELDS,
)
from sandbox.store.state import StoreState
from sandbox.store.vocabulary import _DESCRIPTIONS, _MATERIALS, _NOUNS


class ProductMutations(StoreState):
    """Create, update, delete products; inventory, sales."""

    def update_product(self, product_id: int, **fields: Any) -> Result:
        with self._lock:
            core = self._core(product_id)
            clean = self._validate_product_fields(fields)
            if self._names.get(clean.get("name"), product_id) != product_id:
                raise Invalid("The product name is a duplicate", {"name": "duplicate"}, conflict=True)
            if "name" in clean:
                self._names.pop(core["name"], None)
                self._names[clean["name"]] = product_id
            changed = set()
            old_categories = list(core["categories"])
            for key, value in clean.items():
                if key == "custom_url":
                    if (value["url"], bool(value.get("is_customized", True))) != (
                        core["url"],
                        core["url_customized"],
                    ):
                        core["url"], core["url_customized"] = (
                            value["url"],
                            bool(value.get("is_customized", True)),
                        )
                        changed.add(key)
                    continue
                if core.get(key, PRODUCT_TEMPLATE.get(key)) != value:
                    if key == "categories":
                        self._set_categories(product_id, core["categories"], value)
                    core[key] = value
                    changed.add(key)
            if "inventory_tracking" in changed:
                self._sync_variant_inventory(core)
            self._touch(product_id)
            pending = []
            if changed - SILENT_FIELDS or not changed:
                pending.append(self._product_event("store/product/updated", product_id))
            if "categories" in changed:
                pending += self._category_assignment_events(product_id, old_categories, core["categories"])
            if "inventory_level" in changed:
                pending.append(
                    (
                        "store/product/inventory/updated",
                        {
                            "type": "product",
                            "id": product_id,
                            "inventory": {
                                "product_id": product_id,
                                "method": "absolute",
                                "value": core["inventory_level"],
                            },
                        },
                    )
                )
            entity = self._render_product(core)
        return self._emit(pending, entity)

    def create_product(
        self, fields: dict | None = None, variants: int = 0, seed: int | None = None
    ) -> Result:
        """Create a product (`fields` given, the rest generated) with `variants` option variants."""
        fields = dict(fields or {})
        with self._lock:
            rng = random.Random(seed if seed is not None else self._next["product"] * 7919 + self.seed)
            clean = self._validate_product_fields(fields)
            pid = self._next["product"]
            name = clean.pop("name", None) or f"New {rng.choice(_MATERIALS)} {rng.choice(_NOUNS)} {pid}"
            if name in self._names:
                raise Invalid("The product name is a duplicate", {"name": "duplicate"}, conflict=True)
            self._id("product")
            self._names[name] = pid
            custom_url = clean.pop("custom_url", None)
            now = int(self.clock())
            core: dict[str, Any] = {
                "id": pid,
                "name": name,
                "sku": f"SKU-{pid:06d}",
                "description": rng.choice(_DESCRIPTIONS),
                "weight": 1.0,
                "price": round(rng.uniform(5, 200), 2),
                "cost_price": 0,
                "retail_price": 0,
                "sale_price": 0,
                "categories": [],
                "brand_id": 0,
                "inventory_level": 0,
                "inventory_tracking": "none",
                "total_sold": 0,
                "is_visible": True,
                "availability": "available",
                "is_featured": False,
                "url": (custom_url or {}).get("url") or f"/{slugify(name)}/",
                "url_customized": bool(custom_url),
                "created": now,
                "base_variant_id": None,
            }
            core.update(clean)
            self._products[pid] = core
            bisect.insort(self._ids, pid)
            self._modified[pid] = now
            self._set_categories(pid, [], core["categories"])
            if 1 in self._channel_products:  # a product created through the API lands on the default channel
                self._channel_products[1].add(pid)
            pending = [self._product_event("store/product/created", pid)]
            if variants > 0:
                option_id = self._id("option")
                labels = [f"Option {k + 1}" for k in range(variants)]
                self._variants[pid] = [
                    self._new_variant(
                        _Dice(rng),
                        core,
                        n,
                        [
                            {
                                "id": self._id("value"),
                                "label": label,
                                "option_id": option_id,
                                "option_display_name": "Style",
                            }
                        ],
                    )
                    for n, label in enumerate(labels)
                ]
                self._sync_variant_inventory(core)
                pending += [self._sku_event("store/sku/created", pid, v) for v in self._variants[pid]]
            else:
                core["base_variant_id"] = pid * 10
            entity = self._render_product(core, ("variants",))
        return self._emit(pending, entity)

    def delete_product(self, product_id: int) -> Result:
        with self._lock:
            core = self._core(product_id)
            variant_ids = self._variant_ids(product_id) if self._price_records else []
            self._set_categories(product_id, core["categories"], [])
            del self._products[product_id]
            self._names.pop(core["name"], None)
            self._ids.pop(bisect.bisect_left(self._ids, product_id))
            for table in (self._modified, self._variants, self._images, self._custom_fields):
                table.pop(product_id, None)
            self._pending.discard(product_id)
            for assigned in self._channel_products.values():
                assigned.discard(product_id)
            self._drop_product_metafields(product_id)
            self._drop_variant_records(variant_ids)
        return self._emit([self._product_event("store/product/deleted", product_id)])
