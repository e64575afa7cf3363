"""Small shared state: webhook ids seen (replay protection, per store, keyed by the SHA-256 of the whole
id), the beat schedule and heartbeats,
per-store state (lookups cache, pause, sweep watermark) and the rate budget rows."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from workers.store.engine import insert_for, rowcount, session_scope
from workers.store.models import BeatRun, Heartbeat, RateBudget, SeenWebhook, StoreState

WEBHOOK_INSERT = text(
    "INSERT INTO seen_webhooks (store_hash, digest, received_at) VALUES (:store_hash, :digest, :now)"
    " ON CONFLICT (store_hash, digest) DO NOTHING RETURNING digest"
)

# --- webhook ids ---------------------------------------------------------------------------


def webhook_digest(webhook_id: str) -> str:
    """The key of a webhook id: SHA-256 (64 hex digits) of the whole id, whatever its length."""
    return hashlib.sha256(webhook_id.encode("utf-8", "surrogatepass")).hexdigest()


def remember_webhook(session: Session, webhook_id: str, store_hash: str, now: float | None = None) -> bool:
    """True the first time a store sees a webhook id, False for a replay (within the retention)."""
    now = time.time() if now is None else now
    params = {"store_hash": store_hash, "digest": webhook_digest(webhook_id), "now": now}
    return session.connection().execute(WEBHOOK_INSERT, params).first() is not None


def prune_webhooks(session: Session, older_than: float) -> int:
    return rowcount(session.execute(delete(SeenWebhook).where(SeenWebhook.received_at < older_than)))


# --- beat schedule and heartbeats ----------------------------------------------------------


def beat_runs(session: Session, names: Iterable[str], now: float) -> dict[str, float]:
    """Each entry's last run; an entry no beat has seen yet is entered as run `now` (first run after
    one interval, as celery's own scheduler does)."""
    names = sorted(names)  # every beat inserts in the same order: two starting at once never deadlock
    for name in names:
        ins = insert_for(session)(BeatRun).values(name=name, last_run_at=now, beat="")
        session.execute(ins.on_conflict_do_nothing(index_elements=[BeatRun.name]))
    rows = session.execute(select(BeatRun.name, BeatRun.last_run_at).where(BeatRun.name.in_(names)))
    return {name: float(at) for name, at in rows}


def claim_beat_run(session: Session, name: str, seen: float, now: float, beat: str) -> float | None:
    """Take the run of `name` that is due after `seen` (compare-and-set): None if this beat took it,
    else the last run another beat recorded meanwhile."""
    taken = rowcount(
        session.execute(
            update(BeatRun)
            .where(BeatRun.name == name, BeatRun.last_run_at == seen)
            .values(last_run_at=now, beat=beat)
        )
    )
    if taken:
        return None
    return float(session.execute(select(BeatRun.last_run_at).where(BeatRun.name == name)).scalar_one())


def record_heartbeat(session: Session, part: str, process: str, now: float) -> None:
    ins = insert_for(session)(Heartbeat).values(part=part, process=process, last_seen=now, started_at=now)
    session.execute(
        ins.on_conflict_do_update(index_elements=[Heartbeat.part, Heartbeat.process], set_={"last_seen": now})
    )


# --- store state ---------------------------------------------------------------------------


def store_state(session: Session, store_hash: str) -> StoreState:
    state = session.get(StoreState, store_hash)
    if state is None:
        ins = insert_for(session)(StoreState).values(
            store_hash=store_hash, lookups_at=0.0, last_sweep_at=0.0, paused_until=0.0, flush_due_at=0.0
        )
        session.execute(ins.on_conflict_do_nothing(index_elements=[StoreState.store_hash]))
        state = session.get(StoreState, store_hash)
    assert state is not None
    return state


def create_budget_row(session: Session, store_hash: str, api: str, quota: int) -> None:
    """Insert a budget row unless another process just did."""
    ins = insert_for(session)(RateBudget).values(
        store_hash=store_hash,
        api=api,
        quota=quota,
        left=quota,
        window_reset_at=0.0,
        paused_until=0.0,
        in_flight=0,
    )
    session.execute(ins.on_conflict_do_nothing(index_elements=[RateBudget.store_hash, RateBudget.api]))


def pause_store(session: Session, store_hash: str, until: float, reason: str) -> None:
    """No flush of the store before `until` (a configuration error: a bad key, a missing scope)."""
    state = store_state(session, store_hash)
    state.paused_until, state.pause_reason = until, reason


@contextmanager
def locked_budget(url: str, store_hash: str, api: str, quota: int) -> Iterator[RateBudget]:
    """The store's budget row for `api`, locked for one transaction (FOR UPDATE on PostgreSQL; SQLite
    holds the write lock from BEGIN IMMEDIATE) and created on first use; changes are committed."""
    with session_scope(url) as session:
        row = session.get(RateBudget, (store_hash, api), with_for_update=True)
        if row is None:
            create_budget_row(session, store_hash, api, quota)
            row = session.get(RateBudget, (store_hash, api), with_for_update=True)
        assert row is not None
        yield row
