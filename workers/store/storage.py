"""State kept in the database, which is the source of truth: dirty rows, the ledger, failures.

- `dirty`: one row per store + entity + id that may be stale in Ometria. A webhook upserts it and
  bumps `version`; a flush claims rows (a lease), and releases a row only if its version is still
  the one it fetched, so a change arriving mid-flush survives the flush.
- `ledger`: per Ometria record id, the fingerprint Ometria last accepted.
- `failed_tasks`: what kept failing, with the error, for ops to replay or discard.
- `seen_webhooks`: Standard Webhooks ids already recorded (replay protection).
- `store_state` and `rate_budget`: per-store lookups cache, pause, sweep watermark and the shared
  BigCommerce request budget.
Times are float unix seconds: portable between SQLite and PostgreSQL, no time-zone traps.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

PRODUCT = "product"
CATEGORY = "category"


class Base(DeclarativeBase):
    pass


class Dirty(Base):
    __tablename__ = "dirty"
    store_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    entity: Mapped[str] = mapped_column(String(16), primary_key=True)
    entity_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str] = mapped_column(String(32), default="webhook")
    first_seen: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    not_before: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_dirty_claimable", "store_hash", "entity", "lease_until", "not_before"),)


class Ledger(Base):
    __tablename__ = "ledger"
    store_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    product_id: Mapped[int] = mapped_column(BigInteger, index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    pushed_at: Mapped[float] = mapped_column(Float)
    # the category ids of the parent record Ometria holds, as ",12,15," (NULL: none, or a variant):
    # products of a deleted category no longer show in BigCommerce's categories:in, but here.
    categories: Mapped[str | None] = mapped_column(Text, nullable=True)


class FailedTask(Base):
    __tablename__ = "failed_tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_hash: Mapped[str] = mapped_column(String(64), index=True)
    task: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(16))
    entity_ids: Mapped[list[int]] = mapped_column(JSON)
    record_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # transient | permanent | configuration
    error: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_failed_at: Mapped[float] = mapped_column(Float)
    last_failed_at: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="failed", index=True)  # failed|replayed|discarded


class SeenWebhook(Base):
    __tablename__ = "seen_webhooks"
    webhook_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    store_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[float] = mapped_column(Float, index=True)


class BeatRun(Base):
    """When each beat schedule entry last ran: shared by every beat, so the schedule survives a restart
    and two beats running at once (a rolling deploy) run each entry once per interval."""

    __tablename__ = "beat_runs"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[float] = mapped_column(Float)
    beat: Mapped[str] = mapped_column(String(128))  # host:pid of the beat that ran it


class Heartbeat(Base):
    """The last sign of life of each long-running process (beat ticks; workers)."""

    __tablename__ = "heartbeats"
    part: Mapped[str] = mapped_column(String(16), primary_key=True)  # worker | beat
    process: Mapped[str] = mapped_column(String(128), primary_key=True)  # host:pid
    last_seen: Mapped[float] = mapped_column(Float, index=True)


class StoreState(Base):
    __tablename__ = "store_state"
    store_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    lookups: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    lookups_at: Mapped[float] = mapped_column(Float, default=0.0)
    last_sweep_at: Mapped[float] = mapped_column(Float, default=0.0)
    paused_until: Mapped[float] = mapped_column(Float, default=0.0)
    pause_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    flush_due_at: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    seen_errors: Mapped[list[str] | None] = mapped_column(
        JSON, nullable=True
    )  # Ometria _errors already filed


class RateBudget(Base):
    __tablename__ = "rate_budget"
    store_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    api: Mapped[str] = mapped_column(String(16), primary_key=True)
    quota: Mapped[int] = mapped_column(Integer, default=150)
    left: Mapped[int] = mapped_column(Integer, default=150)
    window_reset_at: Mapped[float] = mapped_column(Float, default=0.0)
    paused_until: Mapped[float] = mapped_column(Float, default=0.0)
    in_flight: Mapped[int] = mapped_column(Integer, default=0)
    slots: Mapped[list[list[Any]] | None] = mapped_column(JSON, nullable=True)  # [token, started] in flight


class AdminSession(Base):
    """A signed-in admin page session, by the SHA-256 of its random id (the cookie holds the id)."""

    __tablename__ = "admin_sessions"
    sid_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)
    last_seen_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class AuthFailure(Base):
    """Wrong admin tokens (login form or bearer header) per client address, in a fixed window."""

    __tablename__ = "auth_failures"
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[float] = mapped_column(Float, index=True)
    failures: Mapped[int] = mapped_column(Integer)


# --- engine and sessions -------------------------------------------------------------------


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below), pysqlite must not
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE takes the write lock up front: two processes never deadlock upgrading a read lock.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        postgres_url(url),
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"connect_timeout": 5},
    )


def postgres_url(url: str) -> str:
    """postgres:// and postgresql:// mean psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@lru_cache(maxsize=8)
