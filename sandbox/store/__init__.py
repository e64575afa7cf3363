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

`Store` is assembled from one class per section of the store, each in its own module:
| module            | section                                                                        |
|-------------------|--------------------------------------------------------------------------------|
| state.py          | the tables, ids, lock, listeners and the callback log (`_emit`)                |
| generation.py     | the catalogue a seed gives: categories, brands, products                       |
| details.py        | a product's variants, images, custom fields (generated on first use)           |
| rendering.py      | compact records → API shapes                                                   |
| queries.py        | product queries, sub-resources, snapshot                                       |
| product_fields.py | validation of product input                                                    |
| products.py       | create / update / delete products                                              |
| inventory.py      | stock and sales                                                                |
| variants.py       | option variants                                                                |
| media.py          | images and custom fields                                                       |
| categories.py     | the category tree, brands                                                      |
| hooks.py          | webhooks registered on the store                                               |
| ops.py            | `apply()`: every mutation as JSON                                              |
| storefronts.py    | channels, sites, currency assignments, trees, product channel assignments      |
| currencies.py     | /v2/currencies: default currency, exchange rates, conversion                   |
| price_lists.py    | price lists and their assignments (channel / customer group)                   |
| price_records.py  | price-list records by (variant, currency)                                      |
| metafields.py     | product metafields                                                             |
| storefront_generation.py, price_list_generation.py | what `channels=` / `price_lists=` generate   |

Multi-storefront is opt-in: `Store(products, seed, channels=2, channel_currencies={2: "EUR"}, price_lists=2)`.
With the defaults a store has one channel (id 1) in the store's currency, every product assigned to it, one
category tree, no price list: what the sandbox always served. Reviews, preorder release dates, hidden prices
and metafields are generated for every store, from their own seeded streams (the catalogue is unchanged).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from sandbox.store.categories import Categories
from sandbox.store.common import (
    CATALOG_SCOPES,
    DEFAULT_CURRENCY,
    DEFAULT_SITE_URL,
    EPOCH_BASE,
    INCLUDES,
    METAFIELD_SCOPES,
    PRICE_LIST_SCOPES,
    Invalid,
    Listener,
    NotFound,
    Result,
    category_count,
    iso,
    parse_date_filter,
    sku_data,
    sku_inventory_data,
    slugify,
    storefront_scopes,
)
from sandbox.store.details import ProductDetails
from sandbox.store.generation import CatalogueGeneration
from sandbox.store.hooks import Hooks
from sandbox.store.inventory import StockAndSales
from sandbox.store.media import MediaMutations
from sandbox.store.metafields import Metafields
from sandbox.store.ops import STOREFRONT_OPS, Operations
from sandbox.store.price_list_generation import MAX_PRICE_LISTS, PriceListGeneration
from sandbox.store.product_fields import ProductFields
from sandbox.store.products import ProductMutations
from sandbox.store.queries import CatalogueQueries
from sandbox.store.rendering import Rendering
from sandbox.store.shapes import PRODUCT_TEMPLATE, SKU_ID_OFFSET, VARIANT_TEMPLATE
from sandbox.store.storefront_generation import StorefrontGeneration
from sandbox.store.storefronts import CHANNEL_NAMES, Storefronts
from sandbox.store.variants import VariantMutations
from workers.settings import SANDBOX_STORE_HASH

__all__ = [
    "CATALOG_SCOPES",
    "DEFAULT_CURRENCY",
    "DEFAULT_SITE_URL",
    "EPOCH_BASE",
    "CHANNEL_NAMES",
    "INCLUDES",
    "MAX_PRICE_LISTS",
    "METAFIELD_SCOPES",
    "PRICE_LIST_SCOPES",
    "PRODUCT_TEMPLATE",
    "SKU_ID_OFFSET",
    "STOREFRONT_OPS",
    "VARIANT_TEMPLATE",
    "Invalid",
    "Listener",
    "NotFound",
    "Result",
    "Store",
    "category_count",
    "iso",
    "parse_date_filter",
    "sku_data",
    "sku_inventory_data",
    "slugify",
    "storefront_scopes",
]


class Store(
    Operations,
    PriceListGeneration,
    Metafields,
    StorefrontGeneration,
    Storefronts,
    Hooks,
    Categories,
    MediaMutations,
    VariantMutations,
    StockAndSales,
    ProductMutations,
    ProductFields,
    CatalogueQueries,
    Rendering,
    ProductDetails,
    CatalogueGeneration,
):
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
        *,
        channels: int = 1,
        channel_currencies: dict[int, str] | None = None,
        exchange_rates: dict[str, float] | None = None,
        price_lists: int = 0,
        channel_share: float = 0.6,
        channel_callbacks: bool | None = None,
    ):
        """`channels`: storefront channels 1..N (N <= 5); `channel_currencies`: {channel id: its default
        currency} (others sell in the store's); `exchange_rates`: {currency: units per unit of the store's
        currency} (default: a fixed table); `price_lists`: how many of the generated price lists exist (0-4,
        see price_list_generation); `channel_share`: the share of products assigned to each channel > 1;
        `channel_callbacks`: fire store/channel/{id}/category/* callbacks (default: with channels > 1).
        """
        if not 1 <= products <= 1_000_000:
            raise ValueError("products must be between 1 and 1,000,000")
        self._init_state(store_hash, site_url, currency, seed, clock, categories_in)
        started = time.perf_counter()
        self._generate(products, random.Random(seed))
        self._generate_product_extras()
        self._init_storefronts(
            channels, dict(channel_currencies or {}), dict(exchange_rates or {}), channel_share
        )
        self.channel_callbacks = channels > 1 if channel_callbacks is None else bool(channel_callbacks)
        self._generate_metafields()
        self._init_price_lists(price_lists)
        self.generation_seconds = time.perf_counter() - started
        self._start_generation(products)
