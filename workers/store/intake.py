"""Recording acknowledged callbacks: the receiver's hot path, one transaction per group of callbacks.

For each callback: remember its webhook id (replay protection), mark its ids dirty and log it in
the event log (scope, store, ids, webhook id, time: one `events` row per id, no secret); a callback
whose webhook id its store saw before — in the database, or earlier in the same group — writes
nothing. A webhook id is remembered per store as the SHA-256 of the whole id (`webhook_digest`): two
stores may send the same id, and ids of any length never collide.
On PostgreSQL the whole group is one statement in autocommit on a connection the caller keeps: one
round trip, one commit, whatever the group's size (in a busy web process every round trip also
waits for the GIL). On SQLite it is one `BEGIN IMMEDIATE` transaction through SQLAlchemy.

Errors surface as SQLAlchemy's DBAPIError subclasses on both (so callers handle one family); a
PostgreSQL connection the server dropped (a restart) is replaced and the statement rerun once — it
is atomic, so a failed attempt wrote nothing.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from workers.store.dirty import DIRTY_UPSERT, VERSION_BUMP
from workers.store.engine import get_engine, postgres_url
from workers.store.events import EVENT_INSERT
from workers.store.state import WEBHOOK_INSERT, webhook_digest

STATEMENT_TIMEOUT_MS = 8000  # under consumer.webhooks.group_commit's wait: a stuck statement fails, not hangs


@dataclass(frozen=True)
class Callback:
    """One acknowledged callback's change, as the receiver records it."""

    store_hash: str
    entity: str
    ids: tuple[int, ...]
    webhook_id: str | None = None
    scope: str = ""  # for the event log: store/product/updated, …

    @cached_property
    def digest(self) -> str | None:
        """The webhook id's fixed-length digest, as `seen_webhooks` keeps it (None: no id)."""
        return webhook_digest(self.webhook_id) if self.webhook_id is not None else None

    @property
    def shown_id(self) -> str | None:
        """The webhook id as the event log shows it (its first 128 characters)."""
        return self.webhook_id[:128] if self.webhook_id is not None else None

    @property
    def key(self) -> tuple[str, str] | None:
        """What makes a replay: the same webhook id for the same store."""
        digest = self.digest
        return (self.store_hash, digest) if digest is not None else None