def _sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any error."""
    session = _sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def ping(url: str) -> None:
    with get_engine(url).connect() as conn:
        conn.execute(text("SELECT 1"))


# --- dirty rows ----------------------------------------------------------------------------


# Plain SQL that SQLite and PostgreSQL both accept, so that the statement is compiled once and
# cached (SQLAlchemy does not cache its dialect `on_conflict_*` constructs): the webhook hot path.
DIRTY_UPSERT = text(
    "INSERT INTO dirty (store_hash, entity, entity_id, version, reason, first_seen, last_seen, not_before,"
    " attempts) VALUES (:store_hash, :entity, :entity_id, 1, :reason, :now, :now, 0, 0)"
    " ON CONFLICT (store_hash, entity, entity_id)"
    " DO UPDATE SET version = dirty.version + 1, last_seen = excluded.last_seen, not_before = 0"
)
WEBHOOK_INSERT = text(
    "INSERT INTO seen_webhooks (webhook_id, store_hash, received_at) VALUES (:webhook_id, :store_hash, :now)"
    " ON CONFLICT (webhook_id) DO NOTHING RETURNING webhook_id"
)


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
        .where(Dirty.store_hash == store_hash, Dirty.entity == entity, Dirty.not_before <= now)
        .where((Dirty.lease_until.is_(None)) | (Dirty.lease_until < now))
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
        select(Dirty.entity_id, Dirty.claimed_version).where(
            Dirty.store_hash == store_hash,
            Dirty.entity == entity,
            Dirty.entity_id.in_(ids),
            Dirty.claimed_by == token,
        )
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
    owned = session.scalars(
        select(Dirty.entity_id).where(
            Dirty.store_hash == store_hash,
            Dirty.entity == entity,
            Dirty.entity_id.in_(unique),
            Dirty.claimed_by == token,
        )
    )
    return {int(i) for i in owned}


def release_done(session: Session, store_hash: str, entity: str, token: str, ids: Sequence[int]) -> int:
    """Delete the claimed rows whose version did not move during the flush; rows that changed
    meanwhile are unclaimed so the next flush takes them again. Returns the rows deleted."""
    if not ids:
        return 0
    keys = (
        Dirty.store_hash == store_hash,
        Dirty.entity == entity,
        Dirty.entity_id.in_(list(ids)),
        Dirty.claimed_by == token,
    )
    done = session.execute(delete(Dirty).where(*keys, Dirty.version == Dirty.claimed_version)).rowcount
    session.execute(
        update(Dirty).where(*keys).values(claimed_by=None, claimed_version=None, lease_until=None)
    )
    return int(done or 0)


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
        .where(
            Dirty.store_hash == store_hash,
            Dirty.entity == entity,
            Dirty.entity_id.in_(list(ids)),
            Dirty.claimed_by == token,
        )
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
            Dirty.store_hash == store_hash,
            Dirty.entity == entity,
            Dirty.not_before <= now,
            (Dirty.lease_until.is_(None)) | (Dirty.lease_until < now),
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
    q = (
        select(Dirty.store_hash)
        .where(Dirty.not_before <= now)
        .where((Dirty.lease_until.is_(None)) | (Dirty.lease_until < now))
        .distinct()
    )
    return list(session.scalars(q))


# --- ledger --------------------------------------------------------------------------------


def ledger_for_products(
    session: Session, store_hash: str, product_ids: Sequence[int]
) -> dict[str, tuple[int, str]]:
    """{record_id: (product_id, fingerprint)} for every record ever pushed for these products."""
    out: dict[str, tuple[int, str]] = {}
    ids = list(product_ids)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(Ledger.record_id, Ledger.product_id, Ledger.fingerprint).where(
                Ledger.store_hash == store_hash, Ledger.product_id.in_(ids[start : start + 500])
            )
        )
        out.update({r: (int(p), f) for r, p, f in rows})
    return out


def pushed_since(session: Session, store_hash: str, product_ids: Sequence[int], since: float) -> set[int]:
    """Products with a ledger row written after `since`."""
    return set(
        session.scalars(
            select(Ledger.product_id).where(
                Ledger.store_hash == store_hash,
                Ledger.product_id.in_(list(product_ids)),
                Ledger.pushed_at > since,
            )
        )
    )


LEDGER_UPSERT = text(
    "INSERT INTO ledger (store_hash, record_id, product_id, fingerprint, is_active, pushed_at, categories)"
    " VALUES (:store_hash, :record_id, :product_id, :fingerprint, :is_active, :now, :categories)"
    " ON CONFLICT (store_hash, record_id) DO UPDATE SET fingerprint = excluded.fingerprint,"
    " is_active = excluded.is_active, pushed_at = excluded.pushed_at, product_id = excluded.product_id,"
    " categories = excluded.categories"
)


def record_pushed(
    session: Session,
    store_hash: str,
    entries: Sequence[tuple[str, int, str, bool]],
    now: float | None = None,
    categories: Mapping[str, Sequence[int]] | None = None,
) -> None:
    """Upsert ledger rows (record_id, product_id, fingerprint, is_active) Ometria accepted, with
    the category ids of the parent records among them (`categories`, by record id)."""
    if not entries:
        return
    now = time.time() if now is None else now
    cats = categories or {}
    rows = [
        {
            "store_hash": store_hash,
            "record_id": r,
            "product_id": p,
            "fingerprint": f,
            "is_active": bool(a),
            "now": now,
            "categories": "," + ",".join(str(int(c)) for c in cats[r]) + "," if cats.get(r) else None,
        }
        for r, p, f, a in entries
    ]
    session.connection().execute(LEDGER_UPSERT, rows)


def products_in_categories(session: Session, store_hash: str, category_ids: Iterable[int]) -> set[int]:
    """Products whose record in Ometria (per the ledger) is in any of these categories."""
    ids = sorted({int(c) for c in category_ids})
    found: set[int] = set()
    for start in range(0, len(ids), 50):
        matches = [Ledger.categories.like(f"%,{c},%") for c in ids[start : start + 50]]
        query = select(Ledger.product_id).where(Ledger.store_hash == store_hash, or_(*matches)).distinct()
        found.update(int(p) for p in session.scalars(query))
    return found


def forget_records(session: Session, store_hash: str, record_ids: Sequence[str]) -> None:
    """Drop ledger rows so the next flush pushes these records again (used by verify --fix)."""
    session.execute(
        delete(Ledger).where(Ledger.store_hash == store_hash, Ledger.record_id.in_(list(record_ids)))
    )


# --- webhook ids ---------------------------------------------------------------------------


def remember_webhook(session: Session, webhook_id: str, store_hash: str, now: float | None = None) -> bool:
    """True the first time a webhook id is seen, False for a replay (within the retention)."""
    now = time.time() if now is None else now
    params = {"webhook_id": webhook_id[:128], "store_hash": store_hash, "now": now}
    return session.connection().execute(WEBHOOK_INSERT, params).first() is not None


def prune_webhooks(session: Session, older_than: float) -> int:
    return int(session.execute(delete(SeenWebhook).where(SeenWebhook.received_at < older_than)).rowcount or 0)


# --- beat schedule and heartbeats ----------------------------------------------------------


def beat_runs(session: Session, names: Iterable[str], now: float) -> dict[str, float]:
    """Each entry's last run; an entry no beat has seen yet is entered as run `now` (first run after
    one interval, as celery's own scheduler does)."""
    names = list(names)
    for name in names:
        ins = _insert(session)(BeatRun).values(name=name, last_run_at=now, beat="")
        session.execute(ins.on_conflict_do_nothing(index_elements=[BeatRun.name]))
    rows = session.execute(select(BeatRun.name, BeatRun.last_run_at).where(BeatRun.name.in_(names)))
    return {name: float(at) for name, at in rows}


