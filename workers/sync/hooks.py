"""BigCommerce hook upkeep, shared by `bcsync hooks …`, `bcsync doctor` and the check_hooks task:
which scopes the service handles, registering them idempotently, re-activating deactivated ones.

BigCommerce allows one hook per store + API account + scope + destination, deactivates a hook after
~48 h of failed deliveries or 90 days unused, and keeps it listed (`is_active: false`) in
GET /v3/hooks, so "register" updates what exists instead of creating duplicates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from workers.clients.bigcommerce import BigCommerceClient
from workers.domain import scopes
from workers.domain.scopes import HANDLED_SCOPES  # noqa: F401 — re-exported: the scopes registered
from workers.settings import ConfigError, StoreConfig

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/bigcommerce"
SECRET_HEADER = "X-Webhook-Secret"  # noqa: S105 — a header name, not a secret


def scopes_for(store: StoreConfig | None = None) -> tuple[str, ...]:
    """Every scope a store's hooks subscribe to: HANDLED_SCOPES, then the channel scopes of each of
    its configured channels (channel 1 alone without a store)."""
    return scopes.scopes_for(store.channel_ids if store is not None else (1,))


@dataclass(frozen=True)
class HookAction:
    scope: str
    hook_id: int | None
    action: str  # created | updated | re-activated | unchanged | missing | inactive | ok
    destination: str = ""


def default_destination(public_url: str) -> str:
    """`PUBLIC_URL` (Settings.public_url) + /webhooks/bigcommerce; ConfigError when no URL is known."""
    base = public_url.strip()
    if not base:
        raise ConfigError(
            "no webhook destination: pass --destination URL or set PUBLIC_URL "
            "(the service's public https address)"
        )
    base = base.rstrip("/")
    return base if base.endswith(WEBHOOK_PATH) else base + WEBHOOK_PATH


def desired_headers(store: StoreConfig) -> dict[str, str]:
    return {SECRET_HEADER: store.webhook_secret} if store.webhook_secret else {}


def register_hooks(client: BigCommerceClient, store: StoreConfig, destination: str) -> list[HookAction]:
    """One active hook per handled scope for `destination`: create what is missing, re-activate or
    re-header what exists (never a second hook for the same scope + destination)."""
    headers = desired_headers(store)
    existing: dict[str, list[dict[str, Any]]] = {}
    for hook in client.list_hooks():
        if hook.get("destination") == destination:
            existing.setdefault(str(hook.get("scope")), []).append(hook)
    out = []
    for scope in scopes_for(store):
        hooks = existing.get(scope, [])
        if not hooks:
            made = client.create_hook(scope, destination, headers=headers, is_active=True)
            out.append(HookAction(scope, made.get("id"), "created", destination))
            continue
        hook = hooks[0]
        changes: dict[str, Any] = {}
        if hook.get("is_active") is not True:
            changes["is_active"] = True
        if (hook.get("headers") or {}) != headers:
            changes["headers"] = headers
        if changes:
            client.update_hook(int(hook["id"]), **changes)
            action = "re-activated" if "is_active" in changes else "updated"
        else:
            action = "unchanged"
        out.append(HookAction(scope, hook.get("id"), action, destination))
    return out


def revive_hooks(client: BigCommerceClient, store_hash: str = "") -> list[dict[str, Any]]:
    """Re-activate every hook BigCommerce deactivated; returns the hooks revived (as listed)."""
    revived = []
    for hook in client.list_hooks():
        if hook.get("is_active") is False:
            client.update_hook(int(hook["id"]), is_active=True)
            revived.append(hook)
            log.warning(
                "store %s: re-activated deactivated hook %s (%s)", store_hash, hook["id"], hook.get("scope")
            )
    return revived


def hook_coverage(
    hooks: list[dict[str, Any]], destination: str | None = None, store: StoreConfig | None = None
) -> list[HookAction]:
    """Per handled scope (`scopes_for(store)`): `ok` (an active hook), `inactive` (only deactivated
    ones) or `missing`. With `destination`, only hooks pointing there count."""
    out = []
    for scope in scopes_for(store):
        mine = [
            h
            for h in hooks
            if h.get("scope") == scope and (destination is None or h.get("destination") == destination)
        ]
        active = [h for h in mine if h.get("is_active") is True]
        if active:
            out.append(HookAction(scope, active[0].get("id"), "ok", str(active[0].get("destination", ""))))
        elif mine:
            out.append(HookAction(scope, mine[0].get("id"), "inactive", str(mine[0].get("destination", ""))))
        else:
            out.append(HookAction(scope, None, "missing"))
    return out
