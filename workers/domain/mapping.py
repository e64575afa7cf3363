"""BigCommerce product -> Ometria product records: pure functions over plain data, no I/O.

`map_product(product, ctx)` takes one product exactly as
`GET /v3/catalog/products?include=variants,images,custom_fields` returns it and gives
`[parent, *variants]`, following DESIGN.md's "Ometria records (mapping)" table. `deactivation(id)`
is the record sent for a product or variant that is gone.

Decisions beyond the table (each one keeps the same product mapping to the same records, so the
fingerprint only changes when something a shopper could see changes):

- Every field of a record's kind is always present (`PARENT_FIELDS` / `VARIANT_FIELDS`); a scalar
  with no value is `null` (an empty string counts as no value). Collections with nothing in them
  are `[]` / `{}` rather than `null`, which keeps their JSON type stable for Ometria's validator
  and still clears what was there, because records are pushed whole. Variants carry no
  `listings` (parents only, as Ometria documents).
- Prices are floats (`10` and `10.0` are the same price); a price that is missing, not a number,
  negative zero, NaN or infinite is treated as no value.
- Category attributes are sorted by category id, so BigCommerce returning a product's categories
  in another order does not look like a change. Brand comes after the categories.
- A category or brand whose name is unknown (a category created a moment ago, a name cache not
  yet refreshed) gets `label = str(id)`, never `null`: Ometria validates records asynchronously and
  a record rejected for a missing label would silently leave the whole product stale, while a
  string label is always accepted, keeps the membership (segments by attribute id keep working),
  and is replaced by the real name on the next flush after the names are known — the fingerprint
  changes, so the record is pushed again. `missing_names()` lets a flush refresh its names first.
- Images: the chosen image must have a `url_standard`; images without one are skipped. Several
  thumbnails: the lowest (sort_order, id) among them. When the product carries no `images` key at
  all (fetched without `include=images`) its `primary_image`, if any, stands in.
- Absent optional keys (a product fetched with `include_fields`) never raise: `is_visible` absent
  counts as not visible (never advertise what we cannot confirm is shown), `inventory_tracking`
  absent counts as `none` (BigCommerce's default), absent inventory levels as 0.
- A variant's option attributes must pass Ometria's checks (type and id non-empty strings, label a
  string): an option value without an id gives no attribute (it still names the variant's title),
  a missing display name becomes "option", a missing label "".
- An empty `store_id` in the context means "not configured": the site URL's host name is used.
- Storefronts (DESIGN.md "Storefronts, price lists and currencies"): see
  `workers.domain.storefronts`, which holds `Channel`, `Prices` and the channel prices.
- The free data goes into `properties` only when its source key is in the product (a product
  fetched with `include_fields` maps as before): `review_count`/`rating` from `reviews_count`,
  `stock_level` when tracking is not `none`, `availability`/`preorder_release_date` for a preorder
  product, `price_hidden` when `is_price_hidden`; then the metafields given, as "<namespace>.<key>".
  They are written after the custom fields, so a custom field of the same name gives way.
- Variants keep BigCommerce's order; a variant without an id, or repeating an id already seen, is
  skipped so that record ids stay unique. A product without an id raises ValueError: there is
  nothing to key its records by.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from workers.domain.storefronts import Channel as Channel  # every `X as X`: a re-export
from workers.domain.storefronts import Prices as Prices
from workers.domain.storefronts import Row as _Row
from workers.domain.storefronts import as_price as _price
from workers.domain.storefronts import convert as convert
from workers.domain.storefronts import default_store_id as default_store_id
from workers.domain.storefronts import parent_price as _parent_price
from workers.domain.storefronts import variant_price as _variant_price

PARENT_FIELDS: tuple[str, ...] = (
    "@type", "id", "sku", "title", "price", "special_price", "currency", "url", "image_url",
    "is_variant", "is_active", "is_in_stock", "attributes", "properties", "listings", "stores",
)  # fmt: skip
VARIANT_FIELDS: tuple[str, ...] = tuple(f for f in PARENT_FIELDS if f not in ("listings", "stores"))
LISTING_FIELDS: tuple[str, ...] = (
    "store", "title", "price", "special_price", "currency", "url", "image_url", "is_active",
)  # fmt: skip

_NO_ORDER = 2**63  # sorts images without sort_order / id after every real one


@dataclass(frozen=True)
class MappingContext:
    """What a product alone does not say: the store's currency, channel URL, listing store, names,
    and the configured channels (the first the primary; none: one made of the fields above)."""

    currency: str
    site_url: str  # channel site URL, no trailing slash
    store_id: str  # Ometria listing store; default_store_id(site_url) when not configured
    category_names: Mapping[int, str]
    brand_names: Mapping[int, str]
    channels: tuple[Channel, ...] = ()
    categories: frozenset[int] | None = None  # the configured channels' trees; None: every category

    def __post_init__(self) -> None:
        if not self.store_id:  # OMETRIA_STORE_ID unset: the channel's host name
            object.__setattr__(self, "store_id", default_store_id(self.site_url))
        if not self.store_id:
            raise ValueError("no Ometria listing store id: set OMETRIA_STORE_ID or give the site URL")
        object.__setattr__(self, "site_url", self.site_url.rstrip("/"))
        if not self.channels:
            only = Channel(0, self.store_id, self.site_url, self.currency)
            object.__setattr__(self, "channels", (only,))


def deactivation(record_id: str) -> dict[str, Any]:
    """The record for a product or variant that is gone: Ometria has no delete, so deactivate it."""
    return {"@type": "product", "id": record_id, "is_active": False, "@merge": True}


_NO_PRICES: Prices = {}
_NO_METAFIELDS: Mapping[str, str] = {}


def map_product(
    product: Mapping[str, Any],
    ctx: MappingContext,
    prices: Prices | None = None,
    metafields: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """`[parent, *variants]` for one BigCommerce product (variants only for those with option values).

    `prices`: price-list records, (price list id, variant id, CURRENCY) -> (price, sale_price);
    `metafields`: this product's metafields of the configured namespaces, "<namespace>.<key>" -> value."""
    product_id = _int_id(product.get("id"))
    if product_id is None:
        raise ValueError(f"product without a usable id: {product.get('id')!r}")
    prices = prices or _NO_PRICES
    parent_id = str(product_id)
    name = _text(product.get("name"))
    price = _price(product.get("price"))
    sale_price = _price(product.get("sale_price"))
    custom_url = product.get("custom_url")
    image_url = _image_url(product)
    is_active = product.get("is_visible") is True and product.get("availability") != "disabled"
    tracking = product.get("inventory_tracking") or "none"
    variants = _list(product.get("variants"))
    product_level = _level(product.get("inventory_level"))
    product_in_stock = product_level > 0
    assigned = product.get("channels")
    assigned_ids = None if not isinstance(assigned, list) else {_int_id(c) for c in assigned}

    if tracking == "product":
        in_stock = product_in_stock
    elif tracking == "variant":
        in_stock = any(_variant_sellable(v) for v in variants if isinstance(v, dict))
    else:
        in_stock = True

    # option variants, once: (record id, variant, variant id, catalogue price, catalogue sale, options)
    rows: list[_Row] = []
    seen: set[str] = set()
    base_variant_id: int | None = None
    for variant in variants:
        if not isinstance(variant, dict):
            continue
        options = [o for o in _list(variant.get("option_values")) if isinstance(o, dict)]
        variant_id = _int_id(variant.get("id"))
        if variant_id is None:
            continue
        if not options:
            if base_variant_id is None:
                base_variant_id = variant_id
            continue
        record_id = f"{parent_id}-{variant_id}"
        if record_id in seen:
            continue
        seen.add(record_id)
        v_price = _price(variant.get("price"))
        if v_price is None:
            v_price = price
        v_sale = _price(variant.get("sale_price"))
        if v_sale is None:
            v_sale = sale_price
        rows.append((record_id, variant, variant_id, v_price, v_sale, options))

    listings: list[dict[str, Any]] = []
    stores: list[str] = []
    primary_price = primary_special = None
    primary_url: str | None = None
    for index, ch in enumerate(ctx.channels):
        sold = is_active and (ch.id == 0 or assigned_ids is None or ch.id in assigned_ids)
        url = _absolute_url(ch.site_url, custom_url)
        p, sp = _parent_price(ch, price, sale_price, base_variant_id, rows, prices)
        special = _special(p, sp)
        if index == 0:
            primary_price, primary_special, primary_url = p, special, url
        if sold:
            stores.append(ch.store_id)
        listings.append(
            {
                "store": ch.store_id,
                "title": name,
                "price": p,
                "special_price": special,
                "currency": ch.currency if ch.id else ctx.currency,
                "url": url,
                "image_url": image_url,
                "is_active": sold,
            }
        )
    primary = ctx.channels[0]
    currency = primary.currency if primary.id else ctx.currency
    parent_active = bool(stores)

    properties = _properties(product.get("custom_fields"))
    if "reviews_count" in product:
        count = _level(product.get("reviews_count"))
        total = _level(product.get("reviews_rating_sum"))
        properties["review_count"] = int(count)  # type: ignore[assignment]
        properties["rating"] = round(total / count, 2) if count > 0 else None  # type: ignore[assignment]
    if tracking == "product" and "inventory_level" in product:
        properties["stock_level"] = product_level  # type: ignore[assignment]
    elif tracking == "variant" and variants:
        properties["stock_level"] = sum(  # type: ignore[assignment]
            _level(v.get("inventory_level"))
            for v in variants
            if isinstance(v, dict) and v.get("purchasing_disabled") is not True
        )
    if product.get("availability") == "preorder":
        properties["availability"] = "preorder"
        properties["preorder_release_date"] = _text(product.get("preorder_release_date"))  # type: ignore[assignment]
    if product.get("is_price_hidden") is True:
        properties["price_hidden"] = True  # type: ignore[assignment]
    for key, value in (metafields or _NO_METAFIELDS).items():
        properties[key] = value

    parent: dict[str, Any] = {
        "@type": "product",
        "id": parent_id,
        "sku": _text(product.get("sku")),
        "title": name,
        "price": primary_price,
        "special_price": primary_special,
        "currency": currency,
        "url": primary_url,
        "image_url": image_url,
        "is_variant": False,
        "is_active": parent_active,
        "is_in_stock": in_stock,
        "attributes": _attributes(product, ctx),
        "properties": properties,
        "listings": listings,
        "stores": stores,
    }
    records = [parent]
    for record_id, variant, variant_id, v_price, v_sale, options in rows:
        disabled = variant.get("purchasing_disabled") is True
        labels = " / ".join(str(o.get("label") or "") for o in options)
        if tracking == "product":
            v_in_stock = product_in_stock
        elif tracking == "variant":
            v_in_stock = _variant_sellable(variant)
        else:
            v_in_stock = True
        p, sp = _variant_price(primary, variant_id, v_price, v_sale, prices)
        v_properties: dict[str, Any] = {"parent_id": parent_id}
        if tracking == "product" and "inventory_level" in product:
            v_properties["stock_level"] = product_level
        elif tracking == "variant" and "inventory_level" in variant:
            v_properties["stock_level"] = _level(variant.get("inventory_level"))
        records.append(
            {
                "@type": "product",
                "id": record_id,
                "sku": _text(variant.get("sku")),
                "title": f"{name} - {labels}" if name is not None else labels,
                "price": p,
                "special_price": _special(p, sp),
                "currency": currency,
                "url": primary_url,
                "image_url": _text(variant.get("image_url")) or image_url,
                "is_variant": True,
                "is_active": parent_active and not disabled,
                "is_in_stock": v_in_stock,
                "attributes": [
                    {
                        "type": str(o.get("option_display_name") or "option"),
                        "id": str(o["id"]),
                        "label": "" if o.get("label") is None else str(o["label"]),
                    }
                    for o in options
                    if o.get("id") is not None
                ],
                "properties": v_properties,
            }
        )
    return records


