"""Shared fixtures: databases (SQLite and a fresh PostgreSQL database), migrated."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services import fresh_pg_database
from workers.store.migrate import upgrade


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        upgrade(url)
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'bcsync.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """Each test that takes `db_url` runs on the embedded default and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bcsync.db'}"
        upgrade(url)
        return url
    url = request.getfixturevalue("pg_url")
    from workers.store.storage import Base, session_scope

    with session_scope(url) as s:  # the session database is shared: start each test empty
        for table in reversed(Base.metadata.sorted_tables):
            s.execute(table.delete())
    return url
