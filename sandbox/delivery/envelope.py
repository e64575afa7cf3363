"""The callback envelope BigCommerce sends, which hooks a scope reaches, and the delivery constants."""

from __future__ import annotations

import hashlib
import json
from typing import Any

BC_RETRY_SCHEDULE = (60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400)
BLOCKLIST_WINDOW = 120.0
BLOCKLIST_MIN_REQUESTS = 100
BLOCKLIST_MIN_SUCCESS = 0.9
BLOCKLIST_SECONDS = 180.0
DEFAULT_WORKERS = 8
USER_AGENT = "bcsync-sandbox-webhooks/1.0"


def scope_matches(hook_scope: str, scope: str) -> bool:
    """Exact match, or a hook scope ending in "/*" that covers the event scope's sub-scopes."""
    if hook_scope == scope:
        return True
    if hook_scope.endswith("/*"):
        return scope.startswith(hook_scope[:-1])
    return False


def store_id_for(store_hash: str) -> str:
    """A stable numeric store id (BigCommerce sends it as a string) derived from the store hash."""
    digest = hashlib.sha1(store_hash.encode(), usedforsecurity=False).hexdigest()
    return str(1_000_000 + int(digest[:8], 16) % 9_000_000)


def data_hash(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha1(canonical, usedforsecurity=False).hexdigest()