def missing_names(products: Iterable[Mapping[str, Any]], ctx: MappingContext) -> tuple[set[int], set[int]]:
    """(category ids, brand ids) the products use whose names `ctx` does not know yet."""
    categories: set[int] = set()
    brands: set[int] = set()
    for product in products:
        categories.update(c for c in _category_ids(product, ctx) if c not in ctx.category_names)
        brand = _int_id(product.get("brand_id"))
        if brand and brand not in ctx.brand_names:
            brands.add(brand)
    return categories, brands


# -- helpers ---------------------------------------------------------------------------------------


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _special(price: float | None, sale_price: float | None) -> float | None:
    if price is None or sale_price is None:
        return None
    return sale_price if 0 < sale_price < price else None


def _level(value: Any) -> int | float:
    kind = type(value)
    return value if kind is int or kind is float else 0


def _variant_sellable(variant: Mapping[str, Any]) -> bool:
    return _level(variant.get("inventory_level")) > 0 and variant.get("purchasing_disabled") is not True


def _int_id(value: Any) -> int | None:
    """A BigCommerce id as int; the spec types category ids as `number`, so 24.0 is 24."""
    if type(value) is int:
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _category_ids(product: Mapping[str, Any], ctx: MappingContext) -> list[int]:
    ids = {_int_id(c) for c in _list(product.get("categories"))}
    ids.discard(None)
    if ctx.categories is not None:
        ids &= ctx.categories
    return sorted(ids)  # type: ignore[arg-type]


