"""The failed-task list, for ops: list, show, replay (re-run against current state), discard.

A replay marks the entries' products (or categories) dirty again and wakes a flush: the work is
redone from what the store holds now, so replaying twice is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from workers import storage
from workers.storage import FailedTask, session_scope


def list_failed(db: str, status: str | None = "failed", since: float | None = None,
                limit: int = 500) -> list[FailedTask]:
    with session_scope(db) as s:
        q = select(FailedTask).order_by(FailedTask.id)
        if status:
            q = q.where(FailedTask.status == status)
        if since is not None:
            q = q.where(FailedTask.last_failed_at >= since)
        return list(s.scalars(q.limit(limit)))


def get_failed(db: str, entry_id: int) -> FailedTask | None:
    with session_scope(db) as s:
        return s.get(FailedTask, entry_id)


def replay(db: str, ids: Sequence[int] | None = None, since: float | None = None) -> list[FailedTask]:
    """Mark the work of these entries (all open ones when `ids` is None) dirty again.
    Returns the entries replayed; their stores need a flush (the caller wakes it)."""
    with session_scope(db) as s:
        q = select(FailedTask).where(FailedTask.status == "failed")
        if ids is not None:
            q = q.where(FailedTask.id.in_(list(ids)))
        if since is not None:
            q = q.where(FailedTask.last_failed_at >= since)
        entries = list(s.scalars(q))
        for entry in entries:
            if entry.record_id:
                storage.forget_records(s, entry.store_hash, [entry.record_id])
            if entry.entity_ids:
                storage.mark_dirty(s, entry.store_hash, entry.entity, entry.entity_ids, "replay")
            else:  # a store-wide entry (configuration): lift the pause so its dirty rows flow again
                state = storage.store_state(s, entry.store_hash)
                state.paused_until, state.pause_reason = 0.0, None
                s.execute(storage.update(storage.Dirty).where(storage.Dirty.store_hash == entry.store_hash)
                          .values(not_before=0.0))
            entry.status = "replayed"
        return entries


def discard(db: str, ids: Sequence[int]) -> int:
    with session_scope(db) as s:
        entries = list(s.scalars(select(FailedTask).where(FailedTask.id.in_(list(ids)),
                                                          FailedTask.status == "failed")))
        for entry in entries:
            entry.status = "discarded"
        return len(entries)
