"""The simulated BigCommerce store's state: catalogue, categories, brands, hooks, and the callbacks it fires.

`Store(products, seed)` generates a deterministic catalogue with the variety real stores have, keeps it
in memory behind one lock, answers the queries the API layer (`sandbox.bigcommerce`) needs with
precomputed indexes, and mutates it the way the control panel / API / orders would, firing the webhook
callbacks BigCommerce would fire (to every listener, e.g. the `HookDispatcher`).

Records are kept compact (only fields that vary, dates as epoch seconds, image URLs derived) and are
rendered into the exact OpenAPI shapes (product_Full, productVariant_Full, productImage_Full,
productCustomField) on demand, so 100,000 products generate in a few seconds and stay light.

Which callbacks each mutation fires (see FACTS.md and webhooks.v3.yml):
| mutation                         | callbacks                                                          |
|----------------------------------|--------------------------------------------------------------------|
| update_product (most fields)     | store/product/updated                                              |
|   ... inventory_level changed    | + store/product/inventory/updated (method absolute)                |
|   ... only mpn/gtin/tax code     | nothing (BigCommerce fires nothing for those)                      |
| create_product                   | store/product/created (+ store/sku/created per option variant)     |
| delete_product                   | store/product/deleted                                              |
| set_product_inventory            | store/product/inventory/updated + store/product/updated            |
| set_variant_inventory            | store/sku/inventory/updated                                        |
| update/create/delete_variant     | store/sku/updated / created / deleted                              |
| record_sale (an order)           | store/product/updated (total_sold)                                 |
|   ... stock tracked              | + store/{product,sku}/inventory/order/updated (method relative)    |
| set_total_sold                   | store/product/updated (order noise)                                |
| add/delete image, custom fields  | nothing (date_modified still moves, so a date_modified sweep sees it) |
| create/update/delete category    | store/category/created / updated / deleted                         |
"""

from __future__ import annotations

import bisect
import itertools
import random
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from workers.settings import SANDBOX_STORE_HASH

Listener = Callable[[str, dict], None]

EPOCH_BASE = 1_672_531_200  # 2023-01-01T00:00:00Z: generated dates are fixed, so a seed gives one catalogue
DEFAULT_SITE_URL = "https://www.sandbox-store.example"
DEFAULT_CURRENCY = "USD"
SILENT_FIELDS = frozenset({"mpn", "gtin", "product_tax_code"})  # changes BigCommerce fires no callback for
READ_ONLY_FIELDS = frozenset({"id", "date_created", "date_modified", "calculated_price", "base_variant_id"})
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


# --- rendering templates: every product_Full / productVariant_Full field, in BigCommerce's order -------
# fmt: off
PRODUCT_TEMPLATE: dict[str, Any] = {
    "id": 0, "name": "", "type": "physical", "sku": "", "description": "", "weight": 0, "width": 0,
    "depth": 0, "height": 0, "price": 0, "cost_price": 0, "retail_price": 0, "sale_price": 0,
    "map_price": 0, "tax_class_id": 0, "product_tax_code": "", "calculated_price": 0, "categories": [],
    "brand_id": 0, "inventory_level": 0, "inventory_warning_level": 0, "inventory_tracking": "none",
    "reviews_rating_sum": 0, "reviews_count": 0, "total_sold": 0, "fixed_cost_shipping_price": 0,
    "is_free_shipping": False, "is_visible": True, "is_featured": False, "related_products": [],
    "warranty": "", "bin_picking_number": "", "layout_file": "product.html", "upc": "", "mpn": "",
    "gtin": "", "search_keywords": "", "availability": "available", "availability_description": "",
    "gift_wrapping_options_type": "any", "gift_wrapping_options_list": [], "sort_order": 0,
    "condition": "New", "is_condition_shown": False, "order_quantity_minimum": 0,
    "order_quantity_maximum": 0, "page_title": "", "meta_keywords": [], "meta_description": "",
    "date_created": "", "date_modified": "", "view_count": 0, "preorder_release_date": None,
    "preorder_message": "", "is_preorder_only": False, "is_price_hidden": False, "price_hidden_label": "",
    "custom_url": None, "base_variant_id": None, "open_graph_type": "product", "open_graph_title": "",
    "open_graph_description": "", "open_graph_use_meta_description": True,
    "open_graph_use_product_name": True, "open_graph_use_image": True,
}
EAGER_DETAILS_UP_TO = 5_000  # products; a bigger store fills its details in a background thread
SKU_ID_OFFSET = 100_000_000  # a variant's sku_id (the legacy SKU id callbacks carry) = its id + this
_CORE_ONLY = ("url", "url_customized", "created")  # compact-record keys that are not API fields
_LIST_FIELDS = ("categories", "related_products", "gift_wrapping_options_list", "meta_keywords")
_STORED_PRODUCT_FIELDS = frozenset(PRODUCT_TEMPLATE) - {"calculated_price", "date_created", "date_modified",
                                                       "custom_url", "base_variant_id"}
_PRODUCT_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    k: (int, float) if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v)
    for k, v in PRODUCT_TEMPLATE.items() if v is not None
}
_ENUMS = {
    "type": {"physical", "digital"},
    "inventory_tracking": {"none", "product", "variant"},
    "availability": {"available", "disabled", "preorder"},
    "condition": {"New", "Used", "Refurbished"},
}
VARIANT_TEMPLATE: dict[str, Any] = {
    "id": 0, "product_id": 0, "sku": "", "sku_id": 0, "price": None, "calculated_price": 0,
    "sale_price": None, "retail_price": None, "weight": None, "calculated_weight": 0, "width": None,
    "height": None, "depth": None, "is_free_shipping": False, "fixed_cost_shipping_price": None,
    "purchasing_disabled": False, "purchasing_disabled_message": "", "image_url": "", "cost_price": None,
    "upc": "", "mpn": "", "gtin": "", "inventory_level": 0, "inventory_warning_level": 0,
    "bin_picking_number": "", "option_values": [],
}
_NUMBER_OR_NULL = (int, float, type(None))
_VARIANT_UPDATABLE: dict[str, type | tuple[type, ...]] = {
    "sku": str, "price": _NUMBER_OR_NULL, "sale_price": _NUMBER_OR_NULL, "retail_price": _NUMBER_OR_NULL,
    "cost_price": _NUMBER_OR_NULL, "weight": _NUMBER_OR_NULL, "purchasing_disabled": bool,
    "purchasing_disabled_message": str, "image_url": str, "upc": str, "mpn": str, "gtin": str,
    "inventory_level": int, "inventory_warning_level": int, "bin_picking_number": str,
}

# --- vocabulary for generated data ------------------------------------------------------------------------
_ADJECTIVES = ("Classic", "Modern", "Vintage", "Organic", "Essential", "Premium", "Rustic", "Urban",
               "Coastal", "Nordic", "Handmade", "Everyday", "Deluxe", "Compact", "Artisan", "Heritage",
               "Café", "Smith's")
_MATERIALS = ("Cotton", "Linen", "Ceramic", "Oak", "Steel", "Glass", "Wool", "Leather", "Bamboo", "Copper",
              "Marble", "Canvas", "Stoneware", "Walnut", "Silk", "Enamel")
_NOUNS = ("Tee", "Mug", "Journal", "Towel", "Lamp", "Jar", "Tote", "Throw", "Vase", "Bowl", "Chair", "Candle",
          "Planter", "Apron", "Basket", "Blanket", 'Record 12"', "Cutting Board", "Kettle", "Backpack")
