"""The BigCommerce webhook scopes this service handles: one list, both the hooks `bcsync hooks register`
creates (`workers.sync.hooks`) and the callbacks the receiver turns into dirty rows
(`consumer.webhooks.callbacks.change_for`, which says what each one marks dirty). Pure.

A product's or a sku's change, its inventory's, and an order's effect on its inventory all mark the
product; a category's change marks the category (its products are re-pushed by the flush). The
storefront scopes (channel assignments, channel categories and trees, price lists, product
metafields) mark what `change_for` says.
"""

from __future__ import annotations

_CHANGES = ("created", "updated", "deleted", "inventory/updated", "inventory/order/updated")

PRODUCT_SCOPES: tuple[str, ...] = tuple(f"store/product/{change}" for change in _CHANGES)
SKU_SCOPES: tuple[str, ...] = tuple(f"store/sku/{change}" for change in _CHANGES)
CATEGORY_SCOPES: tuple[str, ...] = tuple(
    f"store/category/{change}" for change in ("created", "updated", "deleted")
)

# storefronts (issue 12): changes that fire no product callback
PRICE_LIST_SCOPES: tuple[str, ...] = (
    "store/priceList/activated",
    "store/priceList/deactivated",
    "store/priceList/deleted",
    "store/priceLists/deleted",
    "store/priceList/record/created",
    "store/priceList/record/updated",
    "store/priceList/record/deleted",
    "store/priceList/records/created",
    "store/priceList/records/updated",
    "store/priceList/records/deleted",
    "store/priceList/assignment/updated",
    "store/priceList/assignment/deleted",
)
METAFIELD_SCOPES: tuple[str, ...] = tuple(
    f"store/product/metafield/{change}" for change in ("created", "updated", "deleted")
)

HANDLED_SCOPES: tuple[str, ...] = (
    PRODUCT_SCOPES + SKU_SCOPES + CATEGORY_SCOPES + PRICE_LIST_SCOPES + METAFIELD_SCOPES
)
# price-list batch callbacks: BigCommerce's one shape whose `data` is a list (of records)
LIST_DATA_SCOPES: tuple[str, ...] = tuple(
    s for s in PRICE_LIST_SCOPES if s.startswith("store/priceList/records/")
)

# per storefront channel: the hooks register them for each configured channel (`scopes_for`), the
# receiver handles them for any channel id
CHANNEL_SCOPES: tuple[str, ...] = (
    "store/channel/{channel_id}/product/assigned",
    "store/channel/{channel_id}/product/unassigned",
    "store/channel/{channel_id}/category/created",
    "store/channel/{channel_id}/category/updated",
    "store/channel/{channel_id}/category/deleted",
    "store/channel/{channel_id}/category/product/assigned",
    "store/channel/{channel_id}/category/product/unassigned",
    "store/channel/{channel_id}/categoryTree/updated",
)
_CHANNEL_SUFFIXES: frozenset[str] = frozenset(t.split("{channel_id}/", 1)[1] for t in CHANNEL_SCOPES)


def scopes_for(channel_ids: tuple[int, ...] = (1,)) -> tuple[str, ...]:
    """Every scope the hooks of a store with these channels subscribe to: HANDLED_SCOPES, then each
    channel's CHANNEL_SCOPES."""
    return HANDLED_SCOPES + tuple(t.format(channel_id=c) for c in channel_ids for t in CHANNEL_SCOPES)


def channel_scope(scope: str) -> str | None:
    """`store/channel/<id>/<suffix>` of a handled per-channel scope -> its suffix, else None."""
    if not scope.startswith("store/channel/"):
        return None
    channel, _, suffix = scope[len("store/channel/") :].partition("/")
    if not channel.isascii() or not channel.isdigit() or channel.startswith("0") or len(channel) > 18:
        return None
    return suffix if suffix in _CHANNEL_SUFFIXES else None
