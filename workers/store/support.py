"""The transactions of support's use cases (workers.sync.repair, events, pausing, verify's pending
products, the CLI's flush report), one each, by database URL: the layers above hold no session."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select

from workers.store import events as event_log
from workers.store import pauses
from workers.store.dirty import dirty_counts, mark_dirty
from workers.store.dirty import dirty_products as _dirty_products
from workers.store.engine import session_scope
from workers.store.ledger import active_products as _active_products
from workers.store.ledger import force_repush, ledger_for_products
from workers.store.ledger import products_in_categories as _products_in_categories
from workers.store.models import PRODUCT, Event, Ledger

# --- ledger and dirty rows -------------------------------------------------------------------------


def ledger_for(db: str, store_hash: str, product_ids: Sequence[int]) -> dict[str, tuple[int, str]]:
    """{record_id: (product_id, fingerprint)} of every record ever pushed for these products."""
    with session_scope(db) as s:
        return ledger_for_products(s, store_hash, list(product_ids))


def products_in_categories(db: str, store_hash: str, category_ids: Iterable[int]) -> set[int]:
    with session_scope(db) as s:
        return _products_in_categories(s, store_hash, category_ids)


def active_products(db: str, store_hash: str) -> set[int]:
    with session_scope(db) as s:
        return _active_products(s, store_hash)


def dirty_products(db: str, store_hash: str, product_ids: Sequence[int]) -> set[int]:
    """Those of `product_ids` with a change still waiting to be flushed."""
    with session_scope(db) as s:
        return _dirty_products(s, store_hash, product_ids)


def mark_for_repush(
    db: str,
    store_hash: str,
    products: Sequence[int],
    gone: Sequence[int],
    fingerprint: str,
    mode: str,
) -> None:
    """A repair, in one transaction: the products' ledger fingerprints set to `fingerprint` (so the
    next flush pushes every record whole), their rows marked dirty, a `resync` event each."""
    marked = sorted({*products, *gone})
    if not marked:
        return
    with session_scope(db) as s:
        force_repush(s, store_hash, marked, fingerprint)
        mark_dirty(s, store_hash, PRODUCT, marked, "resync")
        if products:
            event_log.log_event(
                s, store_hash, event_log.RESYNC, entity=PRODUCT, ids=products, detail={"mode": mode}
            )
        if gone:
            detail = {"mode": mode, "outcome": "gone from the store: its records are pushed inactive"}
            event_log.log_event(s, store_hash, event_log.RESYNC, entity=PRODUCT, ids=gone, detail=detail)


def force_all(db: str, store_hash: str, fingerprint: str) -> int:
    """Every ledger fingerprint of the store set to `fingerprint`; returns the rows."""
    with session_scope(db) as s:
        return force_repush(s, store_hash, None, fingerprint)


def flush_outcome(
    db: str, store_hash: str, since: float, product_ids: Sequence[int]
) -> tuple[list[tuple[str, int, bool]], int, set[int]]:
    """After an in-process flush that began at `since`: the records Ometria accepted since
    (record id, product id, active), the store's dirty products left, and those of `product_ids`
    still dirty."""
    with session_scope(db) as s:
        q = select(Ledger.record_id, Ledger.product_id, Ledger.is_active).where(
            Ledger.store_hash == store_hash, Ledger.pushed_at >= since
        )
        pushed = [
            (r, int(p), bool(a)) for r, p, a in s.execute(q.order_by(Ledger.product_id, Ledger.record_id))
        ]
        left = dirty_counts(s).get((store_hash, PRODUCT), 0)
        waiting = _dirty_products(s, store_hash, product_ids) if product_ids else set()
    return pushed, left, waiting


# --- events ----------------------------------------------------------------------------------------


def write_events(db: str, rows: Sequence[Mapping[str, Any]]) -> None:
    with session_scope(db) as s:
        event_log.log_events(s, rows)


def timeline(
    db: str, store_hash: str, entity: str, entity_id: int, since: float | None, limit: int
) -> list[dict[str, Any]]:
    """The entity's events and the store-wide ones, oldest first, as plain dicts (see Event)."""
    with session_scope(db) as s:
        return [_plain(e) for e in event_log.events_for(s, store_hash, entity, entity_id, since, limit)]


def recent_events(db: str, store_hash: str, since: float | None, limit: int) -> list[dict[str, Any]]:
    with session_scope(db) as s:
        return [_plain(e) for e in event_log.recent(s, store_hash, since, limit)]


def known_product(db: str, store_hash: str, product_id: int) -> bool:
    """An event in the log, or a record ever pushed."""
    with session_scope(db) as s:
        if event_log.ever_mentioned(s, store_hash, PRODUCT, product_id):
            return True
        q = select(Ledger.record_id).where(Ledger.store_hash == store_hash, Ledger.product_id == product_id)
        return s.execute(q.limit(1)).first() is not None


def _plain(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at,
        "kind": e.kind,
        "store": e.store_hash,
        "entity_id": e.entity_id,
        "ref": e.ref,
        "detail": dict(e.detail or {}),
    }


# --- pauses ----------------------------------------------------------------------------------------


def pause_state(db: str, store_hash: str) -> dict[str, Any]:
    """{paused_until, pause_reason, pause_kind, paused_at, rate_limited} of the store; zeros and
    Nones for a store with no state row (none is created)."""
    now = time.time()
    with session_scope(db) as s:
        state = pauses.state_of(s, store_hash)
        limits = pauses.rate_limits(s, store_hash, now)
        if state is None:
            return {
                "paused_until": 0.0,
                "pause_reason": None,
                "pause_kind": None,
                "paused_at": None,
                "rate_limited": limits,
            }
        return {
            "paused_until": float(state.paused_until or 0.0),
            "pause_reason": state.pause_reason,
            "pause_kind": state.pause_kind,
            "paused_at": state.paused_at,
            "rate_limited": limits,
        }


def pause(db: str, store_hash: str, reason: str) -> None:
    """An operator's pause, and its `pause` event."""
    with session_scope(db) as s:
        pauses.pause(s, store_hash, reason)
        event_log.log_event(s, store_hash, event_log.PAUSE, detail={"reason": reason, "by": "operator"})


def resume(db: str, store_hash: str) -> bool:
    """Lift the store's pause, with a `resume` event; False when it was not paused."""
    with session_scope(db) as s:
        before = pauses.state_of(s, store_hash)
        reason = before.pause_reason if before is not None else None
        changed = pauses.resume(s, store_hash)
        if changed:
            event_log.log_event(s, store_hash, event_log.RESUME, detail={"was": reason})
        return changed


def operator_paused(db: str) -> set[str]:
    with session_scope(db) as s:
        return pauses.operator_paused(s)