_DESCRIPTIONS = tuple(
    f"<p><span>{text}</span></p>" if text else ""
    for text in (
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
        "Made to last, designed for everyday use. Machine washable.",
        "Hand finished in small batches; every piece is slightly different.",
        "Ships in recycled packaging. Care: wipe clean with a damp cloth.",
        "A customer favourite &mdash; now in more colours.",
        "",
    )
)
_OPTIONS = (("Size", ("XS", "S", "M", "L", "XL", "XXL")),
            ("Color", ("Red", "Blue", "Black", "Beige", "Grey", "Green", "Navy")),
            ("Material", ("Cotton", "Linen", "Wool", "Silk")),
            ("Capacity", ("250 ml", "500 ml", "1 L")),
            ("Finish", ("Matte", "Gloss", "Satin")))
_CUSTOM_FIELDS = (("Material", ("Cotton", "Linen", "Recycled polyester", "Stoneware")),
                  ("Origin", ("Portugal", "Japan", "United Kingdom", "Vietnam")),
                  ("Care", ("Hand wash", "Machine wash 30°C", "Dishwasher safe")),
                  ("Warranty", ("1 year", "2 years", "Lifetime")),
                  ("ISBN", ("1234567890123", "9780306406157")),
                  ("Feature", ("Waterproof", "Vegan", "Fair trade", "Gift boxed")))
_TOP_CATEGORIES = ("Shop All", "Apparel", "Home", "Kitchen", "Garden", "Bath", "Outdoors", "Toys", "Books",
                   "Electronics", "Beauty", "Sports", "Office", "Pets", "Music", "Publications", "Utility")
_SUB_CATEGORIES = ("New In", "Sale", "Women", "Men", "Kids", "Accessories", "Storage", "Lighting", "Textiles",
                   "Tableware", "Cookware", "Tools", "Plants", "Decor", "Gifts", "Essentials", "Bestsellers",
                   "Limited Edition", "Clearance", "Bundles", "Travel", "Workwear", "Seasonal", "Basics")
_BRANDS = ("Sagaform", "OFS", "Common Good", "Le Parfait", "Fog Linen", "Able Brewing", "Northwind",
           "Hearth & Co", "Kinto", "Tivoli", "Barebones", "Chemex", "Fellow", "Hay", "Muji", "Stelton",
           "Iittala", "Marimekko",
           "Smeg", "Bodum", "Ferm Living", "Normann", "Menu", "Georg Jensen", "Rosti", "Eva Solo", "Zone",
           "Vipp", "Gubi", "Louis Poulsen")
# fmt: on

_SLUGS = {word: slugify(word) for word in (*_ADJECTIVES, *_MATERIALS, *_NOUNS)}
# precomputed ordered draws (random.sample is slow: it checks its argument against collections.abc)
_CUSTOM_FIELD_DRAWS = [p for k in (1, 2, 3) for p in itertools.permutations(_CUSTOM_FIELDS, k)]
_OPTION_DRAWS = [list(itertools.permutations(_OPTIONS, 1)), list(itertools.permutations(_OPTIONS, 2))]
_LABEL_DRAWS = {
    name: [p for k in (2, 3) for p in itertools.permutations(labels, k)] for name, labels in _OPTIONS
}


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


