"""Product metafields (`/catalog/products/{id}/metafields`; all products' at `/catalog/products/metafields`).

Callbacks (webhook-events.mdx, "Products"): a change fires `store/product/metafield/{created,updated,deleted}`
and the store-wide `store/metafield/{created,updated,deleted}`, both with
`{"metafield_id", "resource_id": "<product id as a string>", "resource_type": "product"}`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.store.common import Invalid, NotFound, Result, iso
from sandbox.store.state import StoreState

PERMISSION_SETS = ("app_only", "read", "write", "read_and_sf_access", "write_and_sf_access")
METAFIELD_OWNER = "sandbox-client-id"


class Metafields(StoreState):
    """Metafields of products, with an index by product and one by date_modified for the batch query."""

    def _new_metafield(self, pid: int, namespace: str, key: str, value: str, ts: int) -> dict:
        mid = self._id("metafield")
        entry = {
            "id": mid,
            "pid": pid,
            "namespace": namespace,
            "key": key,
            "value": value,
            "permission_set": "write_and_sf_access",
            "description": "",
            "created": ts,
            "modified": ts,
        }
        self._metafields[mid] = entry
        self._product_metafields.setdefault(pid, []).append(mid)
        return entry

    @staticmethod
    def _render_metafield(m: dict) -> dict:
        return {
            "id": m["id"],
            "key": m["key"],
            "value": m["value"],
            "namespace": m["namespace"],
            "permission_set": m["permission_set"],
            "resource_type": "product",
            "resource_id": m["pid"],
            "description": m["description"],
            "date_created": iso(m["created"]),
            "date_modified": iso(m["modified"]),
            "owner_client_id": METAFIELD_OWNER,
        }

    def metafields(
        self,
        product_ids: Iterable[int] | None = None,
        namespaces: Iterable[str] | None = None,
        keys: Iterable[str] | None = None,
        modified_min: float | None = None,
        modified_max: float | None = None,
        descending: bool = False,
    ) -> list[dict]:
        """Metafields by id, filtered (product ids, namespaces, keys, date_modified bounds)."""
        with self._lock:
            if product_ids is not None:
                ids = sorted(m for p in set(product_ids) for m in self._product_metafields.get(p, ()))
            else:
                ids = sorted(self._metafields)
            ns = set(namespaces) if namespaces is not None else None
            ks = set(keys) if keys is not None else None
            lo = modified_min if modified_min is not None else float("-inf")
            hi = modified_max if modified_max is not None else float("inf")
            out = [
                self._render_metafield(m)
                for m in (self._metafields[i] for i in ids)
                if (ns is None or m["namespace"] in ns)
                and (ks is None or m["key"] in ks)
                and lo <= m["modified"] <= hi
            ]
            return out[::-1] if descending else out

    def product_metafields(self, product_id: int, **filters: object) -> list[dict]:
        with self._lock:
            self._core(product_id)
            return self.metafields(product_ids=[product_id], **filters)  # type: ignore[arg-type]

    def _metafield_event(self, kind: str, m: dict) -> list[tuple[str, dict]]:
        data = {"metafield_id": m["id"], "resource_id": str(m["pid"]), "resource_type": "product"}
        return [(f"store/product/metafield/{kind}", data), (f"store/metafield/{kind}", dict(data))]

    def set_metafield(
        self,
        product_id: int,
        namespace: str,
        key: str,
        value: str,
        permission_set: str = "write_and_sf_access",
        description: str = "",
        metafield_id: int | None = None,
    ) -> Result:
        """Create (no id; an existing namespace+key of the product is updated) or update a metafield."""
        errors = {
            name: "must be a string of 1-255 characters"
            for name, v in (("namespace", namespace), ("key", key))
            if not isinstance(v, str) or not 1 <= len(v) <= 255
        }
        if not isinstance(value, str) or not 1 <= len(value) <= 65535:
            errors["value"] = "must be a string of 1-65535 characters"
        if permission_set not in PERMISSION_SETS:
            errors["permission_set"] = f"must be one of {', '.join(PERMISSION_SETS)}"
        if errors:
            raise Invalid("The request payload is invalid", errors)
        with self._lock:
            self._core(product_id)
            now = int(self.clock())
            if metafield_id is None:
                metafield_id = next(
                    (
                        i
                        for i in self._product_metafields.get(product_id, ())
                        if (self._metafields[i]["namespace"], self._metafields[i]["key"]) == (namespace, key)
                    ),
                    None,
                )
            if metafield_id is None:
                m = self._new_metafield(product_id, namespace, key, value, now)
                m.update(permission_set=permission_set, description=description)
                pending = self._metafield_event("created", m)
            else:
                m = self._metafields.get(metafield_id)
                if m is None or m["pid"] != product_id:
                    raise NotFound(f"metafield {metafield_id} of product {product_id}")
                m.update(
                    namespace=namespace,
                    key=key,
                    value=value,
                    permission_set=permission_set,
                    description=description,
                    modified=now,
                )
                pending = self._metafield_event("updated", m)
            entity = self._render_metafield(m)
        return self._emit(pending, entity)

    def delete_metafield(self, product_id: int, metafield_id: int) -> Result:
        with self._lock:
            m = self._metafields.get(metafield_id)
            if m is None or m["pid"] != product_id:
                raise NotFound(f"metafield {metafield_id} of product {product_id}")
            self._drop_metafield(metafield_id)
            pending = self._metafield_event("deleted", m)
        return self._emit(pending)

    def _drop_metafield(self, metafield_id: int) -> None:
        m = self._metafields.pop(metafield_id)
        ids = self._product_metafields.get(m["pid"], [])
        if metafield_id in ids:
            ids.remove(metafield_id)

    def _drop_product_metafields(self, product_id: int) -> None:
        for mid in list(self._product_metafields.pop(product_id, ())):
            self._metafields.pop(mid, None)
