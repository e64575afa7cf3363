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
- Variants keep BigCommerce's order; a variant without an id, or repeating an id already seen, is
  skipped so that record ids stay unique. A product without an id raises ValueError: there is
  nothing to key its records by.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

PARENT_FIELDS: tuple[str, ...] = (
    "@type", "id", "sku", "title", "price", "special_price", "currency", "url", "image_url",
    "is_variant", "is_active", "is_in_stock", "attributes", "properties", "listings",
)  # fmt: skip
VARIANT_FIELDS: tuple[str, ...] = tuple(f for f in PARENT_FIELDS if f != "listings")
LISTING_FIELDS: tuple[str, ...] = (
    "store", "title", "price", "special_price", "currency", "url", "image_url", "is_active",
)  # fmt: skip

_NO_ORDER = 2**63  # sorts images without sort_order / id after every real one


@dataclass(frozen=True)
class MappingContext:
    """What a product alone does not say: the store's currency, channel URL, listing store, names."""

    currency: str
    site_url: str  # channel site URL, no trailing slash
    store_id: str  # Ometria listing store; default_store_id(site_url) when not configured
    category_names: Mapping[int, str]
    brand_names: Mapping[int, str]

    def __post_init__(self) -> None:
        if not self.store_id:  # OMETRIA_STORE_ID unset: the channel's host name
            object.__setattr__(self, "store_id", default_store_id(self.site_url))
        if not self.store_id:
            raise ValueError("no Ometria listing store id: set OMETRIA_STORE_ID or give the site URL")
        object.__setattr__(self, "site_url", self.site_url.rstrip("/"))


def default_store_id(site_url: str) -> str:
    """The host name of the channel's site URL: `https://www.example.com/` -> `www.example.com`."""
    return (urlsplit(site_url if "//" in site_url else "//" + site_url).hostname or "").lower()


def deactivation(record_id: str) -> dict[str, Any]:
    """The record for a product or variant that is gone: Ometria has no delete, so deactivate it."""
    return {"@type": "product", "id": record_id, "is_active": False, "@merge": True}


def map_product(product: Mapping[str, Any], ctx: MappingContext) -> list[dict[str, Any]]:
    """`[parent, *variants]` for one BigCommerce product (variants only for those with option values)."""
    product_id = _int_id(product.get("id"))
    if product_id is None:
        raise ValueError(f"product without a usable id: {product.get('id')!r}")
    parent_id = str(product_id)
    name = _text(product.get("name"))
    price = _price(product.get("price"))
    sale_price = _price(product.get("sale_price"))
    url = _absolute_url(ctx.site_url, product.get("custom_url"))
    image_url = _image_url(product)
    is_active = product.get("is_visible") is True and product.get("availability") != "disabled"
    tracking = product.get("inventory_tracking") or "none"
    variants = _list(product.get("variants"))
    product_in_stock = _level(product.get("inventory_level")) > 0

    if tracking == "product":
        in_stock = product_in_stock
    elif tracking == "variant":
        in_stock = any(_variant_sellable(v) for v in variants if isinstance(v, dict))
    else:
        in_stock = True
    special_price = _special(price, sale_price)

    parent: dict[str, Any] = {
        "@type": "product",
        "id": parent_id,
        "sku": _text(product.get("sku")),
        "title": name,
        "price": price,
        "special_price": special_price,
        "currency": ctx.currency,
        "url": url,
        "image_url": image_url,
        "is_variant": False,
        "is_active": is_active,
        "is_in_stock": in_stock,
        "attributes": _attributes(product, ctx),
        "properties": _properties(product.get("custom_fields")),
        "listings": [
            {
                "store": ctx.store_id,
                "title": name,
                "price": price,
                "special_price": special_price,
                "currency": ctx.currency,
                "url": url,
                "image_url": image_url,
                "is_active": is_active,
            }
        ],
    }
    records = [parent]
    seen: set[str] = set()
    for variant in variants:
        if not isinstance(variant, dict):
            continue
        options = [o for o in _list(variant.get("option_values")) if isinstance(o, dict)]
        variant_id = _int_id(variant.get("id"))
        if not options or variant_id is None:
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
        disabled = variant.get("purchasing_disabled") is True
        labels = " / ".join(str(o.get("label") or "") for o in options)
        if tracking == "product":
            v_in_stock = product_in_stock
        elif tracking == "variant":
            v_in_stock = _variant_sellable(variant)
        else:
            v_in_stock = True
        records.append(
            {
                "@type": "product",
                "id": record_id,
                "sku": _text(variant.get("sku")),
                "title": f"{name} - {labels}" if name is not None else labels,
                "price": v_price,
                "special_price": _special(v_price, v_sale),
                "currency": ctx.currency,
                "url": url,
                "image_url": _text(variant.get("image_url")) or image_url,
                "is_variant": True,
                "is_active": is_active and not disabled,
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
                "properties": {"parent_id": parent_id},
            }
        )
    return records


def missing_names(products: Iterable[Mapping[str, Any]], ctx: MappingContext) -> tuple[set[int], set[int]]:
    """(category ids, brand ids) the products use whose names `ctx` does not know yet."""
    categories: set[int] = set()
    brands: set[int] = set()
    for product in products:
        categories.update(c for c in _category_ids(product) if c not in ctx.category_names)
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


def _price(value: Any) -> float | None:
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


def _category_ids(product: Mapping[str, Any]) -> list[int]:
    ids = {_int_id(c) for c in _list(product.get("categories"))}
    ids.discard(None)
    return sorted(ids)  # type: ignore[arg-type]


def _attributes(product: Mapping[str, Any], ctx: MappingContext) -> list[dict[str, Any]]:
    names = ctx.category_names
    attributes: list[dict[str, Any]] = [
        {"type": "category", "id": str(cid), "label": names.get(cid) or str(cid)}
        for cid in _category_ids(product)
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
