"""Helpers for the fault-injection suite (tests/reliability/test_reliability.py): stopping and starting the
real PostgreSQL / Redis / RabbitMQ, a running stack (sandbox + gunicorn + Celery worker + beat) per case,
storms fired in the background, settling, and the per-product tally of the closing table.

Every outage is a context manager that starts the service again in `finally` and waits until it
accepts connections, whatever happened inside.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from sandbox.client import SandboxClient
from sandbox.server import Sandbox, start_sandbox
from tests.harness import Stack, drift, expected_records, service_env, wait_until
from tests.services import fresh_pg_database, rabbit_url, reachable, redis_url
from workers.store import storage
from workers.store.migrate import upgrade
from workers.store.storage import Dirty, FailedTask, session_scope

REPO = Path(__file__).resolve().parents[1]
RESTART_TIMEOUT = 60.0


# --- the services --------------------------------------------------------------------------------


def _run(*argv: str, timeout: float = 60) -> None:
    subprocess.run(list(argv), check=True, capture_output=True, timeout=timeout)


def _pg_cluster() -> str:
    return sorted(os.listdir("/etc/postgresql"))[-1]


def postgres_ready() -> bool:
    return (
        subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432"], capture_output=True).returncode == 0
    )


def redis_ready() -> bool:
    return (
        subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True, text=True
        ).stdout.strip()
        == "PONG"
    )


def rabbit_ready() -> bool:
    if not reachable("127.0.0.1", 5672):
        return False
    import kombu

    try:
        with kombu.Connection(rabbit_url(), connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


def stop_postgres() -> None:
    _run("pg_ctlcluster", "--skip-systemctl-redirect", _pg_cluster(), "main", "stop", "-m", "fast")


def start_postgres() -> None:
    if not postgres_ready():
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", _pg_cluster(), "main", "start"],
            capture_output=True,
            timeout=60,
        )
    wait_until(postgres_ready, RESTART_TIMEOUT, interval=0.2, what="PostgreSQL to accept connections")


def stop_redis() -> None:
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], capture_output=True, timeout=30)
    wait_until(lambda: not redis_ready(), 15, interval=0.1, what="Redis to stop")


def start_redis() -> None:
    if not redis_ready():
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "-::1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                "/var/lib/redis",
                "--logfile",
                "/var/log/redis/ci.log",
            ],
            capture_output=True,
            timeout=30,
        )
    wait_until(redis_ready, RESTART_TIMEOUT, interval=0.2, what="Redis to accept connections")


def stop_rabbit() -> None:
    _run("rabbitmqctl", "stop_app", timeout=120)


def start_rabbit() -> None:
    subprocess.run(["rabbitmqctl", "start_app"], capture_output=True, timeout=120)
    wait_until(rabbit_ready, RESTART_TIMEOUT, interval=0.3, what="RabbitMQ to accept connections")


SERVICES = {
    "postgres": (stop_postgres, start_postgres),
    "redis": (stop_redis, start_redis),
    "rabbitmq": (stop_rabbit, start_rabbit),
}


@contextmanager
def outage(service: str) -> Iterator[dict[str, float]]:
    """Stop `service`; always start it again on the way out and wait until it answers.
    Yields a dict that receives "stopped_at", then "down_seconds" once it is back."""
    stop, start = SERVICES[service]
    times: dict[str, float] = {}
    try:
        stop()
        times["stopped_at"] = time.monotonic()
        yield times
    finally:
        start()
        if "stopped_at" in times:
            times["down_seconds"] = round(time.monotonic() - times["stopped_at"], 1)


# --- the stack -----------------------------------------------------------------------------------


@dataclass
class Running:
    stack: Stack
    sb: Sandbox
    client: SandboxClient
    db: str
    broker: str
    workers: list[str] = field(default_factory=lambda: ["worker"])

    def worker_logs(self) -> str:
        return "".join(f"--- {name} ---\n{self.stack.logs(name)[-3000:]}\n" for name in self.workers)

    def restart_worker(self) -> str:
        """A fresh worker process under a new name (its own log file, a real wait for 'ready')."""
        name = f"worker{len(self.workers) + 1}"
        self.stack.start_worker(name)
        self.workers.append(name)
        return name

    def current_worker(self) -> str:
        return self.workers[-1]


@contextmanager
def running(
    tmp_path: Path,
    broker: str,
    *,
    products: int = 200,
    seed: int = 11,
    time_scale: float = 0.02,
    beat: bool = True,
    workers: int = 1,
    **env_extra: str,
) -> Iterator[Running]:
    """A sandbox, a fresh PostgreSQL database, the broker ("redis" or "rabbitmq"), gunicorn, a worker
    (and beat), hooks registered, and the whole catalogue loaded into the sandbox Ometria."""
    with ExitStack() as ctx:
        sb = start_sandbox(
            products=products, seed=seed, plan="standard", window_seconds=3, time_scale=time_scale
        )
        ctx.callback(sb.stop)
        db = ctx.enter_context(fresh_pg_database())
        broker_url = redis_url() if broker == "redis" else rabbit_url()
        env = {
            "SYNC_LEASE_SECONDS": "10",
            "SYNC_SWEEP_SECONDS": "2",
            "SYNC_RECONCILE_SECONDS": "3600",
            "SYNC_HOOKS_CHECK_SECONDS": "3600",
            "SYNC_ERRORS_SECONDS": "3600",
            "SYNC_DEBOUNCE_SECONDS": "0.5",
            **env_extra,
        }
        stack = Stack(
            env=service_env(
                bc_url=sb.bc_url,
                ometria_url=sb.ometria_url,
                db_url=db,
                broker_url=broker_url,
                var_dir=tmp_path,
                queue=f"bcsync-rel-{uuid.uuid4().hex[:8]}",
                **env,
            ),
            var_dir=tmp_path,
        )
        ctx.callback(stack.stop)
        ctx.callback(stop_all, stack)
        upgrade(db)  # once, here: the processes started side by side must not race to migrate
        run = Running(
            stack=stack,
            sb=sb,
            client=sb.client(),
            db=db,
            broker=broker,
            workers=["worker", *(f"worker{n}" for n in range(2, workers + 1))],
        )
        with ThreadPoolExecutor(max_workers=4 + workers) as pool:
            starting = [
                pool.submit(stack.start_web),
                *(pool.submit(stack.start_worker, name) for name in run.workers),
                pool.submit(stack.bcsync, "resync", "all", check=False),
            ]
            if beat:
                starting.append(pool.submit(stack.start_beat))
            results = [f.result() for f in starting]
        loaded = results[1 + workers]
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        sb.register_hooks(stack.hook_url)
        settle(run, timeout=60)
        yield run


def stop_all(stack: Stack, wait: float = 15.0) -> None:
    """SIGTERM every process at once, then wait (SIGKILL what is still there after `wait` s)."""
    procs = dict(stack.procs)
    for proc in procs.values():
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    for name, proc in procs.items():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        stack.procs.pop(name, None)


# --- watching the database -----------------------------------------------------------------------


def claimed_rows(db: str) -> int:
    """Dirty rows a flush holds right now (claimed, lease not expired)."""
    with session_scope(db) as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Dirty)
                .where(Dirty.claimed_by.is_not(None), Dirty.lease_until > time.time())
            )
            or 0
        )


def claim_tokens(db: str) -> set[str]:
    """The claim tokens (one per flush batch) holding rows right now."""
    with session_scope(db) as s:
        return set(
            s.scalars(
                select(Dirty.claimed_by)
                .where(Dirty.claimed_by.is_not(None), Dirty.lease_until > time.time())
                .distinct()
            )
        )


def dirty_total(db: str) -> int:
    with session_scope(db) as s:
        return sum(storage.dirty_counts(s).values())


def failed_entries(db: str) -> list[FailedTask]:
    """Every failed-list entry, whatever its status (failed, replayed, discarded)."""
    with session_scope(db) as s:
        return list(s.scalars(select(FailedTask).order_by(FailedTask.id)))


# --- storms --------------------------------------------------------------------------------------


class BackgroundStorm:
    """Storms of `chunk` callbacks fired every `every` seconds from a thread until `callbacks` are
    fired or `stop()`; each chunk a different seed, so different products change each time."""

    def __init__(
        self,
        client: SandboxClient,
        callbacks: int,
        products: int,
        chunk: int = 50,
        every: float = 0.5,
        seed: int = 100,
    ) -> None:
        self.client = SandboxClient(client.bc_url, client.ometria_url)  # its own HTTP session
        self.callbacks, self.products, self.chunk, self.every, self.seed = (
            callbacks,
            products,
            chunk,
            every,
            seed,
        )
        self.fired = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="storm", daemon=True)

    def __enter__(self) -> BackgroundStorm:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        i = 0
        while self.fired < self.callbacks and not self._stop.is_set():
            n = min(self.chunk, self.callbacks - self.fired)
            try:
                out = self.client.storm(callbacks=n, products=min(self.products, n), seed=self.seed + i)
                self.fired += int(out["callbacks"])
            except Exception as exc:  # reported by the test, never silently
                self.errors.append(repr(exc))
                return
            i += 1
            self._stop.wait(self.every)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self, timeout: float = 120) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the storm did not finish"
        assert not self.errors, self.errors

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def end(self) -> int:
        """Stop it now (it must still have been running) and return the callbacks it fired."""
        assert not self.done, "the storm had already ended"
        self.stop()
        assert not self.errors, self.errors
        return self.fired


# --- settling and counting -----------------------------------------------------------------------


def settle(run: Running, timeout: float = 90, allow_failed: bool = True) -> float:
    """Wait until every callback is delivered, nothing is dirty and Ometria equals the store.
    Returns the seconds it took; on timeout raises AssertionError with the drift and the logs."""
    started = time.monotonic()
    client = run.client

    def quiet() -> bool:
        if not client.wait_deliveries(timeout=2).get("idle"):
            return False
        if dirty_total(run.db):
            return False
        return not drift(expected_records(client.snapshot()), client.records())

    try:
        wait_until(quiet, timeout, interval=0.5, what="Ometria to equal the store")
    except AssertionError:
        problems = drift(expected_records(client.snapshot()), client.records())
        kept = keep_evidence(run, problems)
        raise AssertionError(
            f"not settled after {timeout}s: {len(problems)} differences, e.g. {problems[:5]}; "
            f"deliveries {client.deliveries()}; logs and the state of the products concerned in {kept}\n"
            f"{run.worker_logs()}\n--- web ---\n{run.stack.logs('web')[-2000:]}"
        ) from None
    return round(time.monotonic() - started, 1)


def keep_evidence(run: Running, problems: list[str]) -> Path:
    """Copy the processes' logs to var/reliability-logs/<case>/ (pytest's tmp dirs do not last) with
    what the database and the sandbox say about each product that differs."""
    case = os.environ.get("PYTEST_CURRENT_TEST", "case").split(" ")[0].rsplit("::", 1)[-1]
    out = REPO / "var" / "reliability-logs" / "".join(c if c.isalnum() or c in "-_[]" else "_" for c in case)
    out.mkdir(parents=True, exist_ok=True)
    for log in run.stack.var_dir.glob("*.log"):
        shutil.copy(log, out / log.name)
    ids = sorted({int(product_of(p.split(":", 1)[0].split(".", 1)[0])) for p in problems})[:20]
    with session_scope(run.db) as s:
        dirty = [
            {
                c: getattr(r, c)
                for c in (
                    "entity_id",
                    "version",
                    "reason",
                    "claimed_by",
                    "claimed_version",
                    "lease_until",
                    "not_before",
                    "attempts",
                    "last_error",
                    "last_seen",
                )
            }
            for r in s.scalars(select(Dirty).where(Dirty.entity_id.in_(ids)))
        ]
        ledger = [
            {"record_id": r.record_id, "fingerprint": r.fingerprint, "pushed_at": r.pushed_at}
            for r in s.scalars(select(storage.Ledger).where(storage.Ledger.product_id.in_(ids)))
        ]
    events = [
        e
        for e in run.client.events().get("events", [])
        if int((e.get("data") or {}).get("id", -1)) in ids
        or int(((e.get("data") or {}).get("sku") or {}).get("product_id", -1)) in ids
        or int(((e.get("data") or {}).get("inventory") or {}).get("product_id", -1)) in ids
    ]
    evidence = {
        "now": time.time(),
        "problems": problems[:50],
        "dirty": dirty,
        "ledger": ledger,
        "events": events[-100:],
        "deliveries": run.client.deliveries(),
    }
    (out / "evidence.json").write_text(json.dumps(evidence, indent=2, default=str))
    return out


def product_of(record_id: str) -> str:
    return record_id.split("-", 1)[0]


def tally(expected: dict[str, dict], stored: dict[str, dict]) -> tuple[int, int, list[str]]:
    """(products expected, products correct, ids of products lost): a product is correct when every
    one of its records (parent and variants) is in Ometria as the mapping says, and nothing of it
    that is gone is still active there."""
    wrong = {product_of(p.split(":", 1)[0].split(".", 1)[0]) for p in drift(expected, stored)}
    products = {product_of(rid) for rid in expected}
    return len(products), len(products - wrong), sorted(wrong, key=lambda i: (len(i), i))


@dataclass
class CaseResult:
    fault: str
    broker: str
    events_sent: int
    products_expected: int
    products_correct: int
    lost: int
    failed_entries: int
    seconds: float
    notes: str = ""

    def line(self) -> str:
        return (
            f"{self.fault} [{self.broker}]: events sent {self.events_sent}, products expected "
            f"{self.products_expected}, correct {self.products_correct}, lost {self.lost}, failed-list "
            f"entries {self.failed_entries}, {self.seconds:.0f}s{' — ' + self.notes if self.notes else ''}"
        )


HEADERS = (
    "fault",
    "broker",
    "events sent",
    "products expected",
    "products correct",
    "lost",
    "failed-list entries",
    "seconds",
    "notes",
)


def table(results: list[CaseResult]) -> str:
    rows = [
        [
            r.fault,
            r.broker,
            str(r.events_sent),
            str(r.products_expected),
            str(r.products_correct),
            str(r.lost),
            str(r.failed_entries),
            f"{r.seconds:.0f}",
            r.notes,
        ]
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(HEADERS)]
    out = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    out += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in rows]
    return "\n".join(out)


def write_json(results: list[CaseResult], path: Path = REPO / "var" / "reliability.json") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return path


def fired(client: SandboxClient) -> int:
    return int(client.deliveries()["fired"])


def by_status(client: SandboxClient) -> dict[str, Any]:
    return dict(client.deliveries()["by_status"])
