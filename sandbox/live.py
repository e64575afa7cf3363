"""A living store: a background thread making a realistic stream of random changes every ~1-3 s.

Used by `bcsync sandbox --live` / `make run`, so a newcomer sees webhooks arrive and changes flow into the
sandbox Ometria. Mostly price/sale edits and orders; now and then stock, variants, images and custom
fields (which fire no callback, as in BigCommerce), a category rename, a new or a deleted product. A store
with storefronts (more than one channel, or price lists) also gets, one change in four, a storefront change:
a product assigned to / removed from a channel, a price-list record changed, a metafield set.
"""

from __future__ import annotations

import logging
import random
import threading

from sandbox.catalog import Invalid, NotFound, Result, Store
from sandbox.storm import change_product

log = logging.getLogger(__name__)

# (weight, kind)
_MIX = (
    (30, "edit"),
    (25, "order"),
    (10, "inventory"),
    (10, "variant"),
    (6, "image"),
    (6, "custom_field"),
    (4, "variant_inventory"),
    (3, "category"),
    (3, "create"),
    (2, "delete"),
    (1, "new_variant"),
)


def storefront_change(store: Store, rng: random.Random) -> tuple[str, Result]:
    """One change only a store with storefronts has: channel assignment, price-list record, metafield."""
    pid = store.random_product_ids(rng, 1)[0]
    channels = store.channel_ids()
    lists = [p["id"] for p in store.price_lists()]
    roll = rng.random()
    if len(channels) > 1 and roll < 0.4:
        cid = rng.choice(channels[1:])
        if pid in store.channel_product_ids(cid):
            return "unassign", store.unassign_products(cid, [pid])
        return "assign", store.assign_products(cid, [pid])
    if lists and roll < 0.8:
        list_id = rng.choice(lists)
        records = store.price_records(list_id, product_ids=[pid])
        if records:
            record = rng.choice(records)
            price = round(record["price"] * rng.choice((0.9, 0.95, 1.05, 1.1)), 2)
            return "price_record", store.set_price_record(
                list_id, record["variant_id"], record["currency"], price=price
            )
    return "metafield", store.set_metafield(pid, "ometria", "season", rng.choice(("SS26", "AW26", "SS27")))


def random_change(store: Store, rng: random.Random) -> tuple[str, Result]:
    """One plausible change to a random product (or category); returns (what, result)."""
    if store.has_storefronts and rng.random() < 0.25:
        return storefront_change(store, rng)
    kind = rng.choices([k for _, k in _MIX], weights=[w for w, _ in _MIX])[0]
    ids = store.random_product_ids(rng, 1)
    if not ids or kind == "create":
        return "create", store.create_product(variants=rng.choice((0, 0, 2, 3)), seed=rng.randrange(10**9))
    pid = ids[0]
    variants = store.option_variant_ids(pid)
    if kind == "order":
        return kind, store.record_sale(pid, rng.randint(1, 3), rng.choice(variants) if variants else None)
    if kind == "inventory":
        return kind, store.set_product_inventory(pid, rng.randint(-5, 20), "relative") if store.get_product(
            pid
        )["inventory_level"] > 5 else store.set_product_inventory(pid, rng.randint(0, 50))
    if kind in ("variant", "variant_inventory") and variants:
        vid = rng.choice(variants)
        if kind == "variant_inventory":
            return kind, store.set_variant_inventory(pid, vid, rng.randint(0, 40))
        return kind, store.update_variant(
            pid, vid, purchasing_disabled=rng.random() < 0.1, sale_price=rng.choice((None, None, 0, 9.99))
        )
    if kind == "image":
        images = store.image_ids(pid)
        if images and rng.random() < 0.4:
            return kind, store.delete_image(pid, rng.choice(images))
        return kind, store.add_image(pid, is_thumbnail=rng.random() < 0.5)
    if kind == "custom_field":
        return kind, store.set_custom_field(
            pid,
            rng.choice(("Material", "Origin", "Feature")),
            rng.choice(("Recycled", "Portugal", "Gift boxed", "Vegan")),
        )
    if kind == "category":
        cid = rng.choice(store.category_ids())
        name = f"{rng.choice(('Summer', 'Winter', 'New', 'Best of'))} {rng.randrange(1000)}"
        return kind, store.update_category(cid, name=name)
    if kind == "delete" and store.product_count() > 10:
        return kind, store.delete_product(pid)
    if kind == "new_variant":
        return kind, store.create_variant(pid)
    return "edit", change_product(store, rng, pid)


class LiveActivity:
    """Runs `random_change` every `interval` (min, max) seconds until `stop()`."""

    def __init__(self, store: Store, seed: int | None = None, interval: tuple[float, float] = (1.0, 3.0)):
        self.store = store
        self.interval = interval
        self.changes = 0
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-live", daemon=True)

    def start(self) -> LiveActivity:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._rng.uniform(*self.interval)):
            try:
                what, result = random_change(self.store, self._rng)
                self.changes += 1
                log.info("sandbox live change: %s (%d callbacks)", what, len(result.events))
            except (NotFound, Invalid) as exc:  # e.g. a product deleted meanwhile
                log.debug("sandbox live change skipped: %s", exc)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


def start_live(
    store: Store, seed: int | None = None, interval: tuple[float, float] = (1.0, 3.0)
) -> LiveActivity:
    return LiveActivity(store, seed, interval).start()
