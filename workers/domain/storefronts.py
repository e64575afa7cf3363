"""Storefront channels and their prices: pure functions over plain data, no I/O.

What `workers.domain.mapping.map_product` needs for DESIGN.md's "Storefronts, price lists and
currencies": a configured channel (`Channel`), its default Ometria store id, the price-list records
(`Prices`) and the price of a variant or a parent on a channel, converted when the channel's
currency is not the store's default (rounded half away from zero to its decimal places).

How `map_product` uses them:
`ctx.channels` are the configured channels, the first the primary; with none, the context's own
currency, site URL and store id make the one channel, and a product counts as assigned to it (a
store without multi-storefront). A product fetched without `include=channels` (no `channels` key)
counts as assigned to every channel. `prices` maps (price list id, variant id, CURRENCY) to the
record's (price, sale_price); a channel whose currency is not the store's default (`rate` set)
converts the catalogue price, rounded half away from zero to its decimal places. `ctx.categories`,
when set, keeps only those category ids (the configured channels' trees).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Channel:
    """One configured storefront channel as the mapping needs it. `id` 0: the store without
    multi-storefront (every product counts as assigned). `rate` None: the store's default currency
    (catalogue prices as they are); otherwise units of `currency` per unit of the default one."""

    id: int
    store_id: str
    site_url: str
    currency: str
    rate: float | None = None
    decimal_places: int = 2
    price_list_id: int | None = None

    def __post_init__(self) -> None:
        site = self.site_url.rstrip("/")
        object.__setattr__(self, "site_url", site)
        if not self.store_id:
            object.__setattr__(self, "store_id", default_store_id(site))
        if not self.store_id:
            raise ValueError(f"channel {self.id}: no Ometria store id and no site URL to take it from")
        object.__setattr__(self, "currency", self.currency.upper())


def default_store_id(site_url: str) -> str:
    """The host name of the channel's site URL: `https://www.example.com/` -> `www.example.com`."""
    return (urlsplit(site_url if "//" in site_url else "//" + site_url).hostname or "").lower()


Prices = Mapping[tuple[int, int, str], tuple[Any, Any]]
# an option variant, once: (record id, variant, variant id, catalogue price, catalogue sale, options)
Row = tuple[str, dict[str, Any], int, float | None, float | None, list[dict[str, Any]]]


def as_price(value: Any) -> float | None:
    kind = type(value)
    if value is None or kind is bool:
        return None
    number: float
    if kind is float:
        number = value
    elif kind is int:
        number = float(value)
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
    if not math.isfinite(number):
        return None
    return number + 0.0  # -0.0 -> 0.0


def convert(amount: float | None, rate: float, decimal_places: int) -> float | None:
    """`amount` x `rate`, rounded half away from zero to `decimal_places` (None stays None)."""
    if amount is None:
        return None
    return _convert(amount, rate, decimal_places)


@lru_cache(maxsize=1 << 16)
def _convert(amount: float, rate: float, decimal_places: int) -> float:
    exact = Decimal(str(amount)) * Decimal(str(rate))
    return float(exact.quantize(Decimal(1).scaleb(-decimal_places), rounding=ROUND_HALF_UP)) + 0.0


def variant_price(
    ch: Channel, variant_id: int | None, price: float | None, sale: float | None, prices: Prices
) -> tuple[float | None, float | None]:
    """A variant's (price, sale price) on a channel: its price-list record in the channel's
    currency, else the catalogue pair, converted when the channel's currency is not the default."""
    if ch.price_list_id is not None and variant_id is not None and prices:
        record = prices.get((ch.price_list_id, variant_id, ch.currency))
        if record is not None:
            return as_price(record[0]), as_price(record[1])
    if ch.rate is None:
        return price, sale
    return convert(price, ch.rate, ch.decimal_places), convert(sale, ch.rate, ch.decimal_places)


def parent_price(
    ch: Channel,
    price: float | None,
    sale: float | None,
    base_variant_id: int | None,
    rows: list[Row],
    prices: Prices,
) -> tuple[float | None, float | None]:
    if not rows:
        return variant_price(ch, base_variant_id, price, sale, prices)
    if ch.price_list_id is not None and prices:
        key = ch.price_list_id, ch.currency
        if any((key[0], row[2], key[1]) in prices for row in rows):
            candidates = [row for row in rows if row[1].get("purchasing_disabled") is not True] or rows
            best: tuple[float | None, float | None] | None = None
            for row in candidates:
                pair = variant_price(ch, row[2], row[3], row[4], prices)
                if pair[0] is not None and (best is None or pair[0] < best[0]):  # type: ignore[operator]
                    best = pair
            if best is not None:
                return best
    return variant_price(ch, None, price, sale, prices)
