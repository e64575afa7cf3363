"""BigCommerce webhook callbacks: the JSON body, the envelope every callback shares, and the change
(entity + ids to mark dirty) each handled scope means. Pure functions over bytes and dicts.

Envelope (every callback): `scope` a string, `producer` = "stores/<hash>", `data` an object.
Ids of handled scopes are positive JSON integers below 2^63 — not strings, not floats (even 123.0),
not booleans — hence pydantic strict ints. Where each scope keeps its product id follows
BigCommerce's sample callbacks (reference/bigcommerce/webhook-payloads/):
- store/product/* : data.id (inventory scopes also carry data.inventory.product_id, checked too)
- store/sku/{created,updated,deleted} : data.sku.product_id
- store/sku/inventory/* : data.inventory.product_id (either place is accepted for any sku scope)
- every other id a handled scope carries is checked the same way where present: data.id of a sku
  scope, data.sku.variant_id, data.inventory.variant_id
- store/category/* : data.id (a category)
- storefronts (issue 12), none of which fires a product callback:
  store/channel/{channel_id}/product/assigned|unassigned and .../category/product/assigned|unassigned:
  data.product_id (a product); store/channel/{channel_id}/category/created|updated|deleted:
  data.category_id (a category); store/channel/{channel_id}/categoryTree/updated: data.tree_id (a
  tree: its products); store/priceList/record/*: data.variant_id (a variant: its product, per the
  variant map); store/priceList/records/*: `data` is a LIST of those (BigCommerce's batch shape, the
  one callback whose data is not an object); store/priceList/activated|deactivated|deleted and
  store/priceList/assignment/*: data.price_list_id, store/priceLists/deleted: data.price_list_ids (a
  price list: the products it prices); store/product/metafield/*: data.resource_id, a product id
  BigCommerce sends as a string of digits (its metafields are read again, then the product).
Other well-formed scopes are acknowledged and ignored. The payload's `hash` is not an event id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, ValidationError
from pydantic_core import PydanticCustomError

from workers.domain import scopes
from workers.domain.ids import MAX_ID
from workers.store.storage import CATEGORY, METAFIELD, PRICE_LIST, PRODUCT, TREE, VARIANT

STORE_HASH_PATTERN = r"^stores/[A-Za-z0-9_-]{1,64}$"

PositiveId = Annotated[int, Field(strict=True, gt=0, le=MAX_ID)]  # workers.domain.ids.is_id, for pydantic


def _not_null(value: Any) -> Any:
    if value is None:  # refused as any other non-integer would be
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


# An id that may be absent (None then) but, when present, is a PositiveId: null is refused.
OptionalId = Annotated[PositiveId | None, BeforeValidator(_not_null)]


class CallbackError(ValueError):
    """The body is not a callback we can read; the message names the problem (no input echoed)."""


class Envelope(BaseModel):
    model_config = ConfigDict(extra="allow")

    scope: StrictStr
    producer: Annotated[str, Field(strict=True, pattern=STORE_HASH_PATTERN)]
    data: Annotated[dict[str, Any], Field(strict=True)]

    @property
    def store_hash(self) -> str:
        return self.producer.split("/", 1)[1]


class _ProductRef(BaseModel):
    model_config = ConfigDict(extra="allow")
    product_id: PositiveId
    variant_id: OptionalId = None


class _ProductData(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: PositiveId
    inventory: _ProductRef | None = None


class _SkuData(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: OptionalId = None  # the sku's own id
    sku: _ProductRef | None = None
    inventory: _ProductRef | None = None


class _CategoryData(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: PositiveId


class _ChannelProductData(BaseModel):
    model_config = ConfigDict(extra="allow")
    product_id: PositiveId


class _ChannelCategoryData(BaseModel):
    model_config = ConfigDict(extra="allow")
    category_id: PositiveId
    tree_id: OptionalId = None


class _TreeData(BaseModel):
    model_config = ConfigDict(extra="allow")
    tree_id: PositiveId


class _PriceRecordData(BaseModel):
    model_config = ConfigDict(extra="allow")
    price_list_id: OptionalId = None
    variant_id: PositiveId


class _PriceRecordsData(BaseModel):
    model_config = ConfigDict(extra="allow")
    records: Annotated[list[_PriceRecordData], Field(strict=True)]


class _PriceListData(BaseModel):
    model_config = ConfigDict(extra="allow")
    price_list_id: PositiveId


class _PriceListsData(BaseModel):
    model_config = ConfigDict(extra="allow")
    price_list_ids: Annotated[list[PositiveId], Field(strict=True, min_length=1)]


def _digit_id(value: Any) -> int:
    """A product id as BigCommerce's metafield callbacks send it: a string of ASCII digits (a JSON
    integer is accepted too), positive and below 2^63, no sign, no leading zero, no spaces."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and not value.startswith("0"):
        number = int(value)
    elif type(value) is int:
        number = value
    else:
        raise ValueError("not an id")
    if not 0 < number < MAX_ID:
        raise ValueError("out of range")
    return number


class _MetafieldData(BaseModel):
    model_config = ConfigDict(extra="allow")
    resource_id: Annotated[int, BeforeValidator(_digit_id)]


@dataclass(frozen=True)
class Change:
    """What a callback means for the sync: these ids of this entity may be stale in Ometria."""

    entity: str
    ids: tuple[int, ...]


