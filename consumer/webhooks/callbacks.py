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
from workers.store.storage import CATEGORY, PRODUCT

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


# The same list `bcsync hooks register` registers (workers.domain.scopes).
HANDLED_SCOPES: frozenset[str] = frozenset(scopes.HANDLED_SCOPES)


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
    try:
        return Envelope.model_validate(value)
    except ValidationError as exc:
        raise CallbackError(describe(exc)) from None


def change_for(envelope: Envelope) -> Change | None:
    """The change a handled callback means; None for a scope we do not handle."""
    scope = envelope.scope
    if scope not in HANDLED_SCOPES:
        return None
    try:
        if scope.startswith("store/product/"):
            return Change(PRODUCT, _product_ids(_ProductData.model_validate(envelope.data)))
        if scope.startswith("store/sku/"):
            where = "inventory" if scope.startswith("store/sku/inventory/") else "sku"
            return Change(PRODUCT, _sku_product_ids(_SkuData.model_validate(envelope.data), where))
        return Change(CATEGORY, _category_ids(_CategoryData.model_validate(envelope.data)))
    except ValidationError as exc:
        raise CallbackError(describe(exc, prefix="data")) from None


def describe(exc: ValidationError, prefix: str = "") -> str:
    """One sentence naming the first problem, e.g. "data.id must be a positive integer below 2^63"."""
    error = exc.errors(include_url=False, include_input=False)[0]
    path = ".".join([prefix] * bool(prefix) + [str(part) for part in error["loc"]])
    kind = error["type"]
    last = str(error["loc"][-1]) if error["loc"] else ""
    if kind == "missing":
        return f"{path} is required"
    if last in ("id", "product_id", "variant_id"):
        return f"{path} must be a positive integer below 2^63"
    if last == "producer":
        return 'producer must be "stores/<store hash>"'
    if kind.startswith("string"):
        return f"{path} must be a string"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{path} must be an object"
    return f"{path}: {error['msg']}"
