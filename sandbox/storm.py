"""Webhook storms: N callbacks about M distinct products, with duplicates, SKU and inventory events mixed
in, in random (seeded) order — like a bulk import or a busy sale day.

`run_storm` performs real mutations through the `Store`, so the catalogue changes and every callback the
store fires reaches its listeners (the hook dispatcher). With `fire_only=True` it changes nothing and only
fires the same callbacks again — BigCommerce's duplicate re-deliveries. The callback total is exact:
each planned change has a known cost (an API inventory change fires two callbacks, everything else one).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

from sandbox.catalog import Result, Store, sku_data, sku_inventory_data

# change kind -> callbacks it fires
COSTS = {"product": 1, "order": 1, "sku": 1, "sku_inventory": 1, "inventory": 2}


def change_product(store: Store, rng: random.Random, pid: int) -> Result:
    """A control-panel style edit that fires exactly store/product/updated."""
    product = store.get_product(pid)
    roll = rng.random()
    if roll < 0.5:
        price = round(max(1.0, product["price"] * rng.choice((0.9, 0.95, 1.05, 1.1)) + rng.choice((0, 1))), 2)
        return store.update_product(pid, price=price)
    if roll < 0.7:
        sale = 0 if product["sale_price"] else round(product["price"] * 0.8, 2)
        return store.update_product(pid, sale_price=sale)
    if roll < 0.85:
        return store.update_product(pid, is_visible=not product["is_visible"])
    return store.update_product(pid, description=f"<p>Updated {rng.randrange(10**6)}</p>")


def plan_storm(
    store: Store,
    callbacks: int,
    products: int,
    rng: random.Random,
    sku_share: float,
    inventory_share: float,
    order_share: float,
) -> list[tuple[str, int]]:
    """(kind, product id) changes whose callbacks add up to exactly `callbacks`, touching up to `products`."""
    chosen = store.random_product_ids(rng, products)
    with_variants = {pid for pid in chosen if store.product_has_option_variants(pid)}

    def pick_kind(pid: int, budget: int) -> str:
        roll = rng.random()
        if roll < sku_share and pid in with_variants:
            kind = "sku" if rng.random() < 0.6 else "sku_inventory"
        elif roll < sku_share + inventory_share:
            kind = "inventory"
        elif roll < sku_share + inventory_share + order_share:
            kind = "order"
        else:
            kind = "product"
        return kind if COSTS[kind] <= budget else "product"

    plan: list[tuple[str, int]] = []
    budget = callbacks
    for pid in chosen:  # every chosen product changes at least once...
        if budget <= 0:
            break
        kind = pick_kind(pid, budget)
        plan.append((kind, pid))
        budget -= COSTS[kind]
    while budget > 0:  # ...and the rest are duplicates spread over the same products
        pid = rng.choice(chosen)
        kind = pick_kind(pid, budget)
        plan.append((kind, pid))
        budget -= COSTS[kind]
    rng.shuffle(plan)
    return plan


def perform(store: Store, rng: random.Random, kind: str, pid: int, fire_only: bool) -> Result:
    variant_ids = store.option_variant_ids(pid) if kind in ("sku", "sku_inventory") else []
    vid = rng.choice(variant_ids) if variant_ids else 0
    if fire_only:
        if kind in ("sku", "sku_inventory"):
            variant = next(v for v in store.variants(pid) if v["id"] == vid)
            if kind == "sku":
                return store.replay("store/sku/updated", sku_data(pid, variant))
            return store.replay(
                "store/sku/inventory/updated", sku_inventory_data(pid, variant, "absolute", 5)
            )
        updated = store.replay("store/product/updated", {"type": "product", "id": pid})
        if kind == "inventory":
            inventory = store.replay(
                "store/product/inventory/updated",
                {
                    "type": "product",
                    "id": pid,
                    "inventory": {"product_id": pid, "method": "absolute", "value": 5},
                },
            )
            return Result(events=inventory.events + updated.events)
        return updated
    if kind == "sku":
        variant = next(v for v in store.variants(pid) if v["id"] == vid)
        price = variant["price"] if variant["price"] is not None else store.get_product(pid)["price"]
        return store.update_variant(pid, vid, price=round(max(0.5, price + rng.choice((-1, 1, 2))), 2))
    if kind == "sku_inventory":
        return store.set_variant_inventory(pid, vid, rng.randint(0, 60))
    if kind == "inventory":
        return store.set_product_inventory(pid, rng.randint(0, 200))
    if kind == "order":
        return store.set_total_sold(pid, store.get_product(pid)["total_sold"] + rng.randint(1, 3))
    return change_product(store, rng, pid)


def run_storm(
    store: Store,
    callbacks: int = 1000,
    products: int = 200,
    seed: int = 1,
    fire_only: bool = False,
    sku_share: float = 0.2,
    inventory_share: float = 0.15,
    order_share: float = 0.15,
    changes: int | None = None,
) -> dict[str, Any]:
    """Fire exactly `callbacks` callbacks (alias `changes`) about `products` distinct products."""
    if changes is not None:
        callbacks = changes
    callbacks, products = int(callbacks), int(products)
    if callbacks < 1 or products < 1:
        raise ValueError("callbacks and products must be >= 1")
    if min(sku_share, inventory_share, order_share) < 0 or sku_share + inventory_share + order_share > 1:
        raise ValueError("shares must be >= 0 and add up to at most 1")
    rng = random.Random(seed)
    started = time.perf_counter()
    plan = plan_storm(store, callbacks, products, rng, sku_share, inventory_share, order_share)
    by_scope: Counter[str] = Counter()
    touched: set[int] = set()
    for kind, pid in plan:
        result = perform(store, rng, kind, pid, fire_only)
        touched.add(pid)
        for event in result.events:
            by_scope[event["scope"]] += 1
    return {
        "callbacks": sum(by_scope.values()),
        "changes": len(plan),
        "products": len(touched),
        "product_ids": sorted(touched),
        "by_scope": dict(by_scope),
        "fire_only": fire_only,
        "seconds": round(time.perf_counter() - started, 3),
    }
