"""Rendering templates (every product_Full / productVariant_Full field, in BigCommerce's order) and the
rules a product or variant update is validated against."""

from __future__ import annotations

from typing import Any

SILENT_FIELDS = frozenset({"mpn", "gtin", "product_tax_code"})  # changes BigCommerce fires no callback for
READ_ONLY_FIELDS = frozenset({"id", "date_created", "date_modified", "calculated_price", "base_variant_id"})
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

# fmt: on
