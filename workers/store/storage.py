"""State kept in the database, which is the source of truth: dirty rows, the ledger, failures.

This module gathers the store's parts under one import path (`from workers.store import storage`,
`storage.mark_dirty(...)`); each lives in its own module:
- `models.py`: the tables;
- `engine.py`: engines and `session_scope`;
- `dirty.py`: dirty rows — a webhook upserts one and bumps `version`; a flush claims rows (a lease)
  and releases a row only if its version is still the one it claimed, so a change arriving
  mid-flush survives the flush;
- `ledger.py`: per Ometria record id, the fingerprint Ometria last accepted;
- `state.py`: webhook ids seen (replay protection), beat runs, heartbeats, per-store state and the
  shared rate budget rows;
- `failures.py`: the failed list (`record_failure` and what ops do with it);
- `flushes.py`: the transactions `workers.sync` runs, one method each;
- `queries.py`: the transactions the shells (tasks, beat, `bcsync`, admin, /metrics) run, by URL;
- `totals.py`: the worker-side counter totals GET /metrics reads.
Times are float unix seconds: portable between SQLite and PostgreSQL, no time-zone traps.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update  # kept importable from here: older callers and tests use them
from sqlalchemy.orm import Session

from workers.store.dirty import (
    CLAIMED_INSERT,
    DIRTY_UPSERT,
    VERSION_BUMP,
    attempts_so_far,
    backlog,
    claim,
    claim_new,
    claimable,
    clear_attempts,
    dirty_counts,
    dirty_products,
    drop_dirty,
    give_back,
    held,
    mark_dirty,
    release_done,
    release_failed,
    renew_lease,
    schedule_flush,
    stores_with_work,
)
from workers.store.engine import (
    create_sqlite_folder,
    get_engine,
    insert_for,
    ping,
    postgres_url,
    session_scope,
    sqlite_path,
)
from workers.store.failures import record_failure
from workers.store.ledger import (
    LEDGER_UPSERT,
    active_products,
    active_products_pushed_before,
    force_repush,
    forget_records,
    ledger_for_products,
    products_in_categories,
    pushed_since,
    record_pushed,
)
from workers.store.models import (
    CATEGORY,
    METAFIELD,
    PRICE_LIST,
    PRODUCT,
    TREE,
    VARIANT,
    AlertOutbox,
    Base,
    BeatRun,
    CleanString,
    CleanText,
    Dirty,
    Event,
    FailedTask,
    Heartbeat,
    Incident,
    Ledger,
    RateBudget,
    SeenWebhook,
    StoreState,
)
from workers.store.state import (
    WEBHOOK_INSERT,
    beat_runs,
    claim_beat_run,
    create_budget_row,
    pause_store,
    prune_webhooks,
    record_heartbeat,
    remember_webhook,
    store_state,
    webhook_digest,
)

__all__ = [
    "AlertOutbox",
    "Incident",
    "CATEGORY",
    "METAFIELD",
    "PRICE_LIST",
    "TREE",
    "VARIANT",
    "CLAIMED_INSERT",
    "DIRTY_UPSERT",
    "LEDGER_UPSERT",
    "PRODUCT",
    "VERSION_BUMP",
    "WEBHOOK_INSERT",
    "AlertOutbox",
    "Base",
    "BeatRun",
    "CleanString",
    "CleanText",
    "Dirty",
    "Event",
    "FailedTask",
    "Heartbeat",
    "Incident",
    "Ledger",
    "RateBudget",
    "SeenWebhook",
    "Session",
    "StoreState",
    "active_products",
    "active_products_pushed_before",
    "create_sqlite_folder",
    "dirty_products",
    "force_repush",
    "sqlite_path",
    "delete",
    "select",
    "update",
    "attempts_so_far",
    "backlog",
    "beat_runs",
    "claim",
    "claim_beat_run",
    "claim_new",
    "claimable",
    "clear_attempts",
    "create_budget_row",
    "dirty_counts",
    "drop_dirty",
    "forget_records",
    "get_engine",
    "give_back",
    "held",
    "insert_for",
    "ledger_for_products",
    "mark_dirty",
    "pause_store",
    "ping",
    "postgres_url",
    "products_in_categories",
    "prune_webhooks",
    "pushed_since",
    "record_failure",
    "record_heartbeat",
    "record_pushed",
    "release_done",
    "release_failed",
    "remember_webhook",
    "renew_lease",
    "schedule_flush",
    "session_scope",
    "store_state",
    "stores_with_work",
    "webhook_digest",
]
