"""Stock and sales: inventory changes (absolute or relative) and orders, with the callbacks they fire."""

from __future__ import annotations

from sandbox.store.common import Invalid, Result, sku_inventory_data
from sandbox.store.state import StoreState


class StockAndSales(StoreState):
    """Product inventory, total_sold, orders."""

    def set_total_sold(self, product_id: int, value: int) -> Result:
        with self._lock:
            core = self._core(product_id)
            core["total_sold"] = int(value)
            self._touch(product_id)
            entity = self._render_product(core)
        return self._emit([self._product_event("store/product/updated", product_id)], entity)

    def set_product_inventory(self, product_id: int, value: int, method: str = "absolute") -> Result:
        """An inventory change through the API or control panel (absolute level, or relative adjustment)."""
        if method not in ("absolute", "relative"):
            raise Invalid("method must be absolute or relative", {"method": "invalid"})
        with self._lock:
            core = self._core(product_id)
            level = int(value) if method == "absolute" else core["inventory_level"] + int(value)
            if level < 0:
                raise Invalid("inventory cannot be negative", {"inventory_level": "negative"})
            core["inventory_level"] = level
            self._touch(product_id)
            entity = self._render_product(core)
            pending = [
                (
                    "store/product/inventory/updated",
                    {
                        "type": "product",
                        "id": product_id,
                        "inventory": {"product_id": product_id, "method": method, "value": int(value)},
                    },
                ),
                self._product_event("store/product/updated", product_id),
            ]
        return self._emit(pending, entity)

    def record_sale(self, product_id: int, quantity: int = 1, variant_id: int | None = None) -> Result:
        """An order: total_sold goes up (store/product/updated: order noise) and tracked stock goes down."""
        with self._lock:
            core = self._core(product_id)
            core["total_sold"] += quantity
            pending = [self._product_event("store/product/updated", product_id)]
            if core["inventory_tracking"] == "product":
                core["inventory_level"] = max(0, core["inventory_level"] - quantity)
                pending.append(
                    (
                        "store/product/inventory/order/updated",
                        {
                            "type": "product",
                            "id": product_id,
                            "inventory": {"product_id": product_id, "method": "relative", "value": -quantity},
                        },
                    )
                )
            elif core["inventory_tracking"] == "variant" and self._variants.get(product_id):
                variant = (
                    self._variant(product_id, variant_id) if variant_id else self._variants[product_id][0]
                )
                variant["inventory_level"] = max(0, variant["inventory_level"] - quantity)
                self._sync_variant_inventory(core)
                pending.append(
                    (
                        "store/sku/inventory/order/updated",
                        sku_inventory_data(product_id, variant, "relative", -quantity),
                    )
                )
            self._touch(product_id)
            entity = self._render_product(core)
        return self._emit(pending, entity)
