"""Validating a product's fields as BigCommerce does (422 for bad input, 409 for a missing reference)."""

from __future__ import annotations

from typing import Any

from sandbox.store.common import Invalid
from sandbox.store.shapes import _ENUMS, _PRODUCT_FIELD_TYPES, _STORED_PRODUCT_FIELDS, READ_ONLY_FIELDS
from sandbox.store.state import StoreState


class ProductFields(StoreState):
    """Validation of product input, and the category index kept in step with it."""

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
