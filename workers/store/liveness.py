"""What liveness is judged from, and the incidents and alert messages it leads to.

- Signs of life: `heartbeats` (each worker and beat process), per store `store_state` (last flush,
  last accepted push, last date_modified sweep, last hook check and how many hooks it found
  deactivated, pause), `rate_budget` (the BigCommerce quota last seen), `dirty` and `failed_tasks`.
- `incidents`: one row per condition; changed only by compare-and-set on `version`, so that of
  several evaluators (beat and every worker) exactly one opens or closes an incident.
- `alert_outbox`: the messages to send, written in the same transaction as the incident's change,
  then taken (a lease), sent, and marked sent or retried later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from workers.domain.health import ProcessSeen, StoreFacts
from workers.store.engine import insert_for, rowcount, session_scope
from workers.store.models import (
    AlertOutbox,
    Dirty,
    FailedTask,
    Heartbeat,
    Incident,
    RateBudget,
    StoreState,
)
from workers.store.state import store_state

# --- recording signs of life ---------------------------------------------------------------


def _touch_state(session: Session, store_hash: str, **values: float | int) -> None:
    store_state(session, store_hash)
    session.execute(update(StoreState).where(StoreState.store_hash == store_hash).values(**values))


def record_flush(session: Session, store_hash: str, pushed: bool, now: float | None = None) -> None:
    """A batch of the store was flushed (and, with `pushed`, Ometria accepted records of it)."""
    now = time.time() if now is None else now
    values: dict[str, float] = {"last_flush_at": now}
    if pushed:
        values["last_push_at"] = now
    _touch_state(session, store_hash, **values)


def record_push(session: Session, store_hash: str, now: float | None = None) -> None:
    _touch_state(session, store_hash, last_push_at=time.time() if now is None else now)


def record_hook_check(session: Session, store_hash: str, inactive: int, now: float | None = None) -> None:
    """The hook check ran: it found `inactive` hooks deactivated by BigCommerce (and revived them)."""
    now = time.time() if now is None else now
    _touch_state(session, store_hash, hooks_checked_at=now, hooks_inactive=int(inactive))


# --- reading them --------------------------------------------------------------------------


def processes(session: Session) -> list[ProcessSeen]:
    rows = session.execute(
        select(Heartbeat.part, Heartbeat.process, Heartbeat.last_seen, Heartbeat.started_at).order_by(
            Heartbeat.part, Heartbeat.last_seen.desc()
        )
    )
    return [ProcessSeen(p, pr, float(seen), float(started or seen)) for p, pr, seen, started in rows]


def store_facts(session: Session, stores: dict[str, int]) -> dict[str, StoreFacts]:
    """Per configured store (hash → its BigCommerce reserve), every fact its health is judged from
    (one query per table)."""
    facts: dict[str, dict[str, Any]] = {sh: {"store": sh, "reserve": r} for sh, r in stores.items()}
    for state in session.scalars(select(StoreState).where(StoreState.store_hash.in_(list(stores)))):
        facts[state.store_hash].update(
            last_flush_at=float(state.last_flush_at or 0.0),
            last_push_at=float(state.last_push_at or 0.0),
            last_sweep_at=float(state.last_sweep_at or 0.0),
            hooks_checked_at=float(state.hooks_checked_at or 0.0),
            hooks_inactive=int(state.hooks_inactive or 0),
            paused_until=float(state.paused_until or 0.0),
            pause_reason=state.pause_reason or "",
            pause_kind=state.pause_kind or "",
        )
    for sh, n, oldest in session.execute(
        select(Dirty.store_hash, func.count(), func.min(Dirty.first_seen))
        .where(Dirty.store_hash.in_(list(stores)))
        .group_by(Dirty.store_hash)
    ):
        facts[sh].update(dirty=int(n), oldest_dirty_at=float(oldest or 0.0))
    for sh, n in session.execute(
        select(FailedTask.store_hash, func.count())
        .where(FailedTask.status == "failed", FailedTask.store_hash.in_(list(stores)))
        .group_by(FailedTask.store_hash)
    ):
        facts[sh]["failed"] = int(n)
    for budget in session.scalars(
        select(RateBudget).where(RateBudget.api == "bigcommerce", RateBudget.store_hash.in_(list(stores)))
    ):
        if budget.observed_at:
            facts[budget.store_hash].update(
                quota=int(budget.quota),
                quota_left=int(budget.left),
                quota_window_reset_at=float(budget.window_reset_at or 0.0),
                quota_seen_at=float(budget.observed_at),
            )
    return {sh: StoreFacts(**values) for sh, values in facts.items()}


# --- incidents (compare-and-set) -------------------------------------------------------------


@dataclass(frozen=True)
class IncidentRow:
    key: str
    is_open: bool
    version: int
    opened_at: float
    closed_at: float
    changed_at: float
    value: float
    detail: str


def incidents(session: Session) -> dict[str, IncidentRow]:
    return {
        row.key: IncidentRow(
            row.key,
            bool(row.is_open),
            int(row.version),
            row.opened_at,
            row.closed_at,
            row.changed_at,
            row.value,
            row.detail,
        )
        for row in session.scalars(select(Incident))
    }


def ensure_incident(session: Session, key: str, value: float = 0.0) -> None:
    """A closed row for a condition never seen before (no-op when it exists)."""
    ins = insert_for(session)(Incident).values(
        key=key,
        is_open=False,
        version=0,
        opened_at=0.0,
        closed_at=0.0,
        changed_at=0.0,
        value=value,
        detail="",
    )
    session.execute(ins.on_conflict_do_nothing(index_elements=[Incident.key]))


def change_incident(session: Session, key: str, seen_version: int, **values: Any) -> bool:
    """Compare-and-set: apply `values` only if the row is still at `seen_version`. True if this call
    changed it (this evaluator won the transition and sends its message), False if another did."""
    done = rowcount(
        session.execute(
            update(Incident)
            .where(Incident.key == key, Incident.version == seen_version)
            .values(version=seen_version + 1, **values)
        )
    )
    return bool(done)


# --- the outbox ------------------------------------------------------------------------------


def queue_message(session: Session, incident: str, payload: dict[str, Any], now: float) -> None:
    session.add(
        AlertOutbox(
            incident=incident,
            payload=payload,
            created_at=now,
            attempts=0,
            next_attempt_at=now,
            lease_until=0.0,
            sent_at=None,
        )
    )


def take_due_messages(session: Session, now: float, lease: float, limit: int = 20) -> list[AlertOutbox]:
    """Unsent messages due now, taken for `lease` seconds by compare-and-set on their lease (a second
    sender skips them), oldest first (an incident's alert before its recovery)."""
    due = list(
        session.scalars(
            select(AlertOutbox)
            .where(
                AlertOutbox.sent_at.is_(None),
                AlertOutbox.next_attempt_at <= now,
                AlertOutbox.lease_until < now,
            )
            .order_by(AlertOutbox.id)
            .limit(limit)
        )
    )
    taken = []
    for msg in due:
        won = rowcount(
            session.execute(
                update(AlertOutbox)
                .where(AlertOutbox.id == msg.id, AlertOutbox.sent_at.is_(None), AlertOutbox.lease_until < now)
                .values(lease_until=now + lease, attempts=AlertOutbox.attempts + 1)
            )
        )
        if won:
            session.refresh(msg)
            taken.append(msg)
    return taken


def message_sent(session: Session, message_id: int, now: float) -> None:
    session.execute(
        update(AlertOutbox).where(AlertOutbox.id == message_id).values(sent_at=now, last_error=None)
    )


def message_failed(session: Session, message_id: int, error: str, retry_at: float) -> None:
    session.execute(
        update(AlertOutbox)
        .where(AlertOutbox.id == message_id)
        .values(next_attempt_at=retry_at, lease_until=0.0, last_error=error[:2000])
    )


def sent_messages(session: Session) -> list[dict[str, Any]]:
    return [
        dict(m.payload) for m in session.scalars(select(AlertOutbox).where(AlertOutbox.sent_at.is_not(None)))
    ]


def pending_messages(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(AlertOutbox).where(AlertOutbox.sent_at.is_(None)))
        or 0
    )


