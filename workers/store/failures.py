"""The failed-task list and the ops status snapshot, for `bcsync` and the admin API/page:
list, show, replay (re-run against current state), discard; what is dirty, paused, failed.

A replay marks the entries' products (or categories) dirty again and wakes a flush: the work is
redone from what the store holds now, so replaying twice is harmless.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, cast, func, select, update
from sqlalchemy.orm import Session

from workers.store.dirty import mark_dirty
from workers.store.engine import session_scope
from workers.store.events import insert_events
from workers.store.ledger import force_repush, forget_records
from workers.store.models import PRODUCT, Dirty, FailedTask, Ledger, RateBudget, StoreState
from workers.store.state import store_state

STATUSES = ("failed", "replayed", "discarded")
REPUSH_FINGERPRINT = "verify-drift"  # as workers.sync.verify.DRIFT_FINGERPRINT: no record has it
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(value: str | float | int, now: float | None = None) -> float:
    """Unix seconds from a number, an ISO 8601 date/time (UTC when no zone is given) or a relative
    age such as 30m, 2h, 1d ("that long ago"). ValueError with a readable message otherwise."""
    now = time.time() if now is None else now
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    match = _RELATIVE.match(text)
    if match:
        return now - float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (use ISO 8601 like 2024-05-01T12:00:00Z, unix seconds, "
            "or an age like 30m, 2h, 1d)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else None


def to_dict(entry: FailedTask, traceback: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": entry.id,
        "store": entry.store_hash,
        "task": entry.task,
        "entity": entry.entity,
        "ids": list(entry.entity_ids or []),
        "record_id": entry.record_id,
        "kind": entry.kind,
        "error": entry.error,
        "attempts": entry.attempts,
        "status": entry.status,
        "first_failed_at": iso(entry.first_failed_at),
        "last_failed_at": iso(entry.last_failed_at),
    }
    if traceback:
        out["traceback"] = entry.traceback
    return out


def record_failure(
    session: Session,
    *,
    store_hash: str,
    task: str,
    entity: str,
    entity_ids: Sequence[int],
    kind: str,
    error: str,
    traceback: str = "",
    attempts: int = 1,
    record_id: str | None = None,
    now: float | None = None,
) -> FailedTask:
    """File a failure: one entry per store + task + entity + ids. A new failure of the same work
    updates its entry (attempts, last error, last time, the record that failed) and reopens it if it
    was replayed or discarded, instead of adding another. Also logs a `failure` event per id."""
    now = time.time() if now is None else now
    ids = sorted(int(i) for i in entity_ids)
    candidates = session.scalars(
        select(FailedTask)
        .where(FailedTask.store_hash == store_hash, FailedTask.task == task, FailedTask.entity == entity)
        .order_by(FailedTask.status != "failed", FailedTask.id.desc())
        .limit(5000)
    )
    entry = next((e for e in candidates if sorted(e.entity_ids or []) == ids), None)
    if entry is not None:
        entry.attempts += attempts
        entry.last_failed_at = now
        entry.error, entry.traceback, entry.kind = error, traceback, kind
        entry.status = "failed"
        if record_id is not None:
            entry.record_id = record_id
    else:
        entry = FailedTask(
            store_hash=store_hash,
            task=task,
            entity=entity,
            entity_ids=ids,
            record_id=record_id,
            kind=kind,
            error=error,
            traceback=traceback,
            attempts=attempts,
            first_failed_at=now,
            last_failed_at=now,
            status="failed",
        )
        session.add(entry)
    session.flush()
    detail: dict[str, Any] = {"task": task, "kind": kind, "error": error[:1000], "attempts": entry.attempts}
    if record_id:
        detail["record"] = record_id
    insert_events(session, store_hash, "failure", entity, ids, str(entry.id), detail, now)
    return entry


def list_failed(
    db: str, status: str | None = "failed", since: float | None = None, limit: int = 500
) -> list[FailedTask]:
    with session_scope(db) as s:
        q = select(FailedTask).order_by(FailedTask.id)
        if status:
            q = q.where(FailedTask.status == status)
        if since is not None:
            q = q.where(FailedTask.last_failed_at >= since)
        return list(s.scalars(q.limit(limit)))


def failed_since(db: str, store_hash: str, since: float) -> list[FailedTask]:
    """The store's open entries that failed at or after `since` (what a flush just filed)."""
    with session_scope(db) as s:
        q = select(FailedTask).where(
            FailedTask.store_hash == store_hash,
            FailedTask.status == "failed",
            FailedTask.last_failed_at >= since,
        )
        return list(s.scalars(q.order_by(FailedTask.id)))


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
                forget_records(s, entry.store_hash, [entry.record_id])
            if entry.entity_ids and entry.entity == PRODUCT:  # pushed whole, whatever the ledger says
                force_repush(s, entry.store_hash, entry.entity_ids, REPUSH_FINGERPRINT)
            detail = {"task": entry.task}
            insert_events(
                s, entry.store_hash, "replay", entry.entity, entry.entity_ids, str(entry.id), detail
            )
            if entry.entity_ids:
                mark_dirty(s, entry.store_hash, entry.entity, entry.entity_ids, "replay")
            else:  # a store-wide entry (configuration): lift the pause so its dirty rows flow again
                state = store_state(s, entry.store_hash)
                state.paused_until, state.pause_reason, state.pause_kind, state.paused_at = (
                    0.0,
                    None,
                    None,
                    None,
                )
                s.execute(update(Dirty).where(Dirty.store_hash == entry.store_hash).values(not_before=0.0))
            entry.status = "replayed"
        return entries


