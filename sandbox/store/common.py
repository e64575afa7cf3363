"""What every section of the sandbox store shares: errors, the mutation result, dates, slugs, seeded dice,
the callback payloads of skus, and the scopes the catalogue fires."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

Listener = Callable[[str, dict], None]

EPOCH_BASE = 1_672_531_200  # 2023-01-01T00:00:00Z: generated dates are fixed, so a seed gives one catalogue
DEFAULT_SITE_URL = "https://www.sandbox-store.example"
DEFAULT_CURRENCY = "USD"
# fmt: off
INCLUDES = ("variants", "images", "custom_fields", "bulk_pricing_rules", "primary_image", "modifiers",
            "options", "videos", "channels", "parent_relations", "reviews")
CATALOG_SCOPES = (
    "store/product/created", "store/product/updated", "store/product/deleted",
    "store/product/inventory/updated", "store/product/inventory/order/updated",
    "store/sku/created", "store/sku/updated", "store/sku/deleted",
    "store/sku/inventory/updated", "store/sku/inventory/order/updated",
    "store/category/created", "store/category/updated", "store/category/deleted",
)
# fmt: on
PRICE_LIST_SCOPES = (
    "store/priceList/created", "store/priceList/updated", "store/priceList/activated",
    "store/priceList/deactivated", "store/priceList/deleted", "store/priceLists/deleted",
    "store/priceList/record/created", "store/priceList/record/updated", "store/priceList/record/deleted",
    "store/priceList/records/created", "store/priceList/records/updated", "store/priceList/records/deleted",
    "store/priceList/assignment/updated", "store/priceList/assignment/deleted",
)  # fmt: skip
METAFIELD_SCOPES = (
    "store/product/metafield/created", "store/product/metafield/updated", "store/product/metafield/deleted",
)  # fmt: skip
CHANNEL_SCOPE_TEMPLATES = (
    "store/channel/{id}/product/assigned", "store/channel/{id}/product/unassigned",
    "store/channel/{id}/category/created", "store/channel/{id}/category/updated",
    "store/channel/{id}/category/deleted", "store/channel/{id}/category/product/assigned",
    "store/channel/{id}/category/product/unassigned", "store/channel/{id}/categoryTree/updated",
    "store/channel/{id}/settings/site/updated",
)  # fmt: skip


def storefront_scopes(channel_ids: Iterable[int]) -> tuple[str, ...]:
    """Every scope the storefront features fire: per channel, price lists, product metafields, channels."""
    per_channel = tuple(t.format(id=c) for c in channel_ids for t in CHANNEL_SCOPE_TEMPLATES)
    return (*per_channel, "store/channel/updated", *PRICE_LIST_SCOPES, *METAFIELD_SCOPES)


class NotFound(KeyError):
    """No such product, variant, image, custom field, category or hook."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class Invalid(ValueError):
    """A mutation's input is not acceptable (the API answers 422; `conflict` → 409)."""

    def __init__(self, message: str, errors: dict[str, str] | None = None, conflict: bool = False):
        super().__init__(message)
        self.errors = errors or {}
        self.conflict = conflict


@dataclass
class Result:
    """What a mutation did: the callbacks it fired and the entity it touched, in API shape."""

    events: list[dict] = field(default_factory=list)
    entity: dict | None = None

    def as_dict(self) -> dict:
        return {"events": self.events, "entity": self.entity}


@lru_cache(maxsize=1 << 16)
def iso(ts: float) -> str:
    """BigCommerce's catalogue timestamp format: 2018-08-15T14:48:46+00:00."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(int(ts)))


def parse_date_filter(value: str, now: float) -> float:
    """Parse a `date_modified:min/max` value to epoch seconds.

    Accepts ISO 8601 with or without offset (no offset = UTC) and unix seconds. Like BigCommerce
    documents for `date_modified:min/max`, a bare date gets the current time of day of the request added
    (a client sending `2025-01-15` does NOT get midnight). Raises ValueError when unparsable.
    """
    value = value.strip()
    if re.fullmatch(r"\d{9,11}", value):
        return float(value)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        day = datetime.fromisoformat(value).replace(tzinfo=UTC)
        return day.timestamp() + (now % 86400)
    dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+", 1) if "T" in value else value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"


class _Dice:
    """Cheap seeded draws (random.choice/randint cost ~1 µs each; 100,000 products need millions)."""

    __slots__ = ("rng", "r")

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.r = rng.random

    def pick(self, seq: Any) -> Any:
        return seq[int(self.r() * len(seq))]

    def between(self, lo: int, hi: int) -> int:
        return lo + int(self.r() * (hi - lo + 1))


def category_count(products: int) -> int:
    """50..200 categories, one per 500 products."""
    return _scaled(products, 50, 200, 500)


def _scaled(n: int, lo: int, hi: int, per: int) -> int:
    return max(lo, min(hi, n // per))


def _copy_data(data: Any) -> Any:
    """A deep copy of callback data (a dict, or a list of dicts for batch scopes)."""
    if isinstance(data, dict):
        return {k: _copy_data(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_copy_data(v) for v in data]
    return data


def sku_data(product_id: int, variant: dict) -> dict:
    """`data` of store/sku/{created,updated,deleted}: id is the SKU id (the variant's sku_id, as in the
    official samples where data.id 461 differs from variant_id 509); the variant id is in data.sku."""
    return {
        "type": "sku",
        "id": variant["sku_id"],
        "sku": {"product_id": product_id, "variant_id": variant["id"]},
    }


def sku_inventory_data(product_id: int, variant: dict, method: str, value: int) -> dict:
    """`data` of store/sku/inventory/{updated,order/updated}."""
    return {
        "type": "sku",
        "id": variant["sku_id"],
        "inventory": {
            "product_id": product_id,
            "method": method,
            "value": value,
            "variant_id": variant["id"],
        },
    }
