"""What Ometria accepts: push limits, and a product record's field-by-field validation."""

from __future__ import annotations

from typing import Any

MAX_RECORDS_PER_PUSH = 100
# Ometria documents "60KB per record". The sandbox counts 60,000 bytes of compact UTF-8 JSON, the stricter
# reading, so a client that fits here fits under either reading.
RECORD_MAX_BYTES = 60_000
RECORD_TOO_LARGE = "Payload invalid: Record is too large."
ERROR_LOG_SIZE = 100
PRODUCTS_MAX_LIMIT = 250
PRODUCTS_DEFAULT_LIMIT = 10
DEFAULT_QUEUE_DRAIN_RATE = 1000.0
INVALID = "not a valid value"

_STRING_OR_NULL = (
    "sku",
    "title",
    "currency",
    "url",
    "image_url",
    "special_price_dt_from",
    "special_price_dt_to",
)
_NUMBER_OR_NULL = ("price", "special_price")
_BOOLEAN = ("is_active", "is_variant", "is_in_stock")
_LISTING_STRING_OR_NULL = ("title", "currency", "url", "image_url")
_LISTING_NUMBER_OR_NULL = ("price", "special_price")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def product_errors(record: dict[str, Any]) -> list[tuple[str, str]]:
    """Field errors of a product record as (error_path, error_message); empty when valid."""
    errors: list[tuple[str, str]] = []
    rid = record.get("id")
    if not isinstance(rid, str) or not rid:
        errors.append(("root > id", INVALID))
    for name in _STRING_OR_NULL:
        if name in record and record[name] is not None and not isinstance(record[name], str):
            errors.append((f"root > {name}", INVALID))
    for name in _NUMBER_OR_NULL:
        if name in record and record[name] is not None and not _is_number(record[name]):
            errors.append((f"root > {name}", INVALID))
    for name in _BOOLEAN:
        if name in record and not isinstance(record[name], bool):
            errors.append((f"root > {name}", INVALID))
    if "attributes" in record:
        attributes = record["attributes"]
        if not isinstance(attributes, list):
            errors.append(("root > attributes", INVALID))
        else:
            for i, attribute in enumerate(attributes):
                if not isinstance(attribute, dict):
                    errors.append((f"root > attributes > {i}", INVALID))
                    continue
                for key in ("type", "id", "label"):
                    value = attribute.get(key)
                    if not isinstance(value, str) or (key != "label" and not value):
                        errors.append((f"root > attributes > {i} > {key}", INVALID))
    if "properties" in record and not isinstance(record["properties"], dict):
        errors.append(("root > properties", INVALID))
    if "stores" in record and record["stores"] is not None and not isinstance(record["stores"], list):
        errors.append(("root > stores", INVALID))
    if "listings" in record:
        listings = record["listings"]
        if not isinstance(listings, list):
            errors.append(("root > listings", INVALID))
        else:
            for i, listing in enumerate(listings):
                errors.extend(_listing_errors(i, listing))
    return errors


def _listing_errors(i: int, listing: Any) -> list[tuple[str, str]]:
    path = f"root > listings > {i}"
    if not isinstance(listing, dict):
        return [(path, INVALID)]
    errors: list[tuple[str, str]] = []
    store = listing.get("store")
    if not isinstance(store, str) or not store:
        errors.append((f"{path} > store", INVALID))
    for name in _LISTING_STRING_OR_NULL:
        if name in listing and listing[name] is not None and not isinstance(listing[name], str):
            errors.append((f"{path} > {name}", INVALID))
    for name in _LISTING_NUMBER_OR_NULL:
        if name in listing and listing[name] is not None and not _is_number(listing[name]):
            errors.append((f"{path} > {name}", INVALID))
    if "is_active" in listing and not isinstance(listing["is_active"], bool):
        errors.append((f"{path} > is_active", INVALID))
    return errors