class Recorder:
    """Records groups of callbacks, one group at a time (consumer.webhooks.group_commit's leader), keeping
    its PostgreSQL connection between groups. Calling it returns, per callback, True when it was recorded
    and False for a replayed webhook id."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection[Any] | None = None
        self._pid = 0

    def __call__(self, callbacks: Sequence[Callback]) -> list[bool]:
        first = _first_of_each_id(callbacks)
        todo = [cb for cb, is_first in zip(callbacks, first, strict=True) if is_first]
        write = self._write_sqlite if self.url.startswith("sqlite") else self._write_postgres
        seen = write(todo, time.time()) if todo else set()
        return [is_first and cb.key not in seen for cb, is_first in zip(callbacks, first, strict=True)]

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def _write_sqlite(self, callbacks: Sequence[Callback], now: float) -> set[tuple[str, str]]:
        seen: set[tuple[str, str]] = set()
        with get_engine(self.url).begin() as conn:
            for cb in callbacks:
                if cb.key is not None:
                    params = {"store_hash": cb.store_hash, "digest": cb.digest, "now": now}
                    if conn.execute(WEBHOOK_INSERT, params).first() is None:
                        seen.add(cb.key)
            recorded = [cb for cb in callbacks if cb.key not in seen]
            rows = _dirty_rows(recorded, now)
            if rows:
                conn.execute(DIRTY_UPSERT, rows)
                conn.execute(EVENT_INSERT, _event_rows(recorded, now))
        return seen

    def _write_postgres(self, callbacks: Sequence[Callback], now: float) -> set[tuple[str, str]]:
        params = _postgres_params(callbacks, now)
        for attempt in (1, 2):
            try:
                conn = self._connection()
                return {(row[0], row[1]) for row in conn.execute(RECORD_POSTGRES, params)}
            except psycopg.Error as exc:
                dropped = self._conn is not None and self._conn.broken
                if dropped:
                    self.close()
                    if attempt == 1:
                        continue  # a connection the server had dropped: the rerun gets a fresh one
                raise DBAPIError.instance(
                    "record callbacks", None, exc, psycopg.Error, hide_parameters=True
                ) from exc
        raise AssertionError("unreachable")

    def _connection(self) -> psycopg.Connection[Any]:
        if self._pid != os.getpid():  # forked (gunicorn): the parent's connection is not ours
            self._conn, self._pid = None, os.getpid()
        if self._conn is None or self._conn.closed:
            conninfo = make_url(postgres_url(self.url)).set(drivername="postgresql")
            self._conn = psycopg.connect(
                conninfo.render_as_string(hide_password=False),
                autocommit=True,
                connect_timeout=5,
                options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            )
        return self._conn


def _first_of_each_id(callbacks: Sequence[Callback]) -> list[bool]:
    """False for a callback whose store and webhook id an earlier one in the group carries."""
    ids: set[tuple[str, str]] = set()
    first: list[bool] = []
    for cb in callbacks:
        first.append(cb.key is None or cb.key not in ids)
        if cb.key is not None:
            ids.add(cb.key)
    return first


def _dirty_rows(callbacks: Iterable[Callback], now: float) -> list[dict[str, Any]]:
    """The group's rows, each key once, in key order: concurrent groups lock rows in the same order,
    so they never deadlock."""
    keys = sorted({(cb.store_hash, cb.entity, int(i)) for cb in callbacks for i in cb.ids})
    return [
        {"store_hash": h, "entity": e, "entity_id": i, "reason": "webhook", "now": now} for h, e, i in keys
    ]


def _event_rows(callbacks: Iterable[Callback], now: float) -> list[dict[str, Any]]:
    return [
        {
            "store_hash": cb.store_hash,
            "at": now,
            "kind": "callback",
            "entity": cb.entity,
            "entity_id": int(i),
            "ref": cb.shown_id,
            "detail": json.dumps({"scope": cb.scope}, separators=(",", ":")),
        }
        for cb in callbacks
        for i in dict.fromkeys(cb.ids)
    ]


# The group travels as one JSON parameter (one row per callback and id: webhook id's digest, store,
# entity, id, scope, the webhook id as the event log shows it — cheaper to send than arrays). The
# (store, digest) pairs go in first; only rows of callbacks whose pair was new (or that carry no id) are
# upserted, each key once and in key order (one statement never touches a row twice; concurrent groups
# lock rows in the same order), and logged in `events` (one row per callback and id). Answers the
# (store, digest) pairs seen before.
RECORD_POSTGRES = (  # VERSION_BUMP is a constant, no input (S608)
    "WITH cb AS (SELECT * FROM json_to_recordset(%(group)s::json)"  # noqa: S608
    "   AS t(w text, s text, e text, i bigint, c text, r text)),"
    " fresh AS (INSERT INTO seen_webhooks (store_hash, digest, received_at)"
    "   SELECT DISTINCT s, w, %(now)s::float8 FROM cb WHERE w IS NOT NULL"
    "   ON CONFLICT (store_hash, digest) DO NOTHING RETURNING store_hash, digest),"
    " marked AS (INSERT INTO dirty (store_hash, entity, entity_id, version, reason, first_seen, last_seen,"
    "   not_before, attempts)"
    "   SELECT DISTINCT s, e, i, 1, 'webhook', %(now)s::float8, %(now)s::float8, 0.0, 0 FROM cb"
    "   WHERE w IS NULL OR (s, w) IN (SELECT store_hash, digest FROM fresh)"
    "   ORDER BY s, e, i"
    "   ON CONFLICT (store_hash, entity, entity_id)"
    f"   DO UPDATE SET {VERSION_BUMP}),"
    " logged AS (INSERT INTO events (store_hash, at, kind, entity, entity_id, ref, detail)"
    "   SELECT s, %(now)s::float8, 'callback', e, i, r, json_build_object('scope', c) FROM cb"
    "   WHERE w IS NULL OR (s, w) IN (SELECT store_hash, digest FROM fresh))"
    " SELECT DISTINCT s, w FROM cb"
    " WHERE w IS NOT NULL AND (s, w) NOT IN (SELECT store_hash, digest FROM fresh)"
)


def _postgres_params(callbacks: Sequence[Callback], now: float) -> dict[str, Any]:
    rows = [
        {"w": cb.digest, "s": cb.store_hash, "e": cb.entity, "i": int(i), "c": cb.scope, "r": cb.shown_id}
        for cb in callbacks
        for i in dict.fromkeys(cb.ids)
    ]
    return {"group": json.dumps(rows, separators=(",", ":")), "now": now}
