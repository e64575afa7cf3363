"""Images and custom fields: changes that fire no callback (date_modified still moves)."""

from __future__ import annotations

from sandbox.store.common import Invalid, NotFound, Result
from sandbox.store.state import StoreState


class MediaMutations(StoreState):
    """Add and delete images; add, change and delete custom fields."""

    def add_image(
        self,
        product_id: int,
        is_thumbnail: bool = False,
        sort_order: int | None = None,
        description: str = "",
    ) -> Result:
        """Fires nothing: BigCommerce sends no callback for image changes (FACTS.md)."""
        with self._lock:
            self._core(product_id)
            images = self._images.setdefault(product_id, [])
            if is_thumbnail:
                for img in images:
                    img["is_thumbnail"] = False
            self._touch(product_id)
            img = {
                "id": self._id("image"),
                "is_thumbnail": is_thumbnail,
                "sort_order": sort_order if sort_order is not None else len(images),
                "description": description,
                "stem": f"upload{self._next['image']}",
                "modified": self._modified[product_id],
            }
            images.append(img)
            entity = self._render_image(product_id, img)
        return self._emit([], entity)

    def delete_image(self, product_id: int, image_id: int) -> Result:
        """Fires nothing (no image callbacks in BigCommerce)."""
        with self._lock:
            self._core(product_id)
            images = self._images.get(product_id, [])
            img = next((i for i in images if i["id"] == image_id), None)
            if img is None:
                raise NotFound(f"image {image_id} of product {product_id}")
            images.remove(img)
            self._touch(product_id)
        return self._emit([])

    def set_custom_field(
        self, product_id: int, name: str, value: str, custom_field_id: int | None = None
    ) -> Result:
        """Add (no id) or change a custom field. Fires nothing (custom-field changes fire no callback)."""
        if not (
            isinstance(name, str)
            and isinstance(value, str)
            and 1 <= len(name) <= 250
            and 1 <= len(value) <= 250
        ):
            raise Invalid("name and value must be 1-250 characters", {"name": "invalid", "value": "invalid"})
        with self._lock:
            self._core(product_id)
            fields = self._custom_fields.setdefault(product_id, [])
            if custom_field_id is None:
                entry = {"id": self._id("field"), "name": name, "value": value}
                fields.append(entry)
            else:
                entry = next((f for f in fields if f["id"] == custom_field_id), None)
                if entry is None:
                    raise NotFound(f"custom field {custom_field_id} of product {product_id}")
                entry.update(name=name, value=value)
            self._touch(product_id)
            entity = dict(entry)
        return self._emit([], entity)

    def delete_custom_field(self, product_id: int, custom_field_id: int) -> Result:
        with self._lock:
            self._core(product_id)
            fields = self._custom_fields.get(product_id, [])
            entry = next((f for f in fields if f["id"] == custom_field_id), None)
            if entry is None:
                raise NotFound(f"custom field {custom_field_id} of product {product_id}")
            fields.remove(entry)
            self._touch(product_id)
        return self._emit([])
