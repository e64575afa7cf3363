"""Shared pieces of the benchmarks: progress lines, percentiles, the databases and brokers they run on,
the real service started as processes (tests.harness), and the results file.

Production-like configuration: PostgreSQL + Redis (tests.services). When either is not reachable the
benchmarks fall back to the embedded default (SQLite + file-backed broker) and say so in the table.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "var" / "bench" / "results.json"
WORK = REPO / "var" / "bench"
STANDARD_QUOTA, STANDARD_WINDOW = 150, 30.0  # BigCommerce Standard/Plus plan: 150 requests per 30 s
OMETRIA_REAL_RATE = 4.0  # Ometria push requests per second to plan for (FACTS.md)

_T0 = time.monotonic()


def say(message: str) -> None:
    """A progress line on stderr (the table goes to stdout)."""
    tenths = int((time.monotonic() - _T0) * 10)
    minutes, tenths = divmod(tenths, 600)
    print(f"[bench {minutes:02d}:{tenths // 10:02d}.{tenths % 10}] {message}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def work_dir(name: str) -> Path:
    """A fresh directory under var/bench/ for one run's logs and files."""
    path = WORK / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Backend:
    db_url: str
    broker_url: str
    label: str  # what the table says, e.g. "PostgreSQL + Redis"


@contextmanager
def backend(var_dir: Path, prefer: str = "postgres-redis") -> Iterator[Backend]:
    """PostgreSQL (a fresh database, dropped afterwards) + Redis, or the embedded default."""
    if prefer == "postgres-redis":
        from tests.services import REDIS_URL, reachable

        if _reachable_soon(reachable):
            with fresh_database() as db:
                broker = f"{REDIS_URL}/{uuid.uuid4().int % 14 + 1}"
                try:
                    yield Backend(db, broker, "PostgreSQL + Redis")
                finally:
                    _flush_redis_db(broker, REDIS_URL)
            return
        say("PostgreSQL or Redis not reachable on 127.0.0.1: falling back to SQLite + file broker")
    yield Backend(f"sqlite:///{var_dir / 'bcsync.db'}", "filesystem://", "SQLite + file broker (embedded)")


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (tests.services' server), dropped afterwards — retrying the drop
    for a while, since something else on this machine may be restarting PostgreSQL."""
    from sqlalchemy import create_engine, text

    from tests.services import PG_ADMIN_URL
    from workers.store.storage import get_engine

    name = f"bcsync_bench_{uuid.uuid4().hex[:10]}"
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url
    finally:
        get_engine(url).dispose()
        for attempt in range(30):
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                break
            except Exception as exc:
                if attempt == 29:
                    say(f"could not drop database {name}: {type(exc).__name__}")
                time.sleep(2)
        admin.dispose()


def _reachable_soon(reachable: Callable[[str, int], bool], wait: float = 30.0) -> bool:
    """PostgreSQL and Redis both answer (waiting a little: a restart elsewhere may be in progress)."""
    deadline = time.monotonic() + wait
    while True:
        if reachable("127.0.0.1", 5432) and reachable("127.0.0.1", 6379):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(1)


def _flush_redis_db(broker: str, base: str) -> None:
    """Forget the wake-ups this run left in its Redis database (a random db 1..14 of the local Redis)."""
    if broker == base:
        return
    try:
        import redis

        client = redis.Redis.from_url(broker)
        client.flushdb()
        client.close()
    except Exception as exc:  # best effort: the queue name is unique to the run anyway
        say(f"could not clean Redis db {broker.rsplit('/', 1)[-1]}: {type(exc).__name__}")


def postgres_started_at() -> str | None:
    """When the local PostgreSQL server last started (None if unreachable): a benchmark compares it before
    and after, to say when something else on the machine restarted the database during the run."""
    try:
        import psycopg

        from tests.services import PG_ADMIN_URL

        dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            row = conn.execute("SELECT pg_postmaster_start_time()::text").fetchone()
            return str(row[0]) if row else None
    except Exception:
        return None


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "at": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def save_results(results: dict[str, Any]) -> Path:
    """Merge this run's benchmarks into var/bench/results.json (a benchmark run alone replaces its own)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    previous: dict[str, Any] = {}
    if RESULTS.exists():
        try:
            previous = json.loads(RESULTS.read_text())
        except ValueError:
            previous = {}
    previous.update(results)
    RESULTS.write_text(json.dumps(previous, indent=2, sort_keys=True, default=str) + "\n")
    return RESULTS