def prune(session: Session, now: float, keep_seconds: float = 7 * 86400.0) -> int:
    """Forget processes silent for a week (each restart is a new host:pid row) and messages sent a
    week ago; the rows of deployments still running stay."""
    old = now - keep_seconds
    gone = rowcount(session.execute(delete(Heartbeat).where(Heartbeat.last_seen < old)))
    return gone + rowcount(session.execute(delete(AlertOutbox).where(AlertOutbox.sent_at < old)))


# --- one transaction each, by database URL (workers.ops.liveness) ----------------------------


def health_facts(url: str, reserves: dict[str, int]) -> tuple[list[ProcessSeen], dict[str, StoreFacts]]:
    """In one transaction: the processes seen and each store's facts (`reserves`: store -> rate reserve)."""
    with session_scope(url) as s:
        return processes(s), store_facts(s, reserves)


@dataclass
class IncidentChange:
    """One planned compare-and-set on an incident row: `version` is the version seen (0 for a row
    not there yet, created first), `values` what it becomes, `message` the payload to queue when
    this change wins (None: nothing queued)."""

    key: str
    version: int
    values: dict[str, Any]
    create: bool = False
    message: dict[str, Any] | None = field(default=None)


def change_incidents(
    url: str, plan: Callable[[dict[str, IncidentRow]], Sequence[IncidentChange]], now: float
) -> list[bool]:
    """In one transaction: read the incidents, let `plan` decide the changes from them, and apply
    each by compare-and-set, queueing its message in the same transaction when it wins. Returns, for
    each planned change in order, whether this call made it (False: another evaluator did first)."""
    with session_scope(url) as s:
        won: list[bool] = []
        for change in plan(incidents(s)):
            if change.create:
                ensure_incident(s, change.key)
            if not change_incident(s, change.key, change.version, **change.values):
                won.append(False)
                continue
            if change.message is not None:
                queue_message(s, change.key, change.message, now)
            won.append(True)
        return won


def take_due(url: str, now: float, lease: float) -> list[tuple[int, int, dict[str, Any]]]:
    """`take_due_messages` in its own transaction: (id, attempts, payload) of each message taken."""
    with session_scope(url) as s:
        return [(m.id, m.attempts, dict(m.payload)) for m in take_due_messages(s, now, lease)]


def mark_sent(url: str, message_id: int, now: float) -> None:
    with session_scope(url) as s:
        message_sent(s, message_id, now)


def mark_failed(url: str, message_id: int, error: str, retry_at: float) -> None:
    with session_scope(url) as s:
        message_failed(s, message_id, error, retry_at)
