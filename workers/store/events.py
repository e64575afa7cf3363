"""The event log: what BigCommerce told us about each product and what became of it.

One row per event and entity id (`events` table): an accepted callback (scope, webhook id), a flush
that fetched the product (batch id, the BigCommerce call, its records changed / unchanged), a push
that carried its records (Ometria's request id, accepted / rejected), a failure, a replay, a resync.
Store-wide events (pause, resume, a configuration failure) have no entity id and show in every
product's timeline of that store. No secret is ever written here: callers put ids, counts, scopes
and error messages that the clients already redacted.

Rows are kept `EVENTS_RETENTION_DAYS` and pruned by the `prune` task. The receiver writes its rows
inside its own group-commit statement (workers.store.intake), not through this module.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert, or_, select, text
from sqlalchemy.orm import Session

from workers.store.engine import rowcount
from workers.store.models import Event

CALLBACK = "callback"
FLUSH = "flush"
PUSH = "push"
FAILURE = "failure"
REPLAY = "replay"
RESYNC = "resync"
PAUSE = "pause"
RESUME = "resume"
KINDS = (CALLBACK, FLUSH, PUSH, FAILURE, REPLAY, RESYNC, PAUSE, RESUME)

REF_CHARS = 128

# The receiver's SQLite path (workers.store.intake): plain SQL, compiled once and cached.
EVENT_INSERT = text(
    "INSERT INTO events (store_hash, at, kind, entity, entity_id, ref, detail)"
    " VALUES (:store_hash, :at, :kind, :entity, :entity_id, :ref, :detail)"
)


def insert_events(
    session: Session,
    store_hash: str,
    kind: str,
    entity: str | None,
    ids: Sequence[int],
    ref: str | None,
    detail: Mapping[str, Any] | None,
    now: float | None = None,
) -> None:
    """Event rows: one per id, or one store-wide row without ids."""
    log_event(session, store_hash, kind, entity=entity, ids=ids, ref=ref, detail=detail, now=now)


def log_event(
    session: Session,
    store_hash: str,
    kind: str,
    *,
    entity: str | None = None,
    ids: Iterable[int] = (),
    ref: str | None = None,
    detail: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> int:
    """Add one event: a row per id, or one store-wide row when `ids` is empty. Returns rows written."""
    now = time.time() if now is None else now
    unique = list(dict.fromkeys(int(i) for i in ids))
    base = {
        "store_hash": store_hash,
        "at": now,
        "kind": kind,
        "entity": entity,
        "ref": ref[:REF_CHARS] if ref else None,
        "detail": dict(detail) if detail else None,
    }
    rows = [{**base, "entity_id": i} for i in unique] or [{**base, "entity": None, "entity_id": None}]
    session.execute(insert(Event), rows)
    return len(rows)


def log_events(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Add many rows at once, each a mapping of Event's columns (store_hash, at, kind, entity,
    entity_id, ref, detail): a flush logs one row per product with its own counts."""
    if not rows:
        return 0
    clean = [{**r, "ref": (str(r["ref"])[:REF_CHARS] if r.get("ref") else None)} for r in rows]
    for start in range(0, len(clean), 500):
        session.execute(insert(Event), clean[start : start + 500])
    return len(clean)


def events_for(
    session: Session,
    store_hash: str,
    entity: str,
    entity_id: int,
    since: float | None = None,
    limit: int = 1000,
) -> list[Event]:
    """The entity's events and the store-wide ones (pauses, resumes), oldest first: the newest
    `limit` of them when there are more."""
    q = select(Event).where(
        Event.store_hash == store_hash,
        or_((Event.entity == entity) & (Event.entity_id == int(entity_id)), Event.entity_id.is_(None)),
    )
    if since is not None:
        q = q.where(Event.at >= since)
    rows = list(session.scalars(q.order_by(Event.at.desc(), Event.id.desc()).limit(limit)))
    rows.reverse()
    return rows


def recent(session: Session, store_hash: str, since: float | None = None, limit: int = 200) -> list[Event]:
    """The store's latest events, oldest first."""
    q = select(Event).where(Event.store_hash == store_hash)
    if since is not None:
        q = q.where(Event.at >= since)
    rows = list(session.scalars(q.order_by(Event.at.desc(), Event.id.desc()).limit(limit)))
    rows.reverse()
    return rows


def ever_mentioned(session: Session, store_hash: str, entity: str, entity_id: int) -> bool:
    """Whether the log holds any event of this entity (within the retention)."""
    q = select(Event.id).where(
        Event.store_hash == store_hash, Event.entity == entity, Event.entity_id == int(entity_id)
    )
    return session.execute(q.limit(1)).first() is not None


def prune_events(session: Session, older_than: float) -> int:
    return rowcount(session.execute(delete(Event).where(Event.at < older_than)))