def _product_ids(data: _ProductData) -> tuple[int, ...]:
    ids = [data.id] + ([data.inventory.product_id] if data.inventory else [])
    return tuple(dict.fromkeys(ids))


def _sku_product_ids(data: _SkuData, where: str) -> tuple[int, ...]:
    ref = data.sku or data.inventory
    if ref is None:
        raise CallbackError(f"data.{where}.product_id is required")
    return (ref.product_id,)


def _category_ids(data: _CategoryData) -> tuple[int, ...]:
    return (data.id,)


# The same list `bcsync hooks register` registers (workers.domain.scopes), per-channel ones for any channel.
HANDLED_SCOPES: frozenset[str] = frozenset(scopes.HANDLED_SCOPES)
LIST_DATA_SCOPES: frozenset[str] = frozenset(scopes.LIST_DATA_SCOPES)
channel_scope = scopes.channel_scope


def is_handled(scope: str) -> bool:
    return scope in HANDLED_SCOPES or channel_scope(scope) is not None


def parse_json(body: bytes) -> Any:
    """The body as JSON (UTF-8, no NaN/Infinity), or CallbackError."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise CallbackError("body is not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise CallbackError(f"body is not valid JSON ({exc.msg} at {where})") from None
    except (ValueError, RecursionError):  # NaN/Infinity, integers too long, nesting too deep
        raise CallbackError("body is not valid JSON") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def store_hash_hint(value: Any) -> str | None:
    """The store a (not yet authenticated, not yet validated) body claims to come from, if any."""
    if isinstance(value, dict):
        producer = value.get("producer")
        if isinstance(producer, str) and producer.startswith("stores/"):
            return producer[len("stores/") :]
    return None


def parse_envelope(value: Any) -> Envelope:
    if not isinstance(value, dict):
        raise CallbackError("body must be a JSON object")
    if isinstance(value.get("data"), list) and value.get("scope") in LIST_DATA_SCOPES:
        value = {**value, "data": {"records": value["data"]}}  # BigCommerce's batch shape
    try:
        return Envelope.model_validate(value)
    except ValidationError as exc:
        raise CallbackError(describe(exc)) from None


def change_for(envelope: Envelope) -> Change | None:
    """The change a handled callback means; None for a scope we do not handle."""
    scope = envelope.scope
    suffix = channel_scope(scope)
    if scope not in HANDLED_SCOPES and suffix is None:
        return None
    data = envelope.data
    try:
        if suffix is not None:
            if suffix.endswith("product/assigned") or suffix.endswith("product/unassigned"):
                return Change(PRODUCT, (_ChannelProductData.model_validate(data).product_id,))
            if suffix.startswith("categoryTree/"):
                return Change(TREE, (_TreeData.model_validate(data).tree_id,))
            return Change(CATEGORY, (_ChannelCategoryData.model_validate(data).category_id,))
        if scope.startswith("store/priceList/records/"):
            if "records" not in data or len(data) != 1:
                raise CallbackError("data must be a list of price-list records")
            records = _PriceRecordsData.model_validate(data).records
            if not records:
                return None  # a batch that names nothing: acknowledged, nothing to do
            return Change(VARIANT, tuple(dict.fromkeys(r.variant_id for r in records)))
        if scope.startswith("store/priceList/record/"):
            return Change(VARIANT, (_PriceRecordData.model_validate(data).variant_id,))
        if scope.startswith("store/priceLists/"):
            return Change(
                PRICE_LIST, tuple(dict.fromkeys(_PriceListsData.model_validate(data).price_list_ids))
            )
        if scope.startswith("store/priceList/"):
            return Change(PRICE_LIST, (_PriceListData.model_validate(data).price_list_id,))
        if scope.startswith("store/product/metafield/"):
            return Change(METAFIELD, (_MetafieldData.model_validate(data).resource_id,))
        if scope.startswith("store/product/"):
            return Change(PRODUCT, _product_ids(_ProductData.model_validate(envelope.data)))
        if scope.startswith("store/sku/"):
            where = "inventory" if scope.startswith("store/sku/inventory/") else "sku"
            return Change(PRODUCT, _sku_product_ids(_SkuData.model_validate(envelope.data), where))
        return Change(CATEGORY, _category_ids(_CategoryData.model_validate(envelope.data)))
    except ValidationError as exc:
        raise CallbackError(describe(exc, prefix="data").replace("data.records", "data")) from None


def describe(exc: ValidationError, prefix: str = "") -> str:
    """One sentence naming the first problem, e.g. "data.id must be a positive integer below 2^63"."""
    error = exc.errors(include_url=False, include_input=False)[0]
    path = ".".join([prefix] * bool(prefix) + [str(part) for part in error["loc"]])
    kind = error["type"]
    last = str(error["loc"][-1]) if error["loc"] else ""
    if kind == "missing":
        return f"{path} is required"
    if (
        last in ("id", "product_id", "variant_id", "category_id", "tree_id", "price_list_id")
        or (len(error["loc"]) >= 2 and error["loc"][-2] == "price_list_ids")
        or (error["loc"] and error["loc"][0] == "resource_id")
    ):
        return f"{path} must be a positive integer below 2^63"
    if last == "producer":
        return 'producer must be "stores/<store hash>"'
    if kind.startswith("string"):
        return f"{path} must be a string"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{path} must be an object"
    return f"{path}: {error['msg']}"
