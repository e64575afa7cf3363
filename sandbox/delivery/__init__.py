"""Webhook delivery the way BigCommerce does it, for the sandbox store.

`HookDispatcher.fire(scope, data)` builds the callback envelope of BigCommerce's published samples
(`scope`, `store_id` as a string, `data`, `hash` = SHA-1 hex of `data`, `created_at` in unix seconds,
`producer` = "stores/<hash>") and POSTs it, asynchronously on a small fixed pool of threads, to every
active hook whose scope matches (exactly, or by a wildcard such as "store/product/*"), with the hook's
custom `headers` and Standard Webhooks signature headers (`webhook-id`, `webhook-timestamp`,
`webhook-signature`; key = base64 of the client secret, so `Webhook(base64(secret)).verify(body, headers)`
succeeds).

Only a 2xx counts. A failure (other status, timeout, connection error) is retried after
`BC_RETRY_SCHEDULE[i] * time_scale` seconds with the same body (same `created_at`) and the same
`webhook-id`, but a fresh `webhook-timestamp` and signature. When the last retry fails, the hook is
deactivated through `deactivate(hook_id)`. A retry whose hook has meanwhile gone or been deactivated is
dropped.

Domain blocklist: per destination host, once a sliding window of `BLOCKLIST_WINDOW * time_scale`
seconds holds at least `BLOCKLIST_MIN_REQUESTS` results and under `BLOCKLIST_MIN_SUCCESS` of them
succeeded, the host is blocked for `BLOCKLIST_SECONDS * time_scale`; deliveries due meanwhile are deferred
to the end of the block (counted as `deferred`; deferral does not use up a retry).

Modules: `envelope` (the callback body, scope matching, constants), `transport` (kept-alive POSTs),
`dispatcher` (`HookDispatcher`: queue, retries, blocklist).
"""

from sandbox.delivery.dispatcher import HookDispatcher
from sandbox.delivery.envelope import (
    BC_RETRY_SCHEDULE,
    BLOCKLIST_MIN_REQUESTS,
    BLOCKLIST_MIN_SUCCESS,
    BLOCKLIST_SECONDS,
    BLOCKLIST_WINDOW,
    DEFAULT_WORKERS,
    USER_AGENT,
    data_hash,
    scope_matches,
    store_id_for,
)

__all__ = [
    "BC_RETRY_SCHEDULE",
    "BLOCKLIST_MIN_REQUESTS",
    "BLOCKLIST_MIN_SUCCESS",
    "BLOCKLIST_SECONDS",
    "BLOCKLIST_WINDOW",
    "DEFAULT_WORKERS",
    "USER_AGENT",
    "HookDispatcher",
    "data_hash",
    "scope_matches",
    "store_id_for",
]
