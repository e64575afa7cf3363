"""A product's variants, images and custom fields, generated from (seed, product id) alone."""

from __future__ import annotations

import itertools
import random

from sandbox.store.common import _Dice
from sandbox.store.shapes import SKU_ID_OFFSET
from sandbox.store.state import StoreState
from sandbox.store.vocabulary import _CUSTOM_FIELD_DRAWS, _LABEL_DRAWS, _NOUNS, _OPTION_DRAWS, _SLUGS


class ProductDetails(StoreState):
    """Variants, images and custom fields: made the first time anything needs them."""

    def _details(self, pid: int) -> None:
        """Generate a product's variants, images and custom fields, from (seed, product id) alone, the first
        time anything needs them: 100,000 products generate in a fraction of the time, deterministically.
        Their ids derive from the product id (variant pid*10+k, image/custom field pid*10+k); entities
        created later take ids from counters above 1,000,000,000."""
        if pid not in self._pending:
            return
        self._pending.discard(pid)
        core = self._products[pid]
        d = _Dice(random.Random(self.seed * 1_000_003 + pid))
        r, pick, between = d.r, d.pick, d.between
        if core["base_variant_id"] is None:
            self._generate_variants(d, core)
        if r() > 0.15:
            count = between(1, 4)
            thumbnail = int(r() * count) if r() < 0.85 else -1
            self._images[pid] = [
                {
                    "id": pid * 10 + k + 1,
                    "is_thumbnail": k == thumbnail,
                    "sort_order": between(0, 3),
                    "description": "" if r() < 0.7 else f"View {k + 1}",
                    "stem": f"{_SLUGS[pick(_NOUNS)]}{k + 1}",
                    "modified": core["created"],
                }
                for k in range(count)
            ]
        if r() < 0.5:
            fields = [
                {"id": pid * 10 + k + 1, "name": name, "value": pick(values)}
                for k, (name, values) in enumerate(pick(_CUSTOM_FIELD_DRAWS))
            ]
            if r() < 0.2:  # repeated names happen in real stores ("Feature", "Feature")
                fields.append(
                    {
                        "id": pid * 10 + len(fields) + 1,
                        "name": fields[0]["name"],
                        "value": pick(("Limited run", "Award winner", "Bestseller")),
                    }
                )
            self._custom_fields[pid] = fields

    def _generate_variants(self, d: _Dice, core: dict) -> None:
        pid = core["id"]
        chosen = d.pick(_OPTION_DRAWS[0] if d.r() < 0.67 else _OPTION_DRAWS[1])
        axes = []
        for a, (display_name, _labels) in enumerate(chosen, start=1):
            axes.append(
                [
                    {
                        "id": pid * 100 + a * 10 + j,
                        "label": label,
                        "option_id": pid * 10 + a,
                        "option_display_name": display_name,
                    }
                    for j, label in enumerate(d.pick(_LABEL_DRAWS[display_name]))
                ]
            )
        self._variants[pid] = [  # at most 3 x 3 = 9 variants: ids pid*10+1 .. pid*10+9
            self._new_variant(d, core, n, list(combo), pid * 10 + n + 1)
            for n, combo in enumerate(itertools.product(*axes))
        ]
        self._sync_variant_inventory(core)

    def _new_variant(
        self, d: _Dice, core: dict, n: int, option_values: list[dict], vid: int | None = None
    ) -> dict:
        if vid is None:
            vid = self._id("variant")
        r = d.r
        price = core["price"]
        roll = r()
        sale = (
            None
            if roll < 0.6
            else 0
            if roll < 0.7
            else (round(price * 0.8, 2) if roll < 0.9 else round(price + 2, 2))
        )
        return {
            "id": vid,
            "sku_id": vid + SKU_ID_OFFSET,
            "sku": f"{core['sku'] or 'VAR-' + str(core['id'])}-{n + 1}",
            "price": None if r() < 0.5 else round(price + d.pick((0, 2, 5, 10)), 2),
            "sale_price": sale,
            "inventory_level": 0 if r() < 0.25 else d.between(1, 80),
            "purchasing_disabled": r() < 0.1,
            "image_url": "" if r() < 0.8 else f"{self._cdn}/products/{core['id']}/variants/{n + 1}.jpg",
            "option_values": option_values,
        }

    def _sync_variant_inventory(self, core: dict) -> None:
        if core["inventory_tracking"] == "variant" and self._variants.get(core["id"]):
            core["inventory_level"] = sum(v["inventory_level"] for v in self._variants[core["id"]])
