"""Generating the storefronts of a store: channels 2..N with their sites, currencies, category trees and
product assignments, price lists with assignments and records, product metafields, and the product fields
personalisation uses (reviews, preorder release dates, hidden prices).

Every draw here comes from its own seeded stream (never the catalogue's), so the catalogue of a seed is
the same with or without storefronts, and a default store is exactly what it always was.
"""

from __future__ import annotations

import random
from urllib.parse import urlsplit

from sandbox.store.common import EPOCH_BASE, iso, slugify
from sandbox.store.currencies import Currencies
from sandbox.store.storefronts import CHANNEL_NAMES

_TREE_TOPS = ("Collections", "Regional Picks", "Outlet", "Editors' Choice", "Gift Guide")
_TREE_SUBS = ("Autumn", "Winter", "Spring", "Summer", "Under 50", "Made Locally", "Last Chance", "Trending")
_METAFIELDS = (  # (namespace, key, values)
    ("ometria", "gender", ("women", "men", "unisex")),
    ("ometria", "season", ("SS25", "AW25", "SS26")),
    ("specs", "material_detail", ("100% organic cotton", "recycled steel", "FSC oak")),
    ("specs", "care", ("hand wash", "machine wash", "wipe clean")),
    ("internal", "buyer", ("alice", "bob")),
)


class StorefrontGeneration(Currencies):
    """Set-up of channels, trees, currencies, product extras and metafields at construction."""

    def _init_storefronts(
        self,
        channels: int,
        channel_currencies: dict[int, str],
        exchange_rates: dict[str, float],
        channel_share: float,
    ) -> None:
        if not 1 <= channels <= len(CHANNEL_NAMES):
            raise ValueError(f"channels must be between 1 and {len(CHANNEL_NAMES)}")
        rng = random.Random(f"{self.seed}:storefronts")
        self._channels: dict[int, dict] = {}
        self._channel_products: dict[int, set[int]] = {}
        self._trees: dict[int, dict] = {1: {"id": 1, "name": "Default tree", "channels": [1]}}
        codes = {cid: channel_currencies.get(cid, self.currency) for cid in range(1, channels + 1)}
        self._init_currencies(sorted(set(codes.values()) - {self.currency}), exchange_rates)
        for cid in range(1, channels + 1):
            default = codes[cid]
            self._channels[cid] = {
                "id": cid,
                "name": CHANNEL_NAMES[cid - 1],
                "external_id": "",
                "status": "active",
                "is_listable_from_ui": True,
                "is_visible": True,
                "created": self.created_at if cid == 1 else self.created_at + 86400 * cid,
                "modified": self.created_at if cid == 1 else self.created_at + 86400 * cid,
                "currencies": list(dict.fromkeys([default, self.currency])),
                "default_currency": default,
                "site_id": 999 + cid,
                "site_url": self.site_url if cid == 1 else _channel_url(self.site_url, cid),
                "site_created": self.created_at,
                "tree_id": cid,
            }
            if cid > 1:
                self._trees[cid] = {"id": cid, "name": f"{CHANNEL_NAMES[cid - 1]} tree", "channels": [cid]}
        if channels == 1:
            self._channel_products[1] = set(self._ids)
            return
        for cid in self._channels:
            self._channel_products[cid] = set()
        for pid in self._ids:
            if rng.random() < 0.9:
                self._channel_products[1].add(pid)
            for cid in range(2, channels + 1):
                if rng.random() < channel_share:
                    self._channel_products[cid].add(pid)
        for cid in range(2, channels + 1):
            self._generate_tree(cid, rng)

    def _generate_tree(self, tree_id: int, rng: random.Random) -> None:
        """A small category tree of its own for channel `tree_id`; its channel's products join its leaves."""
        leaves: list[int] = []
        for t, top in enumerate(_TREE_TOPS[:3]):
            top_id = self._add_tree_category(tree_id, top, 0, t, rng)
            for s, sub in enumerate(rng.sample(_TREE_SUBS, 2)):
                leaves.append(self._add_tree_category(tree_id, sub, top_id, s, rng))
        for pid in sorted(self._channel_products[tree_id]):
            if rng.random() < 0.75:
                core = self._products[pid]
                extra = {rng.choice(leaves) for _ in range(rng.randint(1, 2))}
                core["categories"] = sorted(set(core["categories"]) | extra)
                for cid in extra:
                    self._by_category[cid].add(pid)

    def _add_tree_category(self, tree_id: int, name: str, parent: int, order: int, rng: random.Random) -> int:
        cid = self._id("category")
        parent_path = self._categories[parent]["path"] if parent else "/"
        self._categories[cid] = {
            "id": cid,
            "parent_id": parent,
            "name": name,
            "path": f"{parent_path}{slugify(name)}/",
            "is_visible": True,
            "sort_order": order,
            "uuid": f"{rng.getrandbits(32):08x}-0000-4000-8000-{cid:012d}",
            "is_customized": False,
            "tree_id": tree_id,
        }
        self._by_category[cid] = set()
        return cid

    def _generate_product_extras(self) -> None:
        """Reviews, preorder release dates, hidden prices: the fields personalisation uses."""
        rng = random.Random(f"{self.seed}:extras")
        r = rng.random
        for pid in self._ids:
            core = self._products[pid]
            if r() < 0.55:
                count = rng.randint(1, 240)
                core["reviews_count"] = count
                core["reviews_rating_sum"] = round(count * (2.5 + r() * 2.5))
            if core["availability"] == "preorder":
                core["is_preorder_only"] = r() < 0.3
                if r() < 0.85:  # a release date, in the future of the fixed generation dates
                    core["preorder_release_date"] = iso(EPOCH_BASE + 86400 * rng.randint(1500, 1900))
                    core["preorder_message"] = "Ships from %%DATE%%"
            # BigCommerce hides a price only on a product whose availability is "disabled"
            if core["availability"] == "disabled" and r() < 0.6:
                core["is_price_hidden"] = True
                core["price_hidden_label"] = "Call for price"

    def _generate_metafields(self) -> None:
        rng = random.Random(f"{self.seed}:metafields")
        for pid in self._ids:
            if rng.random() < 0.35:
                for namespace, key, values in rng.sample(_METAFIELDS, rng.randint(1, 3)):
                    self._new_metafield(pid, namespace, key, rng.choice(values), EPOCH_BASE + pid)


def _channel_url(site_url: str, channel_id: int) -> str:
    parts = urlsplit(site_url)
    host = (parts.hostname or "sandbox-store.example").removeprefix("www.")
    return f"{parts.scheme or 'https'}://store{channel_id}.{host}"
