"""Dirty rows: one per store + entity + id that may be stale in Ometria. A webhook upserts it and
bumps `version`; a flush claims rows (a lease), and releases a row only if its version is still the
one it claimed, so a change arriving mid-flush survives the flush.

Two rules live here once each: `held` (the rows a claim token still holds: the filter every
statement on a claim uses) and `DIRTY_UPSERT` (the version bump; the receiver's PostgreSQL
statement in `intake.py` embeds the same SET clause, `VERSION_BUMP`)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, text, update
from sqlalchemy.orm import Session

from workers.store.engine import rowcount
from workers.store.models import PRODUCT, Dirty
from workers.store.state import store_state

# --- the two rules --------------------------------------------------------------------------


def held(store_hash: str, entity: str, token: str, ids: Iterable[int]) -> tuple[ColumnElement[bool], ...]:
    """The rows among `ids` that the claim `token` still holds: the filter of every statement a
    flush runs on its claim (another flush may have taken over a row whose lease ran out)."""
    return (
        Dirty.store_hash == store_hash,
        Dirty.entity == entity,
        Dirty.entity_id.in_(list(ids)),
        Dirty.claimed_by == token,
    )


def claimable(now: float) -> tuple[ColumnElement[bool], ...]:
    """Rows a flush may claim at `now`: due, and unclaimed or with their lease run out."""
    return (Dirty.not_before <= now, (Dirty.lease_until.is_(None)) | (Dirty.lease_until < now))


# The version bump that protects a change arriving mid-flush: a row that exists gets a new version
# (so the flush that claimed the old one keeps it dirty), its last change time, and is due at once.
# `intake.py`'s one-statement PostgreSQL path embeds this same clause.
VERSION_BUMP = "version = dirty.version + 1, last_seen = excluded.last_seen, not_before = 0"

# Plain SQL that SQLite and PostgreSQL both accept, so that the statement is compiled once and
# cached (SQLAlchemy does not cache its dialect `on_conflict_*` constructs): the webhook hot path.
DIRTY_UPSERT = text(  # VERSION_BUMP is a constant of this module, no input (S608)
    "INSERT INTO dirty (store_hash, entity, entity_id, version, reason, first_seen, last_seen, not_before,"  # noqa: S608
    " attempts) VALUES (:store_hash, :entity, :entity_id, 1, :reason, :now, :now, 0, 0)"
    f" ON CONFLICT (store_hash, entity, entity_id) DO UPDATE SET {VERSION_BUMP}"
)


# --- dirty rows ----------------------------------------------------------------------------


def mark_dirty(
    session: Session,
    store_hash: str,
    entity: str,
    ids: Iterable[int],
    reason: str = "webhook",
    now: float | None = None,
) -> int:
    """Upsert one dirty row per id; a row that exists gets its version bumped. Returns the count."""
    now = time.time() if now is None else now
    rows = [
        {"store_hash": store_hash, "entity": entity, "entity_id": int(i), "reason": reason, "now": now}
        for i in dict.fromkeys(ids)
    ]
    conn = session.connection()
    for start in range(0, len(rows), 500):
        conn.execute(DIRTY_UPSERT, rows[start : start + 500])
    return len(rows)


def claim(
    session: Session,
    store_hash: str,
    entity: str,
    token: str,
    limit: int,
    lease_seconds: float,
    now: float | None = None,
) -> dict[int, int]:
    """Claim up to `limit` unclaimed (or lease-expired) rows. Returns {entity_id: claimed version}.

    Safe between workers: PostgreSQL skips rows another transaction is claiming (SKIP LOCKED);
    SQLite serialises writers (BEGIN IMMEDIATE)."""
    now = time.time() if now is None else now
    pick = (
        select(Dirty.entity_id)
        .where(Dirty.store_hash == store_hash, Dirty.entity == entity, *claimable(now))
        .order_by(Dirty.first_seen, Dirty.entity_id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = list(session.scalars(pick))
    if not ids:
        return {}
    session.execute(
        update(Dirty)
        .where(Dirty.store_hash == store_hash, Dirty.entity == entity, Dirty.entity_id.in_(ids))
        .values(claimed_by=token, claimed_version=Dirty.version, lease_until=now + lease_seconds)
    )
    rows = session.execute(
        select(Dirty.entity_id, Dirty.claimed_version).where(*held(store_hash, entity, token, ids))
    )
    return {int(i): int(v) for i, v in rows}


CLAIMED_INSERT = text(
    "INSERT INTO dirty (store_hash, entity, entity_id, version, reason, first_seen, last_seen, not_before,"
    " attempts, claimed_by, claimed_version, lease_until)"
    " VALUES (:store_hash, :entity, :entity_id, 1, :reason, :now, :now, 0, 0, :token, 1, :lease_until)"
    " ON CONFLICT (store_hash, entity, entity_id) DO NOTHING"
)


def claim_new(
    session: Session,
    store_hash: str,
    entity: str,
    ids: Sequence[int],
    token: str,
    lease_seconds: float,
    reason: str,
    now: float | None = None,
) -> set[int]:
    """Insert dirty rows already claimed by `token` for ids that have no row yet; returns the ids
    it now owns (an id somebody else marked meanwhile is theirs to flush)."""
    now = time.time() if now is None else now
    unique = list(dict.fromkeys(int(i) for i in ids))
    if not unique:
        return set()
    rows = [
        {
            "store_hash": store_hash,
            "entity": entity,
            "entity_id": i,
            "reason": reason,
            "now": now,
            "token": token,
            "lease_until": now + lease_seconds,
        }
        for i in unique
    ]
    session.connection().execute(CLAIMED_INSERT, rows)
    owned = session.scalars(select(Dirty.entity_id).where(*held(store_hash, entity, token, unique)))
    return {int(i) for i in owned}


def renew_lease(
    session: Session,
    store_hash: str,
    entity: str,
    token: str,
    ids: Iterable[int],
    lease_seconds: float,
    now: float | None = None,
) -> set[int]:
    """Extend the lease of the rows `token` still holds among `ids`; returns those ids."""
    now = time.time() if now is None else now
    rows = session.execute(
        update(Dirty)
        .where(*held(store_hash, entity, token, sorted(ids)))
        .values(lease_until=now + lease_seconds)
        .returning(Dirty.entity_id)
    )
    return {int(i) for i in rows.scalars()}


def attempts_so_far(session: Session, store_hash: str, entity: str, token: str, ids: Sequence[int]) -> int:
    """The most failed attempts any of the rows `token` holds among `ids` has had."""
    rows = session.query(Dirty).filter(*held(store_hash, entity, token, ids))
    return max((r.attempts for r in rows), default=0)


def clear_attempts(session: Session, store_hash: str, entity: str, token: str, ids: Sequence[int]) -> None:
    """A batch went through: its rows' past failures no longer count (a row that changed
    meanwhile stays dirty, but not as a failure growing its back-off toward the failed list)."""
    session.execute(
        update(Dirty)
        .where(*held(store_hash, entity, token, ids), Dirty.attempts > 0)
        .values(attempts=0, last_error=None)
    )


def release_done(session: Session, store_hash: str, entity: str, token: str, ids: Sequence[int]) -> int:
    """Delete the claimed rows whose version did not move during the flush; rows that changed
    meanwhile are unclaimed so the next flush takes them again. Returns the rows deleted."""
    if not ids:
        return 0
    keys = held(store_hash, entity, token, ids)
    done = rowcount(session.execute(delete(Dirty).where(*keys, Dirty.version == Dirty.claimed_version)))
    session.execute(
        update(Dirty).where(*keys).values(claimed_by=None, claimed_version=None, lease_until=None)
    )
    return int(done or 0)


def give_back(
    session: Session,
    store_hash: str,
    entity: str,
    token: str,
    ids: Sequence[int],
    not_before: float = 0.0,
    error: str | None = None,
) -> None:
    """Rows claimed by `token` claimable again from `not_before`, no attempt counted."""
    values: dict[str, Any] = {
        "claimed_by": None,
        "claimed_version": None,
        "lease_until": None,
        "not_before": not_before,
    }
    if error is not None:
        values["last_error"] = error[:2000]
    session.execute(update(Dirty).where(*held(store_hash, entity, token, ids)).values(**values))


def release_failed(
    session: Session,
    store_hash: str,
    entity: str,
    token: str,
    ids: Sequence[int],
    error: str,
    retry_at: float,
) -> None:
    """Give claimed rows back after a failure, not before `retry_at`, counting the attempt."""
    session.execute(
        update(Dirty)
        .where(*held(store_hash, entity, token, ids))
        .values(
            claimed_by=None,
            claimed_version=None,
            lease_until=None,
            not_before=retry_at,
            attempts=Dirty.attempts + 1,
            last_error=error[:2000],
        )
    )


def drop_dirty(session: Session, store_hash: str, entity: str, ids: Sequence[int]) -> None:
    session.execute(
        delete(Dirty).where(
            Dirty.store_hash == store_hash, Dirty.entity == entity, Dirty.entity_id.in_(list(ids))
        )
    )


def backlog(
    session: Session, store_hash: str, entity: str, now: float | None = None
) -> tuple[int, float, float]:
    """Claimable rows of a store: (count, oldest first_seen, newest last_seen)."""
    now = time.time() if now is None else now
    count, oldest, newest = session.execute(
        select(func.count(), func.min(Dirty.first_seen), func.max(Dirty.last_seen)).where(
            Dirty.store_hash == store_hash, Dirty.entity == entity, *claimable(now)
        )
    ).one()
    return int(count), float(oldest or 0.0), float(newest or 0.0)


def schedule_flush(session: Session, store_hash: str, due: float, now: float | None = None) -> bool:
    """Note that a flush of the store is due at `due`; False when one is already due by then
    (so a storm of wake-ups schedules one deferred flush, not one each)."""
    now = time.time() if now is None else now
    state = store_state(session, store_hash)
    if now < state.flush_due_at <= due + 0.5:
        return False
    state.flush_due_at = due
    return True


def dirty_counts(session: Session) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(Dirty.store_hash, Dirty.entity, func.count()).group_by(Dirty.store_hash, Dirty.entity)
    )
    return {(s, e): int(n) for s, e, n in rows}


def stores_with_work(session: Session, now: float | None = None) -> list[str]:
    now = time.time() if now is None else now
    return list(session.scalars(select(Dirty.store_hash).where(*claimable(now)).distinct()))


def dirty_products(session: Session, store_hash: str, product_ids: Sequence[int]) -> set[int]:
    """Those of `product_ids` that have a dirty row (a change still waiting to be flushed)."""
    ids, found = sorted({int(i) for i in product_ids}), set[int]()
    for start in range(0, len(ids), 500):
        q = select(Dirty.entity_id).where(
            Dirty.store_hash == store_hash,
            Dirty.entity == PRODUCT,
            Dirty.entity_id.in_(ids[start : start + 500]),
        )
        found.update(int(i) for i in session.scalars(q))
    return found