class Store:
    """A whole simulated BigCommerce store. Every public method is thread-safe."""

    def __init__(
        self,
        products: int = 200,
        seed: int = 1,
        store_hash: str = SANDBOX_STORE_HASH,
        site_url: str = DEFAULT_SITE_URL,
        currency: str = DEFAULT_CURRENCY,
        clock: Callable[[], float] = time.time,
        categories_in: str = "any",
    ):
        if not 1 <= products <= 1_000_000:
            raise ValueError("products must be between 1 and 1,000,000")
        self.store_hash = store_hash
        self.site_url = site_url
        self.currency = currency
        self.seed = seed
        self.clock = clock
        # `categories:in=a,b`: the spec reads "in all of them", common use (and FACTS.md) "in any";
        # "any" by default, switchable (POST /_sandbox/config) so clients can be tested against both.
        self.categories_in = categories_in
        self.created_at = EPOCH_BASE - 86400 * 30
        self._cdn = f"https://cdn11.bigcommerce.com/s-{store_hash}"
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._events: deque[dict] = deque(maxlen=200_000)
        self._event_counts: Counter[str] = Counter()
        self._event_seq = 0
        self._products: dict[int, dict] = {}
        self._names: dict[str, int] = {}  # product names are unique in BigCommerce
        self._ids: list[int] = []  # sorted product ids
        self._modified: dict[int, int] = {}  # product id -> date_modified epoch
        self._variants: dict[int, list[dict]] = {}  # option variants of complex products
        self._images: dict[int, list[dict]] = {}
        self._custom_fields: dict[int, list[dict]] = {}
        self._by_category: dict[int, set[int]] = {}
        self._categories: dict[int, dict] = {}
        self._brands: dict[int, dict] = {}
        self._hooks: dict[int, dict] = {}
        self._pending: set[int] = set()  # products whose details are not generated yet
        self.details_seconds = 0.0
        self._next = {  # ids of entities created after generation
            "product": 1,
            "variant": 1_000_000_001,
            "option": 1_000_000_001,
            "value": 1_000_000_001,
            "image": 1_000_000_001,
            "field": 1_000_000_001,
            "category": 18,
            "brand": 35,
            "hook": 22561593,
        }
        started = time.perf_counter()
        self._generate(products, random.Random(seed))
        self.generation_seconds = time.perf_counter() - started
        # Details (variants, images, custom fields) are made on first use; a big store also fills them in
        # the background so that later reads find them ready. `wait_ready()` waits for that.
        self._ready = threading.Event()
        if products <= EAGER_DETAILS_UP_TO:
            self._fill_details()
        else:
            threading.Thread(target=self._fill_details, name="sandbox-store-details", daemon=True).start()

    def _fill_details(self) -> None:
        started = time.perf_counter()
        pids = list(self._ids)
        for i in range(0, len(pids), 250):  # short lock holds: requests interleave
            with self._lock:
                for pid in pids[i : i + 250]:
                    if pid in self._products:
                        self._details(pid)
            time.sleep(0)
        self.details_seconds = time.perf_counter() - started
        self._ready.set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once every generated product has its variants, images and custom fields."""
        return self._ready.wait(timeout)

    # ------------------------------------------------------------------ generation
    def _id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    def _generate(self, n: int, rng: random.Random) -> None:
        self._generate_categories(category_count(n), rng)
        self._generate_brands(_scaled(n, 8, len(_BRANDS), 2000), rng)
        leaves = [
            c for c in self._categories if not any(x["parent_id"] == c for x in self._categories.values())
        ]
        all_categories = list(self._categories)
        brands = list(self._brands)
        self._by_category = {c: set() for c in self._categories}
        dice = _Dice(rng)
        for _ in range(n):
            self._generate_product(dice, leaves, all_categories, brands)

    def _generate_categories(self, count: int, rng: random.Random) -> None:
        tops = max(5, count // 12)
        depth: dict[int, int] = {}
        names_used: dict[int, set[str]] = {}

        def add(name: str, parent: int) -> int:
            siblings = names_used.setdefault(parent, set())
            base, k = name, 2
            while name in siblings:
                name, k = f"{base} {k}", k + 1
            siblings.add(name)
            cid = self._id("category")
            parent_path = self._categories[parent]["path"] if parent else "/"
            self._categories[cid] = {
                "id": cid,
                "parent_id": parent,
                "name": name[:50],
                "path": f"{parent_path}{slugify(name)}/",
                "is_visible": rng.random() > 0.05,
                "sort_order": len(siblings) - 1,
                "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "is_customized": rng.random() < 0.2,
            }
            depth[cid] = 0 if not parent else depth[parent] + 1
            return cid

        for name in _TOP_CATEGORIES[:tops] if tops <= len(_TOP_CATEGORIES) else _TOP_CATEGORIES:
            add(name, 0)
        while len(self._categories) < tops:
            add(f"Collection {len(self._categories)}", 0)
        # guarantee depth: one chain four levels deep, then grow randomly up to depth 3 (4 levels)
        chain = next(iter(self._categories))
        for _ in range(3):
            chain = add(rng.choice(_SUB_CATEGORIES), chain)
        while len(self._categories) < count:
            parent = rng.choice([c for c in self._categories if depth[c] < 3])
            add(rng.choice(_SUB_CATEGORIES), parent)

    def _generate_brands(self, count: int, rng: random.Random) -> None:
        for name in _BRANDS[:count]:
            bid = self._id("brand")
            self._brands[bid] = {
                "id": bid,
                "name": name,
                "search_keywords": name.lower(),
                "image_url": ""
                if rng.random() < 0.5
                else f"https://cdn11.bigcommerce.com/s-{self.store_hash}/product_images/{slugify(name)}.png",
            }

    def _generate_product(
        self, d: _Dice, leaves: list[int], all_categories: list[int], brands: list[int]
    ) -> None:
        r, pick, between = d.r, d.pick, d.between
        pid = self._next["product"]
        self._next["product"] = pid + 1
        adjective, material, noun = pick(_ADJECTIVES), pick(_MATERIALS), pick(_NOUNS)
        name = f"{adjective} {material} {noun} {pid}"
        price = 0.0 if r() < 0.01 else round(2 + r() * 398, 2)
        roll = r()
        sale = (
            0.0
            if roll < 0.6 or price == 0
            else (
                round(price * pick((0.5, 0.75, 0.8, 0.9)), 2)
                if roll < 0.85
                else price
                if roll < 0.92
                else round(price + pick((1, 5, 10)), 2)
            )
        )
        has_variants = r() < 0.3
        roll = r()
        if has_variants:
            tracking = "variant" if roll < 0.5 else "product" if roll < 0.75 else "none"
        else:
            tracking = "product" if roll < 0.5 else "none"
        categories: list[int] = (
            []
            if r() < 0.03
            else sorted({pick(leaves if r() < 0.8 else all_categories) for _ in range(between(1, 3))})
        )
        created = EPOCH_BASE + between(0, 300 * 86400)
        availability_roll = r()
        core: dict[str, Any] = {
            "id": pid,
            "name": name,
            "sku": "" if r() < 0.04 else f"SKU-{pid:06d}",
            "description": pick(_DESCRIPTIONS),
            "weight": round(0.1 + r() * 12, 2),
            "price": price,
            "cost_price": round(price * 0.4, 2) if r() < 0.5 else 0,
            "retail_price": 0 if r() < 0.7 else round(price * 1.2, 2),
            "sale_price": sale,
            "categories": categories,
            "brand_id": 0 if r() < 0.15 or not brands else pick(brands),
            "inventory_level": 0,
            "inventory_tracking": tracking,
            "total_sold": between(0, 500),
            "is_visible": r() > 0.1,
            "availability": "disabled"
            if availability_roll < 0.05
            else "preorder"
            if availability_roll < 0.07
            else "available",
            "is_featured": r() < 0.05,
            "url": f"/{_SLUGS[adjective]}-{_SLUGS[material]}-{_SLUGS[noun]}-{pid}/",
            "url_customized": r() < 0.1,
            "created": created,
            "base_variant_id": None,
        }
        if tracking == "product":
            core["inventory_level"] = 0 if r() < 0.2 else between(1, 500)
        self._products[pid] = core
        self._names[name] = pid
        self._ids.append(pid)
        self._modified[pid] = created + between(0, 200 * 86400)
        by_category = self._by_category
        for cid in categories:
            by_category[cid].add(pid)
        if not has_variants:
            core["base_variant_id"] = pid * 10
        self._pending.add(pid)  # variants, images, custom fields: generated on first use

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

    # ------------------------------------------------------------------ rendering
    def _render_product(self, core: dict, includes: Iterable[str] = ()) -> dict:
        out = dict(PRODUCT_TEMPLATE)
        out.update(core)  # keeps the template's key order
        for key in _CORE_ONLY:
            del out[key]
        pid = core["id"]
        if pid in self._pending and (includes or core["inventory_tracking"] == "variant"):
            self._details(pid)
            out["inventory_level"] = core["inventory_level"]
        for key in _LIST_FIELDS:
            out[key] = list(out[key])
        sale, price = out["sale_price"], out["price"]
        out["calculated_price"] = sale if sale and sale > 0 else price
        out["date_created"] = iso(core["created"])
        out["date_modified"] = iso(self._modified[pid])
        out["custom_url"] = {"url": core["url"], "is_customized": core["url_customized"]}
        for include in includes:
            if include == "variants":
                out["variants"] = self._render_variants(core)
            elif include == "images":
                out["images"] = [self._render_image(pid, i) for i in self._images.get(pid, ())]
            elif include == "custom_fields":
                out["custom_fields"] = [dict(f) for f in self._custom_fields.get(pid, ())]
            elif include == "primary_image":
                thumbs = [i for i in self._images.get(pid, ()) if i["is_thumbnail"]]
                if thumbs:
                    out["primary_image"] = self._render_image(pid, thumbs[0])
            elif include == "options":
                out["options"] = self._render_options(core)
            elif include == "channels":
                out["channels"] = [1]
            elif include in ("bulk_pricing_rules", "modifiers", "videos", "parent_relations", "reviews"):
                out[include] = []
        return out

    def _render_variants(self, core: dict) -> list[dict]:
        pid = core["id"]
        self._details(pid)
        variants = self._variants.get(pid)
        if not variants:  # a simple product has exactly one base variant without option values
            base = dict(VARIANT_TEMPLATE)
            base.update(
                id=core["base_variant_id"],
                product_id=pid,
                sku=core["sku"],
                sku_id=core["base_variant_id"] + SKU_ID_OFFSET,
                price=core["price"],
                sale_price=core["sale_price"],
                retail_price=core.get("retail_price"),
                cost_price=core.get("cost_price"),
                weight=core["weight"],
                calculated_weight=core["weight"],
                inventory_level=core["inventory_level"],
                calculated_price=core["sale_price"] or core["price"],
                option_values=[],
            )
            return [base]
        out = []
        for v in variants:
            row = dict(VARIANT_TEMPLATE)
            row.update(v)
            row["product_id"] = pid
            row["option_values"] = [dict(ov) for ov in v["option_values"]]
            price = v["price"] if v["price"] is not None else core["price"]
            sale = v["sale_price"] if v["sale_price"] is not None else core["sale_price"]
            row["calculated_price"] = sale if sale and sale > 0 else price
            row["calculated_weight"] = v.get("weight") or core["weight"]
            out.append(row)
        return out

    def _render_options(self, core: dict) -> list[dict]:
        self._details(core["id"])
        options: dict[int, dict] = {}
        for v in self._variants.get(core["id"], ()):
            for ov in v["option_values"]:
                opt = options.setdefault(
                    ov["option_id"],
                    {
                        "id": ov["option_id"],
                        "product_id": core["id"],
                        "display_name": ov["option_display_name"],
                        "type": "rectangles" if ov["option_display_name"] == "Size" else "dropdown",
                        "sort_order": len(options),
                        "option_values": [],
                    },
                )
                if all(x["id"] != ov["id"] for x in opt["option_values"]):
                    opt["option_values"].append(
                        {
                            "id": ov["id"],
                            "label": ov["label"],
                            "is_default": False,
                            "sort_order": len(opt["option_values"]),
                            "value_data": None,
                        }
                    )
        return list(options.values())

    def _render_image(self, pid: int, img: dict) -> dict:
        iid, stem = img["id"], img["stem"]
        base = f"{self._cdn}/products/{pid}/images/{iid}/{stem}__{iid % 99991}"
        return {
            "id": iid,
            "product_id": pid,
            "is_thumbnail": img["is_thumbnail"],
            "sort_order": img["sort_order"],
            "description": img["description"],
            "image_file": f"{stem[0]}/{iid % 1000:03d}/{stem}__{iid}.jpg",
            "url_zoom": f"{base}.1280.1280.jpg?c=2",
            "url_standard": f"{base}.386.513.jpg?c=2",
            "url_thumbnail": f"{base}.220.290.jpg?c=2",
            "url_tiny": f"{base}.44.58.jpg?c=2",
            "date_modified": iso(img["modified"]),
        }

    def _render_category_tree_item(self, c: dict) -> dict:
        return {
            "category_id": c["id"],
            "category_uuid": c["uuid"],
            "parent_id": c["parent_id"],
            "tree_id": 1,
            "name": c["name"],
            "description": "",
            "views": 0,
            "sort_order": c["sort_order"],
            "page_title": "",
            "meta_keywords": [],
            "meta_description": "",
            "layout_file": "category.html",
            "image_url": "",
            "is_visible": c["is_visible"],
            "search_keywords": "",
            "default_product_sort": "use_store_settings",
            "url": {"path": c["path"], "is_customized": c["is_customized"]},
        }

    def _render_category(self, c: dict) -> dict:
        return {
            "id": c["id"],
            "parent_id": c["parent_id"],
            "name": c["name"],
            "description": "",
            "views": 0,
            "sort_order": c["sort_order"],
            "page_title": "",
            "meta_keywords": [],
            "meta_description": "",
            "layout_file": "category.html",
            "image_url": "",
            "is_visible": c["is_visible"],
            "search_keywords": "",
            "default_product_sort": "use_store_settings",
            "custom_url": {"url": c["path"], "is_customized": c["is_customized"]},
        }

    def _render_brand(self, b: dict) -> dict:
        return {
            "id": b["id"],
            "name": b["name"],
            "page_title": "",
            "meta_keywords": [],
            "meta_description": "",
            "image_url": b["image_url"],
            "search_keywords": b["search_keywords"],
            "custom_url": {"url": f"/brands/{slugify(b['name'])}.html", "is_customized": False},
        }

    # ------------------------------------------------------------------ queries
    def product_count(self) -> int:
        with self._lock:
            return len(self._ids)

    def product_ids(self) -> list[int]:
        with self._lock:
            return list(self._ids)

    def has_product(self, product_id: int) -> bool:
        with self._lock:
            return product_id in self._products

    def get_product(self, product_id: int, includes: Iterable[str] = ()) -> dict:
        with self._lock:
            core = self._products.get(product_id)
            if core is None:
                raise NotFound(f"product {product_id}")
            return self._render_product(core, includes)

    def query_products(
        self,
        *,
        ids: Iterable[int] | None = None,
        categories: Iterable[int] | None = None,
        modified_min: float | None = None,
        modified_max: float | None = None,
        predicates: Iterable[tuple[str, Callable[[Any], bool]]] = (),
        sort: str = "id",
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
        includes: Iterable[str] = (),
    ) -> tuple[int, list[dict]]:
        """Filter, sort and page the catalogue; returns (total matching, rendered page).

        `ids` and `categories` use the indexes, so `id:in` with 250 ids never scans the catalogue;
        `predicates` are (product field, test) pairs applied to what remains.
        """
        includes = tuple(includes)
        with self._lock:
            if ids is not None:
                candidates = sorted({i for i in ids if i in self._products})
            elif categories is not None:
                cats = [self._by_category.get(c, set()) for c in categories]
                if not cats:
                    chosen: set[int] = set()
                elif self.categories_in == "all":
                    chosen = set.intersection(*cats)
                else:
                    chosen = set().union(*cats)
                candidates = sorted(chosen)
            else:
                candidates = self._ids
            if ids is not None and categories is not None:
                wanted = set().union(*(self._by_category.get(c, set()) for c in categories))
                candidates = [i for i in candidates if i in wanted]
            if modified_min is not None or modified_max is not None:
                lo = modified_min if modified_min is not None else float("-inf")
                hi = modified_max if modified_max is not None else float("inf")
                modified = self._modified
                candidates = [i for i in candidates if lo <= modified[i] <= hi]
            predicates = list(predicates)
            if predicates:
                products = self._products
                candidates = [
                    i
                    for i in candidates
                    if all(test(self._field(products[i], name)) for name, test in predicates)
                ]
            if sort != "id" or descending:
                candidates = self._sorted(candidates, sort, descending)
            total = len(candidates)
            page = candidates[offset : offset + limit]
            return total, [self._render_product(self._products[i], includes) for i in page]

    def _field(self, core: dict, name: str) -> Any:
        """A product field's value as the API shows it, straight from the compact record."""
        if name == "calculated_price":
            return core["sale_price"] if core["sale_price"] and core["sale_price"] > 0 else core["price"]
        if name == "date_modified":
            return self._modified[core["id"]]
        if name == "date_created":
            return core["created"]
        if name == "inventory_level" and core["inventory_tracking"] == "variant":
            self._details(core["id"])
        return core.get(name, PRODUCT_TEMPLATE.get(name))

    def _sorted(self, ids: list[int], sort: str, descending: bool) -> list[int]:
        if sort == "id":
            return sorted(ids, reverse=descending)
        products = self._products
        return sorted(ids, key=lambda i: (self._field(products[i], sort), i), reverse=descending)

    def variants(self, product_id: int) -> list[dict]:
        with self._lock:
            return self._render_variants(self._core(product_id))

    def images(self, product_id: int) -> list[dict]:
        with self._lock:
            self._core(product_id)
            return [self._render_image(product_id, i) for i in self._images.get(product_id, ())]

    def custom_fields(self, product_id: int) -> list[dict]:
        with self._lock:
            self._core(product_id)
            return [dict(f) for f in self._custom_fields.get(product_id, ())]

    def category_assignments(
        self, product_ids: Iterable[int] | None = None, category_ids: Iterable[int] | None = None
    ) -> list[dict]:
        with self._lock:
            if product_ids is not None:
                pids = sorted({p for p in product_ids if p in self._products})
            elif category_ids is not None:
                pids = sorted(set().union(*(self._by_category.get(c, set()) for c in category_ids)))
            else:
                pids = self._ids
            wanted = set(category_ids) if category_ids is not None else None
            return [
                {"product_id": p, "category_id": c}
                for p in pids
                for c in self._products[p]["categories"]
                if wanted is None or c in wanted
            ]

    def category_tree(self) -> list[dict]:
        with self._lock:
            return [self._render_category_tree_item(c) for c in self._categories.values()]

    def categories(self) -> list[dict]:
        with self._lock:
            return [self._render_category(c) for c in self._categories.values()]

    def category_descendants(self, category_id: int) -> list[int]:
        with self._lock:
            out, frontier = [], [category_id]
            while frontier:
                parent = frontier.pop()
                children = [c for c, v in self._categories.items() if v["parent_id"] == parent]
                out.extend(children)
                frontier.extend(children)
            return out

    def brands(self) -> list[dict]:
        with self._lock:
            return [self._render_brand(b) for b in self._brands.values()]

    def snapshot(self) -> dict:
        """Everything a test needs to compute the expected Ometria state, exactly as the API returns it."""
        with self._lock:
            return {
                "store_hash": self.store_hash,
                "products": [
                    self._render_product(self._products[i], ("variants", "images", "custom_fields"))
                    for i in self._ids
                ],
                "categories": [self._render_category_tree_item(c) for c in self._categories.values()],
                "brands": [self._render_brand(b) for b in self._brands.values()],
                "site_url": self.site_url,
                "currency": self.currency,
            }

    def random_product_ids(self, rng: random.Random, k: int) -> list[int]:
        with self._lock:
            return rng.sample(self._ids, min(k, len(self._ids)))

    def product_has_option_variants(self, product_id: int) -> bool:
        with self._lock:
            self._details(product_id)
            return bool(self._variants.get(product_id))

    def option_variant_ids(self, product_id: int) -> list[int]:
        with self._lock:
            self._details(product_id)
            return [v["id"] for v in self._variants.get(product_id, ())]

    def image_ids(self, product_id: int) -> list[int]:
        with self._lock:
            self._details(product_id)
            return [i["id"] for i in self._images.get(product_id, ())]

    def category_ids(self) -> list[int]:
        with self._lock:
            return list(self._categories)

    # ------------------------------------------------------------------ events
    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def events(self, since: int = 0) -> list[dict]:
        """Callbacks fired (the newest 200,000), each {"seq", "scope", "data", "at"}, with seq > `since`."""
        with self._lock:
            return [e for e in self._events if e["seq"] > since]

    def event_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._event_counts)

    @property
    def last_event_seq(self) -> int:
        with self._lock:
            return self._event_seq

    def replay(self, scope: str, data: dict) -> Result:
        """Fire a callback without changing anything: what a BigCommerce re-delivery looks like."""
        return self._emit([(scope, data)])

    def _emit(self, pending: list[tuple[str, dict]], entity: dict | None = None) -> Result:
        with self._lock:
            listeners = list(self._listeners)
            now = self.clock()
            out = []
            for scope, data in pending:
                self._event_seq += 1
                self._event_counts[scope] += 1
                self._events.append({"seq": self._event_seq, "scope": scope, "data": data, "at": now})
                out.append({"scope": scope, "data": data})
        for event in out:  # outside the lock: a listener may read the store
            for listener in listeners:
                listener(event["scope"], _copy_data(event["data"]))
        return Result(events=out, entity=entity)

    @staticmethod
    def _product_event(scope: str, pid: int) -> tuple[str, dict]:
        return scope, {"type": "product", "id": pid}

    @staticmethod
    def _sku_event(scope: str, pid: int, variant: dict) -> tuple[str, dict]:
        return scope, sku_data(pid, variant)

    # ------------------------------------------------------------------ mutations: products
    def _core(self, product_id: int) -> dict:
        core = self._products.get(product_id)
        if core is None:
            raise NotFound(f"product {product_id}")
        self._details(product_id)
        return core

    def _touch(self, pid: int) -> None:
        self._modified[pid] = int(self.clock())

    def _validate_product_fields(self, fields: dict) -> dict:
        clean: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for key, value in fields.items():
            if key in READ_ONLY_FIELDS:
                continue  # BigCommerce ignores read-only fields on PUT
            if key == "custom_url":
                if not isinstance(value, dict) or not isinstance(value.get("url"), str) or not value["url"]:
                    errors[key] = "custom_url.url must be a non-empty string"
                else:
                    clean[key] = value
                continue
            if key not in _STORED_PRODUCT_FIELDS:
                continue  # unknown / unmodelled fields are accepted and ignored
            expected = _PRODUCT_FIELD_TYPES.get(key)
            if expected is not None and (
                not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool)
            ):
                errors[key] = f"{key} has the wrong type"
                continue
            if key in _ENUMS and value not in _ENUMS[key]:
                errors[key] = f"{key} must be one of {sorted(_ENUMS[key])}"
                continue
            if (
                key in ("price", "sale_price", "retail_price", "cost_price", "weight", "inventory_level")
                and value < 0
            ):
                errors[key] = f"{key} must be >= 0"
                continue
            if key == "name" and not 1 <= len(value) <= 250:
                errors[key] = "name must be 1-250 characters"
                continue
            if key == "categories":
                if not all(isinstance(c, int) and not isinstance(c, bool) for c in value):
                    errors[key] = "categories must be integers"
                    continue
                missing = [c for c in value if c not in self._categories]
                if missing:
                    raise Invalid(
                        f"Category {missing[0]} does not exist", {key: "category not found"}, conflict=True
                    )
                value = list(dict.fromkeys(value))
            if key == "brand_id" and value and value not in self._brands:
                raise Invalid(f"Brand {value} does not exist", {key: "brand not found"}, conflict=True)
            clean[key] = value
        if errors:
            raise Invalid("The request payload is invalid", errors)
        return clean

    def _set_categories(self, pid: int, old: list[int], new: list[int]) -> None:
        for c in set(old) - set(new):
            self._by_category.get(c, set()).discard(pid)
        for c in set(new) - set(old):
            self._by_category.setdefault(c, set()).add(pid)

    def update_product(self, product_id: int, **fields: Any) -> Result:
        with self._lock:
            core = self._core(product_id)
            clean = self._validate_product_fields(fields)
            if self._names.get(clean.get("name"), product_id) != product_id:
                raise Invalid("The product name is a duplicate", {"name": "duplicate"}, conflict=True)
            if "name" in clean:
                self._names.pop(core["name"], None)
                self._names[clean["name"]] = product_id
            changed = set()
            for key, value in clean.items():
                if key == "custom_url":
                    if (value["url"], bool(value.get("is_customized", True))) != (
                        core["url"],
                        core["url_customized"],
                    ):
                        core["url"], core["url_customized"] = (
                            value["url"],
                            bool(value.get("is_customized", True)),
                        )
                        changed.add(key)
                    continue
                if core.get(key, PRODUCT_TEMPLATE.get(key)) != value:
                    if key == "categories":
                        self._set_categories(product_id, core["categories"], value)
                    core[key] = value
                    changed.add(key)
            if "inventory_tracking" in changed:
                self._sync_variant_inventory(core)
            self._touch(product_id)
            pending = []
            if changed - SILENT_FIELDS or not changed:
                pending.append(self._product_event("store/product/updated", product_id))
            if "inventory_level" in changed:
                pending.append(
                    (
                        "store/product/inventory/updated",
                        {
                            "type": "product",
                            "id": product_id,
                            "inventory": {
                                "product_id": product_id,
                                "method": "absolute",
                                "value": core["inventory_level"],
                            },
                        },
                    )
                )
            entity = self._render_product(core)
        return self._emit(pending, entity)

    def create_product(
        self, fields: dict | None = None, variants: int = 0, seed: int | None = None
    ) -> Result:
        """Create a product (`fields` given, the rest generated) with `variants` option variants."""
        fields = dict(fields or {})
        with self._lock:
            rng = random.Random(seed if seed is not None else self._next["product"] * 7919 + self.seed)
            clean = self._validate_product_fields(fields)
            pid = self._next["product"]
            name = clean.pop("name", None) or f"New {rng.choice(_MATERIALS)} {rng.choice(_NOUNS)} {pid}"
            if name in self._names:
                raise Invalid("The product name is a duplicate", {"name": "duplicate"}, conflict=True)
            self._id("product")
            self._names[name] = pid
            custom_url = clean.pop("custom_url", None)
            now = int(self.clock())
            core: dict[str, Any] = {
                "id": pid,
                "name": name,
                "sku": f"SKU-{pid:06d}",
                "description": rng.choice(_DESCRIPTIONS),
                "weight": 1.0,
                "price": round(rng.uniform(5, 200), 2),
                "cost_price": 0,
                "retail_price": 0,
                "sale_price": 0,
                "categories": [],
                "brand_id": 0,
                "inventory_level": 0,
                "inventory_tracking": "none",
                "total_sold": 0,
                "is_visible": True,
                "availability": "available",
                "is_featured": False,
                "url": (custom_url or {}).get("url") or f"/{slugify(name)}/",
                "url_customized": bool(custom_url),
                "created": now,
                "base_variant_id": None,
            }
            core.update(clean)
            self._products[pid] = core
            bisect.insort(self._ids, pid)
            self._modified[pid] = now
            self._set_categories(pid, [], core["categories"])
            pending = [self._product_event("store/product/created", pid)]
            if variants > 0:
                option_id = self._id("option")
                labels = [f"Option {k + 1}" for k in range(variants)]
                self._variants[pid] = [
                    self._new_variant(
                        _Dice(rng),
                        core,
                        n,
                        [
                            {
                                "id": self._id("value"),
                                "label": label,
                                "option_id": option_id,
                                "option_display_name": "Style",
                            }
                        ],
                    )
                    for n, label in enumerate(labels)
                ]
                self._sync_variant_inventory(core)
                pending += [self._sku_event("store/sku/created", pid, v) for v in self._variants[pid]]
            else:
                core["base_variant_id"] = pid * 10
            entity = self._render_product(core, ("variants",))
        return self._emit(pending, entity)

    def delete_product(self, product_id: int) -> Result:
        with self._lock:
            core = self._core(product_id)
            self._set_categories(product_id, core["categories"], [])
            del self._products[product_id]
            self._names.pop(core["name"], None)
            self._ids.pop(bisect.bisect_left(self._ids, product_id))
            for table in (self._modified, self._variants, self._images, self._custom_fields):
                table.pop(product_id, None)
            self._pending.discard(product_id)
        return self._emit([self._product_event("store/product/deleted", product_id)])

    def set_total_sold(self, product_id: int, value: int) -> Result:
        with self._lock:
            core = self._core(product_id)
            core["total_sold"] = int(value)
            self._touch(product_id)
            entity = self._render_product(core)
        return self._emit([self._product_event("store/product/updated", product_id)], entity)

    def set_product_inventory(self, product_id: int, value: int, method: str = "absolute") -> Result:
        """An inventory change through the API or control panel (absolute level, or relative adjustment)."""
        if method not in ("absolute", "relative"):
            raise Invalid("method must be absolute or relative", {"method": "invalid"})
        with self._lock:
            core = self._core(product_id)
            level = int(value) if method == "absolute" else core["inventory_level"] + int(value)
            if level < 0:
                raise Invalid("inventory cannot be negative", {"inventory_level": "negative"})
            core["inventory_level"] = level
            self._touch(product_id)
            entity = self._render_product(core)
            pending = [
                (
                    "store/product/inventory/updated",
                    {
                        "type": "product",
                        "id": product_id,
                        "inventory": {"product_id": product_id, "method": method, "value": int(value)},
                    },
                ),
                self._product_event("store/product/updated", product_id),
            ]
        return self._emit(pending, entity)

    def record_sale(self, product_id: int, quantity: int = 1, variant_id: int | None = None) -> Result:
        """An order: total_sold goes up (store/product/updated: order noise) and tracked stock goes down."""
        with self._lock:
            core = self._core(product_id)
            core["total_sold"] += quantity
            pending = [self._product_event("store/product/updated", product_id)]
            if core["inventory_tracking"] == "product":
                core["inventory_level"] = max(0, core["inventory_level"] - quantity)
                pending.append(
                    (
                        "store/product/inventory/order/updated",
                        {
                            "type": "product",
                            "id": product_id,
                            "inventory": {"product_id": product_id, "method": "relative", "value": -quantity},
                        },
                    )
                )
            elif core["inventory_tracking"] == "variant" and self._variants.get(product_id):
                variant = (
                    self._variant(product_id, variant_id) if variant_id else self._variants[product_id][0]
                )
                variant["inventory_level"] = max(0, variant["inventory_level"] - quantity)
                self._sync_variant_inventory(core)
                pending.append(
                    (
                        "store/sku/inventory/order/updated",
                        sku_inventory_data(product_id, variant, "relative", -quantity),
                    )
                )
            self._touch(product_id)
            entity = self._render_product(core)
        return self._emit(pending, entity)

    # ------------------------------------------------------------------ mutations: variants
    def _variant(self, product_id: int, variant_id: int | None) -> dict:
        for v in self._variants.get(product_id, ()):
            if v["id"] == variant_id:
                return v
        raise NotFound(f"variant {variant_id} of product {product_id}")

    def _sync_variant_inventory(self, core: dict) -> None:
        if core["inventory_tracking"] == "variant" and self._variants.get(core["id"]):
            core["inventory_level"] = sum(v["inventory_level"] for v in self._variants[core["id"]])

    def update_variant(self, product_id: int, variant_id: int, **fields: Any) -> Result:
        with self._lock:
            core = self._core(product_id)
            variant = self._variant(product_id, variant_id)
            errors = {k: "unknown or read-only field" for k in fields if k not in _VARIANT_UPDATABLE}
            errors |= {
                k: "wrong type"
                for k, v in fields.items()
                if k in _VARIANT_UPDATABLE
                and (
                    not isinstance(v, _VARIANT_UPDATABLE[k])
                    or (isinstance(v, bool) and _VARIANT_UPDATABLE[k] is not bool)
                )
            }
            if errors:
                raise Invalid("The request payload is invalid", errors)
            inventory_changed = (
                "inventory_level" in fields and fields["inventory_level"] != variant["inventory_level"]
            )
            variant.update(fields)
            self._sync_variant_inventory(core)
            self._touch(product_id)
            pending = [self._sku_event("store/sku/updated", product_id, variant)]
            if inventory_changed:
                pending.append(
                    (
                        "store/sku/inventory/updated",
                        sku_inventory_data(product_id, variant, "absolute", variant["inventory_level"]),
                    )
                )
            entity = next(v for v in self._render_variants(core) if v["id"] == variant_id)
        return self._emit(pending, entity)

    def set_variant_inventory(
        self, product_id: int, variant_id: int, value: int, method: str = "absolute"
    ) -> Result:
        if method not in ("absolute", "relative"):
            raise Invalid("method must be absolute or relative", {"method": "invalid"})
        with self._lock:
            core = self._core(product_id)
            variant = self._variant(product_id, variant_id)
            level = int(value) if method == "absolute" else variant["inventory_level"] + int(value)
            if level < 0:
                raise Invalid("inventory cannot be negative", {"inventory_level": "negative"})
            variant["inventory_level"] = level
            self._sync_variant_inventory(core)
            self._touch(product_id)
            pending = [
                ("store/sku/inventory/updated", sku_inventory_data(product_id, variant, method, int(value)))
            ]
            entity = next(v for v in self._render_variants(core) if v["id"] == variant_id)
        return self._emit(pending, entity)

    def create_variant(self, product_id: int, label: str | None = None, **fields: Any) -> Result:
        """Add an option variant (a new value of the product's first option; a simple product gets one)."""
        with self._lock:
            core = self._core(product_id)
            variants = self._variants.setdefault(product_id, [])
            if variants:
                first = variants[0]["option_values"][0]
                option_id, display = first["option_id"], first["option_display_name"]
                others = [dict(ov) for ov in variants[0]["option_values"][1:]]
            else:
                option_id, display, others = self._id("option"), "Style", []
                core["base_variant_id"] = None
            dice = _Dice(random.Random(self._next["variant"] + self.seed))
            n = len(variants)
            option_value = {
                "id": self._id("value"),
                "label": label or f"Edition {self._next['value']}",
                "option_id": option_id,
                "option_display_name": display,
            }
            variant = self._new_variant(dice, core, n, [option_value, *others])
            variant["sku"] = f"{variant['sku']}-{variant['id']}"
            variants.append(variant)
            if fields:
                variant.update({k: v for k, v in fields.items() if k in _VARIANT_UPDATABLE})
            self._sync_variant_inventory(core)
            self._touch(product_id)
            entity = next(v for v in self._render_variants(core) if v["id"] == variant["id"])
            pending = [self._sku_event("store/sku/created", product_id, variant)]
        return self._emit(pending, entity)

    def delete_variant(self, product_id: int, variant_id: int) -> Result:
        with self._lock:
            core = self._core(product_id)
            variant = self._variant(product_id, variant_id)
            self._variants[product_id].remove(variant)
            if not self._variants[product_id]:
                del self._variants[product_id]
                core["base_variant_id"] = product_id * 10
            self._sync_variant_inventory(core)
            self._touch(product_id)
        return self._emit([self._sku_event("store/sku/deleted", product_id, variant)])

    # ------------------------------------------------------------------ mutations: images, custom fields
    def add_image(
        self,
        product_id: int,
        is_thumbnail: bool = False,
        sort_order: int | None = None,
        description: str = "",
    ) -> Result:
        """Fires nothing: BigCommerce sends no callback for image changes (FACTS.md)."""
        with self._lock:
            self._core(product_id)
            images = self._images.setdefault(product_id, [])
            if is_thumbnail:
                for img in images:
                    img["is_thumbnail"] = False
            self._touch(product_id)
            img = {
                "id": self._id("image"),
                "is_thumbnail": is_thumbnail,
                "sort_order": sort_order if sort_order is not None else len(images),
                "description": description,
                "stem": f"upload{self._next['image']}",
                "modified": self._modified[product_id],
            }
            images.append(img)
            entity = self._render_image(product_id, img)
        return self._emit([], entity)

    def delete_image(self, product_id: int, image_id: int) -> Result:
        """Fires nothing (no image callbacks in BigCommerce)."""
        with self._lock:
            self._core(product_id)
            images = self._images.get(product_id, [])
            img = next((i for i in images if i["id"] == image_id), None)
            if img is None:
                raise NotFound(f"image {image_id} of product {product_id}")
            images.remove(img)
            self._touch(product_id)
        return self._emit([])

    def set_custom_field(
        self, product_id: int, name: str, value: str, custom_field_id: int | None = None
    ) -> Result:
        """Add (no id) or change a custom field. Fires nothing (custom-field changes fire no callback)."""
        if not (
            isinstance(name, str)
            and isinstance(value, str)
            and 1 <= len(name) <= 250
            and 1 <= len(value) <= 250
        ):
            raise Invalid("name and value must be 1-250 characters", {"name": "invalid", "value": "invalid"})
        with self._lock:
            self._core(product_id)
            fields = self._custom_fields.setdefault(product_id, [])
            if custom_field_id is None:
                entry = {"id": self._id("field"), "name": name, "value": value}
                fields.append(entry)
            else:
                entry = next((f for f in fields if f["id"] == custom_field_id), None)
                if entry is None:
                    raise NotFound(f"custom field {custom_field_id} of product {product_id}")
                entry.update(name=name, value=value)
            self._touch(product_id)
            entity = dict(entry)
        return self._emit([], entity)

    def delete_custom_field(self, product_id: int, custom_field_id: int) -> Result:
        with self._lock:
            self._core(product_id)
            fields = self._custom_fields.get(product_id, [])
            entry = next((f for f in fields if f["id"] == custom_field_id), None)
            if entry is None:
                raise NotFound(f"custom field {custom_field_id} of product {product_id}")
            fields.remove(entry)
            self._touch(product_id)
        return self._emit([])

    # ------------------------------------------------------------------ mutations: categories
    def _category(self, category_id: int) -> dict:
        c = self._categories.get(category_id)
        if c is None:
            raise NotFound(f"category {category_id}")
        return c

    def _repath(self, cid: int) -> None:
        c = self._categories[cid]
        parent_path = self._categories[c["parent_id"]]["path"] if c["parent_id"] else "/"
        c["path"] = f"{parent_path}{slugify(c['name'])}/"
        for child in [k for k, v in self._categories.items() if v["parent_id"] == cid]:
            self._repath(child)

    def create_category(self, name: str, parent_id: int = 0) -> Result:
        if not isinstance(name, str) or not 1 <= len(name) <= 50:
            raise Invalid("name must be 1-50 characters", {"name": "invalid"})
        with self._lock:
            if parent_id:
                self._category(parent_id)
            if any(c["parent_id"] == parent_id and c["name"] == name for c in self._categories.values()):
                raise Invalid(
                    "A sibling category already has that name", {"name": "duplicate"}, conflict=True
                )
            cid = self._id("category")
            self._categories[cid] = {
                "id": cid,
                "parent_id": parent_id,
                "name": name,
                "path": "",
                "is_visible": True,
                "sort_order": 0,
                "uuid": str(uuid.uuid4()),
                "is_customized": False,
            }
            self._repath(cid)
            entity = self._render_category_tree_item(self._categories[cid])
        return self._emit([("store/category/created", {"type": "category", "id": cid})], entity)

    def update_category(
        self,
        category_id: int,
        name: str | None = None,
        parent_id: int | None = None,
        is_visible: bool | None = None,
    ) -> Result:
        """Rename and/or move a category (its URL path follows, with its descendants')."""
        with self._lock:
            c = self._category(category_id)
            if parent_id is not None and parent_id != c["parent_id"]:
                if parent_id == category_id or parent_id in self.category_descendants(category_id):
                    raise Invalid("A category cannot move under itself", {"parent_id": "cycle"})
                if parent_id:
                    self._category(parent_id)
                c["parent_id"] = parent_id
            if name is not None:
                if not isinstance(name, str) or not 1 <= len(name) <= 50:
                    raise Invalid("name must be 1-50 characters", {"name": "invalid"})
                c["name"] = name
            if is_visible is not None:
                c["is_visible"] = bool(is_visible)
            self._repath(category_id)
            entity = self._render_category_tree_item(c)
        return self._emit([("store/category/updated", {"type": "category", "id": category_id})], entity)

    def delete_category(self, category_id: int) -> Result:
        """Delete a category and its subcategories; products lose the assignment (no product callbacks)."""
        with self._lock:
            self._category(category_id)
            doomed = [category_id, *self.category_descendants(category_id)]
            for cid in doomed:
                for pid in self._by_category.pop(cid, set()):
                    core = self._products[pid]
                    core["categories"] = [c for c in core["categories"] if c != cid]
                    self._touch(pid)
                del self._categories[cid]
        return self._emit([("store/category/deleted", {"type": "category", "id": cid}) for cid in doomed])

    # ------------------------------------------------------------------ one entry point for every mutation
    def apply(self, op: dict) -> Result:
        """Run one mutation given as JSON, e.g. {"op": "update_product", "product_id": 5, "fields": {...}}.

        ops: update_product(product_id, fields), create_product(fields?, variants?),
        delete_product(product_id),
        set_product_inventory(product_id, value, method?), set_variant_inventory(product_id, variant_id,
        value, method?), update_variant(product_id, variant_id, fields), create_variant(product_id, label?,
        fields?), delete_variant(product_id, variant_id), add_image(product_id, is_thumbnail?, sort_order?,
        description?), delete_image(product_id, image_id), set_custom_field(product_id, name, value,
        custom_field_id?), delete_custom_field(product_id, custom_field_id), record_sale(product_id,
        quantity?, variant_id?), set_total_sold(product_id, value), create_category(name, parent_id?),
        update_category(category_id, name?, parent_id?, is_visible?), delete_category(category_id),
        replay(scope, data) (fire a callback, change nothing).
        """
        args = dict(op)
        name = args.pop("op", None)
        handlers: dict[str, Callable[..., Result]] = {
            "update_product": lambda product_id, fields: self.update_product(int(product_id), **fields),
            "create_product": lambda fields=None, variants=0, seed=None: self.create_product(
                fields, int(variants), seed
            ),
            "delete_product": lambda product_id: self.delete_product(int(product_id)),
            "set_product_inventory": lambda product_id, value, method="absolute": self.set_product_inventory(
                int(product_id), int(value), method
            ),
            "set_variant_inventory": lambda product_id,
            variant_id,
            value,
            method="absolute": self.set_variant_inventory(
                int(product_id), int(variant_id), int(value), method
            ),
            "update_variant": lambda product_id, variant_id, fields: self.update_variant(
                int(product_id), int(variant_id), **fields
            ),
            "create_variant": lambda product_id, label=None, fields=None: self.create_variant(
                int(product_id), label, **(fields or {})
            ),
            "delete_variant": lambda product_id, variant_id: self.delete_variant(
                int(product_id), int(variant_id)
            ),
            "add_image": lambda product_id, **kw: self.add_image(int(product_id), **kw),
            "delete_image": lambda product_id, image_id: self.delete_image(int(product_id), int(image_id)),
            "set_custom_field": lambda product_id, name, value, custom_field_id=None: self.set_custom_field(
                int(product_id), name, value, custom_field_id
            ),
            "delete_custom_field": lambda product_id, custom_field_id: self.delete_custom_field(
                int(product_id), int(custom_field_id)
            ),
            "record_sale": lambda product_id, quantity=1, variant_id=None: self.record_sale(
                int(product_id), int(quantity), variant_id
            ),
            "set_total_sold": lambda product_id, value: self.set_total_sold(int(product_id), int(value)),
            "create_category": lambda name, parent_id=0: self.create_category(name, int(parent_id)),
            "update_category": lambda category_id, **kw: self.update_category(int(category_id), **kw),
            "delete_category": lambda category_id: self.delete_category(int(category_id)),
            "replay": lambda scope, data: self.replay(scope, data),
        }
        handler = handlers.get(str(name))
        if handler is None:
            raise Invalid(f"unknown op {name!r}; known: {', '.join(sorted(handlers))}", {"op": "unknown"})
        try:
            return handler(**args)
        except TypeError as exc:
            raise Invalid(f"bad arguments for {name}: {exc}", {"op": "arguments"}) from exc

    # ------------------------------------------------------------------ hooks
    # (at most one per store + client + scope + destination)
    def list_hooks(self, client_id: str | None = None) -> list[dict]:
        with self._lock:
            return [
                _public_hook(h)
                for h in self._hooks.values()
                if client_id is None or h["client_id"] == client_id
            ]

    def active_hooks(self) -> list[dict]:
        """For the dispatcher: every active hook, with its headers."""
        with self._lock:
            return [_public_hook(h) for h in self._hooks.values() if h["is_active"]]

    def get_hook(self, hook_id: int, client_id: str | None = None) -> dict:
        with self._lock:
            h = self._hooks.get(hook_id)
            if h is None or (client_id is not None and h["client_id"] != client_id):
                raise NotFound(f"Webhook with id [{hook_id}] not found")
            return _public_hook(h)

    def _duplicate_hook(
        self, client_id: str, scope: str, destination: str, exclude: int | None = None
    ) -> bool:
        return any(
            h["client_id"] == client_id
            and h["scope"] == scope
            and h["destination"] == destination
            and h["id"] != exclude
            for h in self._hooks.values()
        )

    def create_hook(
        self,
        client_id: str,
        scope: str,
        destination: str,
        is_active: bool = True,
        headers: dict[str, str] | None = None,
    ) -> dict:
        with self._lock:
            if self._duplicate_hook(client_id, scope, destination):
                raise Invalid(
                    "A webhook with this scope and destination already exists",
                    {"scope": "duplicate hook for this scope and destination"},
                )
            now = int(self.clock())
            hook = {
                "id": self._id("hook"),
                "client_id": client_id,
                "store_hash": self.store_hash,
                "scope": scope,
                "destination": destination,
                "is_active": bool(is_active),
                "headers": dict(headers) if headers else None,
                "created_at": now,
                "updated_at": now,
                "status": "active" if is_active else "inactive",
            }
            self._hooks[hook["id"]] = hook
            return _public_hook(hook)

    def update_hook(self, hook_id: int, client_id: str | None = None, **changes: Any) -> dict:
        with self._lock:
            hook = self._hooks.get(hook_id)
            if hook is None or (client_id is not None and hook["client_id"] != client_id):
                raise NotFound(f"Webhook with id [{hook_id}] not found")
            scope = changes.get("scope", hook["scope"])
            destination = changes.get("destination", hook["destination"])
            if self._duplicate_hook(hook["client_id"], scope, destination, exclude=hook_id):
                raise Invalid(
                    "A webhook with this scope and destination already exists",
                    {"scope": "duplicate hook for this scope and destination"},
                )
            for key in ("scope", "destination"):
                if key in changes:
                    hook[key] = changes[key]
            if "headers" in changes:
                hook["headers"] = dict(changes["headers"]) if changes["headers"] else None
            if "is_active" in changes:
                hook["is_active"] = bool(changes["is_active"])
                hook["status"] = "active" if hook["is_active"] else "inactive"
            hook["updated_at"] = int(self.clock())
            return _public_hook(hook)

    def delete_hook(self, hook_id: int, client_id: str | None = None) -> dict:
        with self._lock:
            hook = self._hooks.get(hook_id)
            if hook is None or (client_id is not None and hook["client_id"] != client_id):
                raise NotFound(f"Webhook with id [{hook_id}] not found")
            del self._hooks[hook_id]
            return _public_hook(hook)

    def deactivate_hook(self, hook_id: int) -> None:
        """BigCommerce gave up delivering (after the last retry): the hook goes inactive."""
        with self._lock:
            hook = self._hooks.get(hook_id)
            if hook is not None:
                hook["is_active"] = False
                hook["status"] = "deactivated"
                hook["updated_at"] = int(self.clock())

    def inactive_hooks(self, client_id: str | None = None) -> list[dict]:
        with self._lock:
            return [
                dict(_public_hook(h), status=h["status"])
                for h in self._hooks.values()
                if not h["is_active"] and (client_id is None or h["client_id"] == client_id)
            ]


def _public_hook(h: dict) -> dict:
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in h.items() if k != "status"}


def _copy_data(data: dict) -> dict:
    return {k: (_copy_data(v) if isinstance(v, dict) else v) for k, v in data.items()}


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
