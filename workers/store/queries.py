"""One transaction each, by database URL: what the shells (Celery tasks, beat, `bcsync`, the admin
page, /metrics) and `workers.sync.verify` ask of the database, so that none of them holds a session
or writes a query."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError

from workers.store import dirty, events, ledger, liveness, state
from workers.store.engine import session_scope
from workers.store.failures import record_failure
from workers.store.models import PRODUCT

log = logging.getLogger(__name__)

# --- dirty rows ----------------------------------------------------------------------------


def schedule_flush(url: str, store_hash: str, due: float) -> bool:
    """Note a deferred flush of the store at `due`; False when one is already due by then."""
    with session_scope(url) as s:
        return dirty.schedule_flush(s, store_hash, due)


def stores_with_work(url: str) -> list[str]:
    """Stores that have claimable dirty rows now."""
    with session_scope(url) as s:
        return dirty.stores_with_work(s)


def dirty_counts(url: str) -> dict[tuple[str, str], int]:
    """Dirty rows by (store, entity)."""
    with session_scope(url) as s:
        return dirty.dirty_counts(s)


# --- ledger --------------------------------------------------------------------------------


def known_records(url: str, store_hash: str, product_ids: Sequence[int]) -> set[str]:
    """The record ids Ometria has (per the ledger) for these products."""
    with session_scope(url) as s:
        return set(ledger.ledger_for_products(s, store_hash, product_ids))


def repair_drift(
    url: str,
    store_hash: str,
    forget: Sequence[str],
    deactivate: Sequence[tuple[str, int, str, bool]],
    product_ids: Sequence[int],
) -> int:
    """`bcsync verify --fix`: the ledger forgets the records in `forget`, takes the `deactivate`
    rows, and the products are marked dirty (returns how many) — all in one transaction."""
    with session_scope(url) as s:
        for start in range(0, len(forget), 500):
            ledger.forget_records(s, store_hash, forget[start : start + 500])
        ledger.record_pushed(s, store_hash, deactivate)
        return dirty.mark_dirty(s, store_hash, PRODUCT, product_ids, "verify")


@dataclass(frozen=True)
class ValidationError:
    """One asynchronous validation error Ometria reported (`GET /push/_errors`)."""

    key: str  # what makes it the same error again: request, record, path
    record_id: str  # as Ometria has it (the ledger row to forget)
    product_ids: list[int]
    error: str
    filed_record_id: str  # as the failed list shows it (cleaned of control characters, bounded)


SEEN_ERRORS_KEPT = 500


def file_validation_errors(url: str, store_hash: str, errors: Sequence[ValidationError]) -> int:
    """File each error not filed before in the failed list and make the ledger forget its record
    (so a replay, once the store is fixed, pushes it again). Returns how many were filed."""
    filed = 0
    with session_scope(url) as s:
        store = state.store_state(s, store_hash)
        seen = list(store.seen_errors or [])
        for err in errors:
            if err.key in seen or not err.record_id:
                continue
            seen.append(err.key)
            record_failure(
                s,
                store_hash=store_hash,
                task="ometria-validation",
                entity=PRODUCT,
                entity_ids=err.product_ids,
                kind="permanent",
                record_id=err.filed_record_id,
                error=err.error,
            )
            ledger.forget_records(s, store_hash, [err.record_id])
            filed += 1
        store.seen_errors = seen[-SEEN_ERRORS_KEPT:]
    return filed


# --- webhook ids, beat, heartbeats -----------------------------------------------------------


WEBHOOK_IDS_KEPT = 3600.0  # seconds a webhook id is remembered (replay protection)


def prune(url: str, now: float, events_kept: float) -> int:
    """The hourly clean-up: old liveness rows, webhook ids older than WEBHOOK_IDS_KEPT, events older
    than `events_kept` seconds. Returns the webhook ids and events forgotten."""
    with session_scope(url) as s:
        liveness.prune(s, now)
        n = state.prune_webhooks(s, now - WEBHOOK_IDS_KEPT)
        return n + events.prune_events(s, now - events_kept)


BEAT_READ_TRIES = 3


def beat_runs(url: str, names: Iterable[str], now: float) -> dict[str, float]:
    """Each beat entry's last run (see `state.beat_runs`); two beats starting at once may deadlock
    entering the rows: tried again (the rows are there then)."""
    names = list(names)
    for attempt in range(1, BEAT_READ_TRIES + 1):
        try:
            with session_scope(url) as s:
                return state.beat_runs(s, names, now)
        except OperationalError as exc:
            if attempt == BEAT_READ_TRIES:
                raise
            log.warning("beat: reading the schedule failed (%s); again", type(exc.orig).__name__)
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def claim_beat_run(url: str, name: str, seen: float, now: float, beat: str) -> float | None:
    with session_scope(url) as s:
        return state.claim_beat_run(s, name, seen, now, beat)


def record_heartbeat(url: str, part: str, process: str, now: float) -> None:
    with session_scope(url) as s:
        state.record_heartbeat(s, part, process, now)


# --- liveness ------------------------------------------------------------------------------


def record_hook_check(url: str, store_hash: str, inactive: int) -> None:
    with session_scope(url) as s:
        liveness.record_hook_check(s, store_hash, inactive=inactive)
