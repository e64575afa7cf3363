"""The BigCommerce webhook scopes this service handles: one list, both the hooks `bcsync hooks register`
creates (`workers.sync.hooks`) and the callbacks the receiver turns into dirty rows
(`consumer.webhooks.callbacks.change_for`, which says what each one marks dirty). Pure.

A product's or a sku's change, its inventory's, and an order's effect on its inventory all mark the
product; a category's change marks the category (its products are re-pushed by the flush).
"""

from __future__ import annotations

_CHANGES = ("created", "updated", "deleted", "inventory/updated", "inventory/order/updated")

PRODUCT_SCOPES: tuple[str, ...] = tuple(f"store/product/{change}" for change in _CHANGES)
SKU_SCOPES: tuple[str, ...] = tuple(f"store/sku/{change}" for change in _CHANGES)
CATEGORY_SCOPES: tuple[str, ...] = tuple(
    f"store/category/{change}" for change in ("created", "updated", "deleted")
)

HANDLED_SCOPES: tuple[str, ...] = PRODUCT_SCOPES + SKU_SCOPES + CATEGORY_SCOPES
