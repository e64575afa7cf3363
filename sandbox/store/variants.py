"""Variant mutations: store/sku/* callbacks."""

from __future__ import annotations

import random
from typing import Any

from sandbox.store.common import Invalid, NotFound, Result, _Dice, sku_inventory_data
from sandbox.store.shapes import _VARIANT_UPDATABLE
from sandbox.store.state import StoreState


class VariantMutations(StoreState):
    """Update, create, delete option variants and their stock."""

    def _variant(self, product_id: int, variant_id: int | None) -> dict:
        for v in self._variants.get(product_id, ()):
            if v["id"] == variant_id:
                return v
        raise NotFound(f"variant {variant_id} of product {product_id}")

    def update_variant(self, product_id: int, variant_id: int, **fields: Any) -> Result:
        with self._lock:
            core = self._core(product_id)
            variant = self._variant(product_id, variant_id)
            errors = {k: "unknown or read-only field" for k in fields if k not in _VARIANT_UPDATABLE}
            errors |= {
                k: "wrong type"
                for k, v in fields.items()
                if k in _VARIANT_UPDATABLE
                and (
                    not isinstance(v, _VARIANT_UPDATABLE[k])
                    or (isinstance(v, bool) and _VARIANT_UPDATABLE[k] is not bool)
                )
            }
            if errors:
                raise Invalid("The request payload is invalid", errors)
            inventory_changed = (
                "inventory_level" in fields and fields["inventory_level"] != variant["inventory_level"]
            )
            variant.update(fields)
            self._sync_variant_inventory(core)
            self._touch(product_id)
            pending = [self._sku_event("store/sku/updated", product_id, variant)]
            if inventory_changed:
                pending.append(
                    (
                        "store/sku/inventory/updated",
                        sku_inventory_data(product_id, variant, "absolute", variant["inventory_level"]),
                    )
                )
            entity = next(v for v in self._render_variants(core) if v["id"] == variant_id)
        return self._emit(pending, entity)

    def set_variant_inventory(
        self, product_id: int, variant_id: int, value: int, method: str = "absolute"
    ) -> Result:
        if method not in ("absolute", "relative"):
            raise Invalid("method must be absolute or relative", {"method": "invalid"})
        with self._lock:
            core = self._core(product_id)
            variant = self._variant(product_id, variant_id)
            level = int(value) if method == "absolute" else variant["inventory_level"] + int(value)
            if level < 0:
                raise Invalid("inventory cannot be negative", {"inventory_level": "negative"})
            variant["inventory_level"] = level
            self._sync_variant_inventory(core)
            self._touch(product_id)
            pending = [
                ("store/sku/inventory/updated", sku_inventory_data(product_id, variant, method, int(value)))
            ]
            entity = next(v for v in self._render_variants(core) if v["id"] == variant_id)
        return self._emit(pending, entity)

    def create_variant(self, product_id: int, label: str | None = None, **fields: Any) -> Result:
        """Add an option variant (a new value of the product's first option; a simple product gets one)."""
        with self._lock:
            core = self._core(product_id)
            variants = self._variants.setdefault(product_id, [])
            if variants:
                first = variants[0]["option_values"][0]
                option_id, display = first["option_id"], first["option_display_name"]
                others = [dict(ov) for ov in variants[0]["option_values"][1:]]
            else:
                option_id, display, others = self._id("option"), "Style", []
                core["base_variant_id"] = None
            dice = _Dice(random.Random(self._next["variant"] + self.seed))
            n = len(variants)
            option_value = {
                "id": self._id("value"),
                "label": label or f"Edition {self._next['value']}",
                "option_id": option_id,
                "option_display_name": display,
            }
            variant = self._new_variant(dice, core, n, [option_value, *others])
            variant["sku"] = f"{variant['sku']}-{variant['id']}"
            variants.append(variant)
            if fields:
                variant.update({k: v for k, v in fields.items() if k in _VARIANT_UPDATABLE})
            self._sync_variant_inventory(core)
            self._touch(product_id)
            entity = next(v for v in self._render_variants(core) if v["id"] == variant["id"])
            pending = [self._sku_event("store/sku/created", product_id, variant)]
        return self._emit(pending, entity)

    def delete_variant(self, product_id: int, variant_id: int) -> Result:
        with self._lock:
            core = self._core(product_id)
            variant = self._variant(product_id, variant_id)
            self._variants[product_id].remove(variant)
            if not self._variants[product_id]:
                del self._variants[product_id]
                core["base_variant_id"] = product_id * 10
            self._sync_variant_inventory(core)
            self._touch(product_id)
            self._drop_variant_records([variant_id])
        return self._emit([self._sku_event("store/sku/deleted", product_id, variant)])