def claim_beat_run(session: Session, name: str, seen: float, now: float, beat: str) -> float | None:
    """Take the run of `name` that is due after `seen` (compare-and-set): None if this beat took it,
    else the last run another beat recorded meanwhile."""
    taken = session.execute(
        update(BeatRun)
        .where(BeatRun.name == name, BeatRun.last_run_at == seen)
        .values(last_run_at=now, beat=beat)
    ).rowcount
    if taken:
        return None
    return float(session.execute(select(BeatRun.last_run_at).where(BeatRun.name == name)).scalar_one())


def record_heartbeat(session: Session, part: str, process: str, now: float) -> None:
    ins = _insert(session)(Heartbeat).values(part=part, process=process, last_seen=now)
    session.execute(
        ins.on_conflict_do_update(index_elements=[Heartbeat.part, Heartbeat.process], set_={"last_seen": now})
    )


# --- store state ---------------------------------------------------------------------------


def store_state(session: Session, store_hash: str) -> StoreState:
    state = session.get(StoreState, store_hash)
    if state is None:
        ins = _insert(session)(StoreState).values(
            store_hash=store_hash, lookups_at=0.0, last_sweep_at=0.0, paused_until=0.0, flush_due_at=0.0
        )
        session.execute(ins.on_conflict_do_nothing(index_elements=[StoreState.store_hash]))
        state = session.get(StoreState, store_hash)
    assert state is not None
    return state


def create_budget_row(session: Session, store_hash: str, api: str, quota: int) -> None:
    """Insert a budget row unless another process just did."""
    ins = _insert(session)(RateBudget).values(
        store_hash=store_hash,
        api=api,
        quota=quota,
        left=quota,
        window_reset_at=0.0,
        paused_until=0.0,
        in_flight=0,
    )
    session.execute(ins.on_conflict_do_nothing(index_elements=[RateBudget.store_hash, RateBudget.api]))


# --- failed tasks --------------------------------------------------------------------------


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
    """Add to the failed list, or bump the open entry for the same task + ids + record."""
    now = time.time() if now is None else now
    ids = sorted(int(i) for i in entity_ids)
    open_entries = session.scalars(
        select(FailedTask).where(
            FailedTask.store_hash == store_hash,
            FailedTask.task == task,
            FailedTask.status == "failed",
            FailedTask.entity == entity,
            FailedTask.record_id.is_(None) if record_id is None else FailedTask.record_id == record_id,
        )
    )
    for entry in open_entries:
        if sorted(entry.entity_ids) == ids:
            entry.attempts += attempts
            entry.last_failed_at = now
            entry.error, entry.traceback, entry.kind = error, traceback, kind
            return entry
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
    return entry
