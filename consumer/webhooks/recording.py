"""Making a callback's change durable: one transaction that remembers the webhook id (replays are
acknowledged without recording again) and upserts the dirty rows. Only after the commit is the
store's flush woken — never before, and never in a way that can fail or block the request.
Concurrent callbacks share a commit (consumer.webhooks.group_commit).
"""

from __future__ import annotations

import logging

from consumer.errors import Refusal
from consumer.runtime import Runtime
from consumer.webhooks.callbacks import Change
from workers.store.engine import DatabaseError
from workers.store.intake import Callback

log = logging.getLogger(__name__)

RECORDED, REPLAYED = "recorded", "replayed"


def record_change(
    runtime: Runtime, store_hash: str, change: Change, webhook_id: str | None, scope: str = ""
) -> str:
    """RECORDED or REPLAYED once durable (the event log's row included); Refusal(503) when the
    database cannot be written."""
    callback = Callback(store_hash, change.entity, tuple(change.ids), webhook_id, scope)
    try:
        runtime.ensure_schema()
        fresh = runtime.group_commit.record(callback)
    except (DatabaseError, OSError, TimeoutError) as exc:
        log.error(
            "webhook for store %s not recorded: database unavailable (%s)",
            store_hash,
            type(exc).__name__,
            exc_info=True,
        )
        raise Refusal(503, "cannot record the change now; retry later") from None
    if not fresh:
        return REPLAYED
    wake(runtime, store_hash)
    return RECORDED


def wake(runtime: Runtime, store_hash: str) -> None:
    try:
        runtime.waker.note(store_hash)
    except Exception:  # the change is on disk; the periodic sweep flushes it
        log.warning("could not note a flush for store %s", store_hash, exc_info=True)
