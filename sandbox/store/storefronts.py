"""Storefront channels (multi-storefront): each with its site, its currencies, its category tree, and the
products assigned to it ("products must be explicitly assigned to a channel to be sold on that channel").

A default store has one channel (id 1, the store's currency, every product assigned, tree 1): exactly what
the sandbox always served. `Store(..., channels=N)` adds channels 2..N (see `storefront_generation`).

Callbacks (webhook-events-channels.mdx):
| mutation                 | callbacks                                                             |
|--------------------------|-----------------------------------------------------------------------|
| assign_products          | store/channel/{id}/product/assigned {"product_id"} per newly assigned  |
| unassign_products        | store/channel/{id}/product/unassigned {"product_id"} per removed       |
| update_channel           | store/channel/updated {"type": "channel", "id"}                        |
| set_site_url             | store/channel/{id}/settings/site/updated {"site_id"}                   |
| update_tree              | store/channel/{id}/categoryTree/updated {"tree_id"}                    |
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.store.common import Invalid, NotFound, Result, iso
from sandbox.store.state import StoreState

CHANNEL_NAMES = ("Sandbox Storefront", "Sandbox Europe", "Sandbox Outlet", "Sandbox Nordics", "Sandbox Japan")
ICON_URL = "https://storage.googleapis.com/bigcommerce-production-dev-center/images/bigcommerce_icon.svg"
CHANNEL_UPDATABLE = {
    "name": str,
    "external_id": str,
    "status": str,
    "is_listable_from_ui": bool,
    "is_visible": bool,
}
CHANNEL_STATUSES = {"active", "prelaunch", "inactive", "connected", "disconnected", "archived"}


class Storefronts(StoreState):
    """Channels, their sites, currency assignments, trees, and product channel assignments."""

    # ------------------------------------------------------------------ reads
    def _channel(self, channel_id: int) -> dict:
        ch = self._channels.get(channel_id)
        if ch is None:
            raise NotFound(f"channel {channel_id}")
        return ch

    def _render_channel(self, ch: dict) -> dict:
        created = iso(ch["created"]).replace("+00:00", "Z")
        return {
            "id": ch["id"],
            "external_id": ch["external_id"],
            "is_listable_from_ui": ch["is_listable_from_ui"],
            "is_enabled": ch["status"] in ("active", "prelaunch", "connected"),
            "is_visible": ch["is_visible"],
            "status": ch["status"],
            "name": ch["name"],
            "type": "storefront",
            "platform": "bigcommerce",
            "date_created": created,
            "date_modified": iso(ch["modified"]).replace("+00:00", "Z"),
            "icon_url": ICON_URL,
            "currencies": self._render_currency_assignment(ch),
        }

    @staticmethod
    def _render_currency_assignment(ch: dict) -> dict:
        return {
            "channel_id": ch["id"],
            "enabled_currencies": list(ch["currencies"]),
            "default_currency": ch["default_currency"],
        }

    def channels(self) -> list[dict]:
        """Every channel, with its `currencies` (the list endpoint drops them unless include=currencies)."""
        with self._lock:
            return [self._render_channel(ch) for ch in self._channels.values()]

    def channel(self, channel_id: int) -> dict:
        with self._lock:
            return self._render_channel(self._channel(channel_id))

    @property
    def has_storefronts(self) -> bool:
        """More than one channel, or price lists: what a default store never has."""
        with self._lock:
            return len(self._channels) > 1 or bool(self._price_lists)

    def channel_ids(self) -> list[int]:
        with self._lock:
            return list(self._channels)

    def currency_assignments(self, channel_id: int | None = None) -> list[dict]:
        with self._lock:
            chosen = [self._channel(channel_id)] if channel_id is not None else self._channels.values()
            return [self._render_currency_assignment(ch) for ch in chosen]

    def _render_site(self, ch: dict) -> dict:
        stamp = iso(ch["site_created"]).replace("+00:00", ".000Z")
        urls = [
            {"url": ch["site_url"], "type": kind, "created_at": stamp, "updated_at": stamp}
            for kind in ("primary", "canonical", "checkout")
        ]
        return {
            "id": ch["site_id"],
            "url": ch["site_url"],
            "channel_id": ch["id"],
            "created_at": stamp,
            "updated_at": stamp,
            "ssl_status": "shared",
            "urls": urls,
            "is_checkout_url_customized": False,
        }

    def site(self, channel_id: int) -> dict:
        with self._lock:
            return self._render_site(self._channel(channel_id))

    def sites(self) -> list[dict]:
        with self._lock:
            return [self._render_site(ch) for ch in self._channels.values()]

    def trees(self) -> list[dict]:
        """`GET /catalog/trees`: one tree per storefront channel."""
        with self._lock:
            return [
                {"id": t["id"], "name": t["name"], "channels": list(t["channels"])}
                for t in self._trees.values()
            ]

    def tree_channels(self, tree_id: int) -> list[int]:
        with self._lock:
            tree = self._trees.get(tree_id)
            return list(tree["channels"]) if tree else []

    def _product_channels(self, pid: int) -> list[int]:
        return [cid for cid, pids in self._channel_products.items() if pid in pids]

    def channel_assignments(
        self, product_ids: Iterable[int] | None = None, channel_ids: Iterable[int] | None = None
    ) -> list[dict]:
        """`GET /catalog/products/channel-assignments`, ordered by product then channel."""
        with self._lock:
            pids = (
                sorted({p for p in product_ids if p in self._products})
                if product_ids is not None
                else self._ids
            )
            wanted = set(channel_ids) if channel_ids is not None else None
            return [
                {"product_id": p, "channel_id": c}
                for p in pids
                for c in self._product_channels(p)
                if wanted is None or c in wanted
            ]

    def channel_product_ids(self, channel_id: int) -> list[int]:
        with self._lock:
            return sorted(self._channel_products[self._channel(channel_id)["id"]])

    # ------------------------------------------------------------------ mutations
    def assign_products(self, channel_id: int, product_ids: Iterable[int]) -> Result:
        """Assign products to a channel (`PUT /catalog/products/channel-assignments`)."""
        with self._lock:
            self._channel(channel_id)
            pids = list(dict.fromkeys(int(p) for p in product_ids))
            for pid in pids:
                self._core(pid)
            assigned = self._channel_products[channel_id]
            fresh = [p for p in pids if p not in assigned]
            assigned.update(fresh)
            pending = [(f"store/channel/{channel_id}/product/assigned", {"product_id": p}) for p in fresh]
        return self._emit(pending)

    def unassign_products(self, channel_id: int, product_ids: Iterable[int]) -> Result:
        """Remove products from a channel (`DELETE /catalog/products/channel-assignments`)."""
        with self._lock:
            self._channel(channel_id)
            assigned = self._channel_products[channel_id]
            gone = [p for p in dict.fromkeys(int(p) for p in product_ids) if p in assigned]
            assigned.difference_update(gone)
            pending = [(f"store/channel/{channel_id}/product/unassigned", {"product_id": p}) for p in gone]
        return self._emit(pending)

    def update_channel(self, channel_id: int, **fields: Any) -> Result:
        """`PUT /channels/{id}`: name, external_id, status, is_listable_from_ui, is_visible."""
        with self._lock:
            ch = self._channel(channel_id)
            errors = {
                k: "wrong type"
                for k, v in fields.items()
                if k in CHANNEL_UPDATABLE and (not isinstance(v, CHANNEL_UPDATABLE[k]))
            }
            if "status" in fields and fields["status"] not in CHANNEL_STATUSES:
                errors["status"] = f"status must be one of {sorted(CHANNEL_STATUSES)}"
            if errors:
                raise Invalid("The request payload is invalid", errors)
            changed = {k: v for k, v in fields.items() if k in CHANNEL_UPDATABLE and ch[k] != v}
            ch.update(changed)
            if changed:
                ch["modified"] = int(self.clock())
            pending = [("store/channel/updated", {"type": "channel", "id": channel_id})] if changed else []
            entity = self._render_channel(ch)
        return self._emit(pending, entity)

    def set_site_url(self, channel_id: int, url: str) -> Result:
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise Invalid("url must be an absolute http(s) URL", {"url": "invalid"})
        with self._lock:
            ch = self._channel(channel_id)
            ch["site_url"] = url.rstrip("/")
            if channel_id == 1:
                self.site_url = ch["site_url"]
            pending = [(f"store/channel/{channel_id}/settings/site/updated", {"site_id": ch["site_id"]})]
            entity = self._render_site(ch)
        return self._emit(pending, entity)

    def update_tree(self, tree_id: int, name: str) -> Result:
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise Invalid("name must be 1-255 characters", {"name": "invalid"})
        with self._lock:
            tree = self._trees.get(tree_id)
            if tree is None:
                raise NotFound(f"category tree {tree_id}")
            tree["name"] = name
            pending = [
                (f"store/channel/{c}/categoryTree/updated", {"tree_id": tree_id}) for c in tree["channels"]
            ]
        return self._emit(pending, {"id": tree_id, "name": name, "channels": list(tree["channels"])})
