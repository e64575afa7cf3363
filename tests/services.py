"""Real services for tests: a fresh PostgreSQL database, a Redis db, a RabbitMQ queue per run.

PostgreSQL, Redis and RabbitMQ run on 127.0.0.1 on this machine and in CI (.ci/run starts them).
Outside CI a missing service skips the tests that need it, saying why; in CI it fails them.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

PG_ADMIN_URL = os.environ.get("BCSYNC_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BCSYNC_TEST_REDIS", "redis://127.0.0.1:6379")
RABBIT_URL = os.environ.get("BCSYNC_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need(host: str, port: int, name: str) -> None:
    if reachable(host, port):
        return
    if os.environ.get("CI"):
        pytest.fail(f"{name} is not reachable on {host}:{port} (.ci/run should have started it)")
    pytest.skip(f"{name} is not running on {host}:{port}")


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; dropped afterwards."""
    need("127.0.0.1", 5432, "PostgreSQL")
    name = f"bcsync_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        from workers.store.storage import get_engine

        get_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}").dispose()  # close our pool before the drop
        for attempt in range(3):  # a test that restarts PostgreSQL may have just cut this connection
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                break
            except OperationalError:
                if attempt == 2:
                    raise
                time.sleep(2)
        admin.dispose()


def redis_url() -> str:
    need("127.0.0.1", 6379, "Redis")
    return f"{REDIS_URL}/{uuid.uuid4().int % 14 + 1}"


def rabbit_url() -> str:
    need("127.0.0.1", 5672, "RabbitMQ")
    return RABBIT_URL
