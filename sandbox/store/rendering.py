"""Compact records rendered into BigCommerce's exact API shapes (product_Full, productVariant_Full,
productImage_Full, productOption, category and brand)."""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.store.common import iso, slugify
from sandbox.store.shapes import _CORE_ONLY, _LIST_FIELDS, PRODUCT_TEMPLATE, SKU_ID_OFFSET, VARIANT_TEMPLATE
from sandbox.store.state import StoreState


class Rendering(StoreState):
    """From the compact records to the API's shapes, on demand."""

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
                out["channels"] = self._product_channels(pid)
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
            "tree_id": c.get("tree_id", 1),
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
