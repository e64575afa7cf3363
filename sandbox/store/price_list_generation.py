"""Generating price lists for a store with storefronts: which lists exist, where they are assigned, and
records for a share of the variants (in the channel's currency, some in the default currency too).

| list | name           | assigned to                          | records                                   |
|------|----------------|--------------------------------------|-------------------------------------------|
| 1    | channel's name | channel 2, no group (1 if alone)     | ~half its variants, its currency (+ some) |
| 2    | Wholesale      | customer group 1 (no channel)        | ~40 % of all variants, default currency   |
| 3    | VIP            | channel 1 + customer group 2         | ~20 % of channel 1's variants             |
| 4    | Spring Sale    | channel 1 (no group; group 3 if alone), INACTIVE | ~30 % of channel 1's variants |
"""

from __future__ import annotations

import random

from sandbox.store.currencies import convert
from sandbox.store.price_lists import PriceLists
from sandbox.store.price_records import PriceRecords

MAX_PRICE_LISTS = 4


class PriceListGeneration(PriceLists, PriceRecords):
    """`Store(..., price_lists=N)`: the first N lists of the table above."""

    def _init_price_lists(self, count: int) -> None:
        self._price_lists: dict[int, dict] = {}
        self._pl_assignments: dict[int, dict] = {}
        self._price_records: dict[int, dict[tuple[int, str], dict]] = {}
        if not 0 <= count <= MAX_PRICE_LISTS:
            raise ValueError(f"price_lists must be between 0 and {MAX_PRICE_LISTS}")
        if not count:
            return
        rng = random.Random(f"{self.seed}:price-lists")
        first = 2 if len(self._channels) > 1 else 1
        plans = [  # (name, active, channel, customer group, products, share, currency)
            (
                self._channels[first]["name"],
                True,
                first,
                None,
                first,
                0.5,
                self._channels[first]["default_currency"],
            ),
            ("Wholesale", True, None, 1, None, 0.4, self.currency),
            ("VIP", True, 1, 2, 1, 0.2, self.currency),
            # one list per (channel, group): alone, channel 1's no-group slot is list 1's, so group 3 here
            ("Spring Sale", False, 1, None if first == 2 else 3, 1, 0.3, self.currency),
        ]
        for name, active, channel, group, products_of, share, currency in plans[:count]:
            pid_ = self._id("price_list")
            self._price_lists[pid_] = {
                "id": pid_,
                "name": name,
                "active": active,
                "created": self.created_at + 86400 * pid_,
                "modified": self.created_at + 86400 * pid_,
            }
            self._price_records[pid_] = {}
            aid = self._id("assignment")
            self._pl_assignments[aid] = {
                "id": aid,
                "price_list_id": pid_,
                "channel_id": channel,
                "customer_group_id": group,
            }
            pids = sorted(self._channel_products[products_of]) if products_of else self._ids
            self._generate_records(pid_, pids, share, currency, rng)

    def _generate_records(
        self, list_id: int, pids: list[int], share: float, currency: str, rng: random.Random
    ) -> None:
        records = self._price_records[list_id]
        rate = self._currencies[currency]["rate"]
        places = self._currencies[currency]["decimal_places"]
        stamp = self._price_lists[list_id]["created"]
        for pid in pids:
            core = self._products[pid]
            for vid in self._variant_ids(pid):
                if rng.random() >= share:
                    continue
                variant = (
                    None
                    if core["base_variant_id"] == vid
                    else next(v for v in self._variants[pid] if v["id"] == vid)
                )
                base = (
                    variant["price"]
                    if variant is not None and variant["price"] is not None
                    else core["price"]
                )
                price = convert(base * rng.choice((0.8, 0.9, 0.95, 1.0, 1.1)), rate, places)
                sale = convert(price * 0.85, 1.0, places) if rng.random() < 0.3 else None
                retail = convert(price * 1.2, 1.0, places) if rng.random() < 0.2 else None
                entry = {"vid": vid, "pid": pid, "currency": currency, "created": stamp, "modified": stamp}
                entry.update(price=price, sale_price=sale, retail_price=retail, map_price=None)
                records[(vid, currency)] = entry
                if (
                    currency != self.currency and rng.random() < 0.2
                ):  # a multi-currency list: a default price too
                    other = dict(
                        entry,
                        currency=self.currency,
                        price=round(base, 2),
                        sale_price=None,
                        retail_price=None,
                    )
                    records[(vid, self.currency)] = other