def _attributes(product: Mapping[str, Any], ctx: MappingContext) -> list[dict[str, Any]]:
    names = ctx.category_names
    attributes: list[dict[str, Any]] = [
        {"type": "category", "id": str(cid), "label": names.get(cid) or str(cid)}
        for cid in _category_ids(product, ctx)
    ]
    brand = _int_id(product.get("brand_id"))
    if brand:
        attributes.append(
            {"type": "brand", "id": str(brand), "label": ctx.brand_names.get(brand) or str(brand)}
        )
    return attributes


def _properties(custom_fields: Any) -> dict[str, str]:
    properties: dict[str, str] = {}
    for field in _list(custom_fields):
        if not isinstance(field, dict):
            continue
        name, value = field.get("name"), field.get("value")
        if name is None or value is None:
            continue
        name, value = str(name), str(value)
        properties[name] = f"{properties[name]}, {value}" if name in properties else value
    return properties


def _absolute_url(site_url: str, custom_url: Any) -> str | None:
    path = custom_url.get("url") if isinstance(custom_url, dict) else None
    if not path or not isinstance(path, str):
        return None
    if path.startswith(("http://", "https://")):
        return path
    base = site_url.rstrip("/")
    return f"{base}{path}" if path.startswith("/") else f"{base}/{path}"


def _image_url(product: Mapping[str, Any]) -> str | None:
    images = product.get("images")
    if images is None:
        primary = product.get("primary_image")
        return _text(primary.get("url_standard")) if isinstance(primary, dict) else None
    candidates = [i for i in _list(images) if isinstance(i, dict) and _text(i.get("url_standard"))]
    if not candidates:
        return None
    thumbnails = [i for i in candidates if i.get("is_thumbnail") is True]
    best = min(thumbnails or candidates, key=_image_order)
    return _text(best.get("url_standard"))


def _image_order(image: Mapping[str, Any]) -> tuple[int, int]:
    order = _int_id(image.get("sort_order"))
    image_id = _int_id(image.get("id"))
    return (_NO_ORDER if order is None else order, _NO_ORDER if image_id is None else image_id)
