"""One entry point for every mutation, given as JSON (the control API's /_sandbox/mutations)."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.store.common import Invalid, Result
from sandbox.store.state import StoreState

# Storefront mutations, called with the op's arguments as keyword arguments (names as the methods have them).
STOREFRONT_OPS = (
    "assign_products",  # (channel_id, product_ids)
    "unassign_products",  # (channel_id, product_ids)
    "update_channel",  # (channel_id, name?, status?, external_id?, is_listable_from_ui?, is_visible?)
    "set_site_url",  # (channel_id, url)
    "update_tree",  # (tree_id, name)
    "set_exchange_rate",  # (code, rate)
    "create_price_list",  # (name, active?)
    "update_price_list",  # (price_list_id, name?, active?)
    "delete_price_list",  # (price_list_id)
    "delete_price_lists",  # (price_list_ids)
    "assign_price_list",  # (price_list_id, channel_id?, customer_group_id?)
    "delete_price_list_assignments",  # (price_list_id?, channel_id?, customer_group_id?, assignment_ids?)
    "set_price_record",  # (price_list_id, variant_id, currency, price, sale_price?, retail_price?, ...)
    "upsert_price_records",  # (price_list_id, records)
    "delete_price_record",  # (price_list_id, variant_id, currency)
    "delete_price_records",  # (price_list_id, variant_ids?, currency?)
    "set_metafield",  # (product_id, namespace, key, value, permission_set?, description?, metafield_id?)
    "delete_metafield",  # (product_id, metafield_id)
)


class Operations(StoreState):
    """`apply({"op": ..., ...})`."""

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
        create_category(name, parent_id?, tree_id?), replay(scope, data) (fire a callback, change nothing),
        and every op of STOREFRONT_OPS with the method's own keyword arguments.
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
            "create_category": lambda name, parent_id=0, tree_id=None: self.create_category(
                name, int(parent_id), tree_id
            ),
            "update_category": lambda category_id, **kw: self.update_category(int(category_id), **kw),
            "delete_category": lambda category_id: self.delete_category(int(category_id)),
            "replay": lambda scope, data: self.replay(scope, data),
        }
        handlers.update({op: getattr(self, op) for op in STOREFRONT_OPS})
        handler = handlers.get(str(name))
        if handler is None:
            raise Invalid(f"unknown op {name!r}; known: {', '.join(sorted(handlers))}", {"op": "unknown"})
        try:
            return handler(**args)
        except TypeError as exc:
            raise Invalid(f"bad arguments for {name}: {exc}", {"op": "arguments"}) from exc
