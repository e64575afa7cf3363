"""Storefronts: mapping with two channels (GBP primary, EUR with a price list for some variants and
conversion for the rest) on one core — issue 12: at least 5,000 products/s. The products are the
sandbox store's own (`Store(channels=2, channel_currencies={2: "EUR"}, price_lists=…)`), rendered
with include=variants,images,custom_fields,channels, mapped by workers.domain.mapping.map_product."""

from __future__ import annotations

import time
from typing import Any

from bench.common import say
from sandbox.store import Store
from workers.domain.mapping import Channel, MappingContext, map_product

INCLUDES = ("variants", "images", "custom_fields", "channels")


def two_channel_context(store: Store) -> tuple[MappingContext, dict]:
    """The context and price-list records the service builds for this store (every record of the
    list channel 2 uses, keyed (list, variant, CURRENCY))."""
    rates = {c["currency_code"]: c for c in store.currencies()}
    default = next(code for code, c in rates.items() if c["is_default"])
    channels = []
    for ch in store.channels():
        cid = ch["id"]
        code = ch["currencies"]["default_currency"]
        rate = None if code == default else float(rates[code]["currency_exchange_rate"])
        places = int(rates[code].get("decimal_places", 2))
        channels.append(
            Channel(cid, "", store.site(cid)["url"], code, rate, places, store.effective_price_list(cid))
        )
    prices: dict = {}
    for ch in channels:
        if ch.price_list_id is not None:
            for r in store.price_records(ch.price_list_id):
                key = (ch.price_list_id, r["variant_id"], r["currency"].upper())
                prices[key] = (r.get("price"), r.get("sale_price"))
    names = {int(c["category_id"]): c["name"] for c in store.category_tree()}
    ctx = MappingContext(
        currency=default,
        site_url=channels[0].site_url,
        store_id="",
        category_names=names,
        brand_names={},
        channels=tuple(channels),
        categories=frozenset(names),
    )
    return ctx, prices


def run(quick: bool = False) -> dict[str, Any]:
    size = 2_000 if quick else 10_000
    say(f"storefronts: generating {size:,} products on two channels")
    store = Store(size, seed=3, currency="GBP", channels=2, channel_currencies={2: "EUR"}, price_lists=2)
    store.wait_ready(600)
    products = []
    for offset in range(0, size, 250):
        products += store.query_products(limit=250, offset=offset, includes=INCLUDES)[1]
    ctx, prices = two_channel_context(store)
    best = 0.0
    records = 0
    for _round in range(3):
        cpu = time.process_time()
        records = sum(len(map_product(p, ctx, prices)) for p in products)
        spent = max(time.process_time() - cpu, 1e-9)
        best = max(best, len(products) / spent)
    say(f"storefronts: mapping {best:,.0f} products/s per core ({records:,} records)")
    return {
        "quick": quick,
        "products": len(products),
        "records": records,
        "price_records": len(prices),
        "mapping_per_s": round(best),
    }
