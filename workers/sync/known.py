"""Naming things that exist: every use case that takes a store hash checks it is configured first,
so a mistyped hash changes nothing (no state row, no dirty row, no event) and says so plainly."""

from __future__ import annotations

from workers.domain.errors import NotFoundError
from workers.settings import Settings, StoreConfig


def require_store(settings: Settings, store_hash: str) -> StoreConfig:
    """The configured store, or NotFoundError naming the ones that are."""
    store = settings.store(store_hash)
    if store is None:
        configured = ", ".join(sorted(settings.stores)) or "none"
        raise NotFoundError(f"store {store_hash!r} is not configured (configured: {configured})")
    return store
