"""Bring a database to the latest Alembic migration (`bcsync db upgrade`, and every process on start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from workers.store.storage import create_sqlite_folder, get_engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Idempotent; safe to call from several processes at once (PostgreSQL: advisory lock). Creates
    a SQLite file and its folder when missing (`bcsync db upgrade`, processes on start)."""
    create_sqlite_folder(url)
    engine = get_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_advisory_lock(741852)")
            try:
                command.upgrade(alembic_config(url), "head")
            finally:
                conn.exec_driver_sql("SELECT pg_advisory_unlock(741852)")
                conn.commit()
    else:
        command.upgrade(alembic_config(url), "head")


def revisions(url: str) -> tuple[str | None, str | None]:
    """(the database's current Alembic revision — None when empty —, the head of the migrations)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision(), head
