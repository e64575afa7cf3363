"""The engine and sessions: one engine per URL (SQLite in WAL mode with BEGIN IMMEDIATE; PostgreSQL
through psycopg 3), `session_scope` for one transaction; what callers outside `workers.store`
need to know of the database without importing SQLAlchemy (`DatabaseError`, `is_rerunnable`,
`safe_url`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from sqlalchemy import create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Engine, Result, make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

DatabaseError = SQLAlchemyError
"""Any failure of the database layer (unreachable, timed out, refused): what the shells catch."""

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


_ENGINES: list[Engine] = []


def _forget_pools_after_fork() -> None:
    """A forked child (a Celery pool process started after the parent used the database, e.g. from
    its heartbeat thread) must not share the parent's pooled connections: new pools, parent's kept."""
    for engine in _ENGINES:
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_pools_after_fork)


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite:/// URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1] if "///" in url else ""
    return Path(path) if path and path != ":memory:" else None


def create_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite database file: only `bcsync db upgrade` and the processes
    bringing a fresh database to the latest migration do (workers.store.migrate.upgrade)."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """The engine of a database URL. Creates no folder (SQLite itself creates a missing file in an
    existing folder on first connect: callers that must not, check `sqlite_path` first)."""
    engine = _make_engine(url)
    _ENGINES.append(engine)
    return engine


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
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


def insert_for(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def ping(url: str) -> None:
    with get_engine(url).connect() as conn:
        conn.execute(text("SELECT 1"))


def is_rerunnable(exc: BaseException) -> bool:
    """A deadlock or serialization failure: the transaction was rolled back and may simply be rerun."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return isinstance(exc, OperationalError) and code in ("40P01", "40001")


def safe_url(url: str) -> str:
    """The database URL with its password hidden (only its scheme when it does not parse)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show only its scheme
        return url.split(":", 1)[0] + ":…"


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched: for such a statement the result is a `CursorResult`,
    which has `rowcount`."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)
