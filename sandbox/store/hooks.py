"""Webhooks (hooks) of the store: at most one per store + client + scope + destination."""

from __future__ import annotations

from typing import Any

from sandbox.store.common import Invalid, NotFound
from sandbox.store.state import StoreState


class Hooks(StoreState):
    """What /v3/hooks manages and the dispatcher reads."""

    def list_hooks(self, client_id: str | None = None) -> list[dict]:
        with self._lock:
            return [
                _public_hook(h)
                for h in self._hooks.values()
                if client_id is None or h["client_id"] == client_id
            ]

    def active_hooks(self) -> list[dict]:
        """For the dispatcher: every active hook, with its headers."""
        with self._lock:
            return [_public_hook(h) for h in self._hooks.values() if h["is_active"]]

    def get_hook(self, hook_id: int, client_id: str | None = None) -> dict:
        with self._lock:
            h = self._hooks.get(hook_id)
            if h is None or (client_id is not None and h["client_id"] != client_id):
                raise NotFound(f"Webhook with id [{hook_id}] not found")
            return _public_hook(h)

    def _duplicate_hook(
        self, client_id: str, scope: str, destination: str, exclude: int | None = None
    ) -> bool:
        return any(
            h["client_id"] == client_id
            and h["scope"] == scope
            and h["destination"] == destination
            and h["id"] != exclude
            for h in self._hooks.values()
        )

    def create_hook(
        self,
        client_id: str,
        scope: str,
        destination: str,
        is_active: bool = True,
        headers: dict[str, str] | None = None,
    ) -> dict:
        with self._lock:
            if self._duplicate_hook(client_id, scope, destination):
                raise Invalid(
                    "A webhook with this scope and destination already exists",
                    {"scope": "duplicate hook for this scope and destination"},
                )
            now = int(self.clock())
            hook = {
                "id": self._id("hook"),
                "client_id": client_id,
                "store_hash": self.store_hash,
                "scope": scope,
                "destination": destination,
                "is_active": bool(is_active),
                "headers": dict(headers) if headers else None,
                "created_at": now,
                "updated_at": now,
                "status": "active" if is_active else "inactive",
            }
            self._hooks[hook["id"]] = hook
            return _public_hook(hook)

    def update_hook(self, hook_id: int, client_id: str | None = None, **changes: Any) -> dict:
        with self._lock:
            hook = self._hooks.get(hook_id)
            if hook is None or (client_id is not None and hook["client_id"] != client_id):
                raise NotFound(f"Webhook with id [{hook_id}] not found")
            scope = changes.get("scope", hook["scope"])
            destination = changes.get("destination", hook["destination"])
            if self._duplicate_hook(hook["client_id"], scope, destination, exclude=hook_id):
                raise Invalid(
                    "A webhook with this scope and destination already exists",
                    {"scope": "duplicate hook for this scope and destination"},
                )
            for key in ("scope", "destination"):
                if key in changes:
                    hook[key] = changes[key]
            if "headers" in changes:
                hook["headers"] = dict(changes["headers"]) if changes["headers"] else None
            if "is_active" in changes:
                hook["is_active"] = bool(changes["is_active"])
                hook["status"] = "active" if hook["is_active"] else "inactive"
            hook["updated_at"] = int(self.clock())
            return _public_hook(hook)

    def delete_hook(self, hook_id: int, client_id: str | None = None) -> dict:
        with self._lock:
            hook = self._hooks.get(hook_id)
            if hook is None or (client_id is not None and hook["client_id"] != client_id):
                raise NotFound(f"Webhook with id [{hook_id}] not found")
            del self._hooks[hook_id]
            return _public_hook(hook)

    def deactivate_hook(self, hook_id: int) -> None:
        """BigCommerce gave up delivering (after the last retry): the hook goes inactive."""
        with self._lock:
            hook = self._hooks.get(hook_id)
            if hook is not None:
                hook["is_active"] = False
                hook["status"] = "deactivated"
                hook["updated_at"] = int(self.clock())

    def inactive_hooks(self, client_id: str | None = None) -> list[dict]:
        with self._lock:
            return [
                dict(_public_hook(h), status=h["status"])
                for h in self._hooks.values()
                if not h["is_active"] and (client_id is None or h["client_id"] == client_id)
            ]


def _public_hook(h: dict) -> dict:
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in h.items() if k != "status"}