def replay_outcomes(db: str, entries: Sequence[FailedTask], since: float) -> dict[int, dict[str, Any]]:
    """What became of replayed entries after a flush that started at `since`, per entry id:
    {"status": "still failing", "error": …} when the work failed again (the entry is open again),
    {"status": "pushed", "records": N} for the records of its products Ometria accepted since, or
    {"status": "waiting", "dirty": N} while its rows still wait for a flush."""
    out: dict[int, dict[str, Any]] = {}
    with session_scope(db) as s:
        for old in entries:
            entry = s.get(FailedTask, old.id)
            if entry is None:
                continue
            if entry.status == "failed" and entry.last_failed_at >= since:
                out[entry.id] = {"status": "still failing", "error": entry.error, "attempts": entry.attempts}
                continue
            ids = list(entry.entity_ids or [])
            pushed = 0
            if ids and entry.entity == PRODUCT:
                pushed = int(
                    s.scalar(
                        select(func.count()).where(
                            Ledger.store_hash == entry.store_hash,
                            Ledger.product_id.in_(ids),
                            Ledger.pushed_at >= since,
                        )
                    )
                    or 0
                )
            dirty = int(
                s.scalar(
                    select(func.count()).where(
                        Dirty.store_hash == entry.store_hash,
                        Dirty.entity == entry.entity,
                        Dirty.entity_id.in_(ids or [-1]),
                    )
                )
                or 0
            )
            if dirty:
                out[entry.id] = {"status": "waiting", "dirty": dirty, "records": pushed}
            else:
                out[entry.id] = {"status": "pushed", "records": pushed}
    return out


def discard(db: str, ids: Sequence[int]) -> int:
    with session_scope(db) as s:
        entries = list(
            s.scalars(select(FailedTask).where(FailedTask.id.in_(list(ids)), FailedTask.status == "failed"))
        )
        for entry in entries:
            entry.status = "discarded"
        return len(entries)


def stores_of(entries: Sequence[FailedTask]) -> list[str]:
    return sorted({e.store_hash for e in entries})


def ops_status(db: str, stores: Sequence[str] = (), now: float | None = None) -> dict[str, Any]:
    """What `bcsync status` and GET /admin/api/status show, per store: dirty rows (by entity),
    claimed rows, the oldest dirty row's age, open failures, pause, last sweep, ledger size."""
    now = time.time() if now is None else now
    per: dict[str, dict[str, Any]] = {}

    def row(store_hash: str) -> dict[str, Any]:
        return per.setdefault(
            store_hash,
            {
                "store": store_hash,
                "dirty": {},
                "dirty_total": 0,
                "claimed": 0,
                "waiting_retry": 0,
                "oldest_dirty_age_s": None,
                "failed": 0,
                "paused": False,
                "paused_until": None,
                "pause_reason": None,
                "pause_kind": None,
                "rate_limited": {},
                "last_sweep_at": None,
                "ledger_records": 0,
                "ledger_active": 0,
            },
        )

    for sh in stores:
        row(sh)
    with session_scope(db) as s:
        for sh, entity, n, oldest in s.execute(
            select(Dirty.store_hash, Dirty.entity, func.count(), func.min(Dirty.first_seen)).group_by(
                Dirty.store_hash, Dirty.entity
            )
        ):
            r = row(sh)
            r["dirty"][entity] = int(n)
            r["dirty_total"] += int(n)
            age = max(0.0, now - float(oldest))
            r["oldest_dirty_age_s"] = max(r["oldest_dirty_age_s"] or 0.0, round(age, 1))
        for sh, n in s.execute(
            select(Dirty.store_hash, func.count()).where(Dirty.lease_until > now).group_by(Dirty.store_hash)
        ):
            row(sh)["claimed"] = int(n)
        for sh, n in s.execute(
            select(Dirty.store_hash, func.count()).where(Dirty.not_before > now).group_by(Dirty.store_hash)
        ):
            row(sh)["waiting_retry"] = int(n)
        open_failures = select(FailedTask.store_hash, func.count()).where(FailedTask.status == "failed")
        for sh, n in s.execute(open_failures.group_by(FailedTask.store_hash)):
            row(sh)["failed"] = int(n)
        for sh, n, active in s.execute(
            select(Ledger.store_hash, func.count(), func.sum(cast(Ledger.is_active, Integer))).group_by(
                Ledger.store_hash
            )
        ):
            row(sh)["ledger_records"], row(sh)["ledger_active"] = int(n), int(active or 0)
        for state in s.scalars(select(StoreState)):
            r = row(state.store_hash)
            r["last_sweep_at"] = iso(state.last_sweep_at)
            if state.paused_until and state.paused_until > now:
                operator = state.pause_kind == "operator"
                r["paused"], r["pause_kind"] = True, "operator" if operator else "configuration"
                r["paused_until"] = None if operator else iso(state.paused_until)  # None: until resumed
                r["pause_reason"] = state.pause_reason
        for budget in s.scalars(select(RateBudget).where(RateBudget.paused_until > now)):
            row(budget.store_hash)["rate_limited"][budget.api] = iso(budget.paused_until)
    # a store that is not configured shows only while it has work or failures waiting (state rows of
    # a store hash once mistyped in the configuration do not haunt the status for ever)
    configured = set(stores)
    stores_out = [
        per[k]
        for k in sorted(per)
        if not configured or k in configured or per[k]["dirty_total"] or per[k]["failed"]
    ]
    return {
        "now": iso(now),
        "stores": stores_out,
        "totals": {
            k: sum(r[k] for r in stores_out) for k in ("dirty_total", "claimed", "failed", "ledger_records")
        },
        "paused_stores": [r["store"] for r in stores_out if r["paused"]],
    }
