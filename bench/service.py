"""The whole service running for a benchmark: a sandbox (simulated BigCommerce store and Ometria account,
in this process), and web (gunicorn) + worker (celery) + beat as real processes on PostgreSQL + Redis
(tests.harness.Stack, as tests/integration/test_end_to_end.py runs them). Plus the two things every
benchmark needs: the first load of the catalogue into Ometria, and waiting for quiescence (no callback
queued or in flight, no dirty row, and the sandbox Ometria equal to the mapping of the store, record for
record).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from bench.common import Backend, backend, say
from sandbox.client import SandboxClient
from sandbox.server import Sandbox, start_sandbox
from tests.harness import Stack, drift, expected_records, service_env
from workers.store import storage
from workers.store.storage import session_scope


@dataclass
class Service:
    sandbox: Sandbox
    stack: Stack
    backend: Backend
    client: SandboxClient
    var_dir: Path

    @property
    def db_url(self) -> str:
        return self.backend.db_url

    def dirty(self) -> int:
        """Dirty rows left; waits out a database restart (something else on the machine may do that)."""
        for attempt in range(60):
            try:
                with session_scope(self.db_url) as s:
                    return sum(storage.dirty_counts(s).values())
            except OperationalError:
                if attempt == 59:
                    raise
                time.sleep(1)
        raise AssertionError("unreachable")

    def check_alive(self) -> None:
        """Raise (with the log's tail) if web, worker or beat has exited: the figures would mean nothing."""
        for name, proc in self.stack.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the {name} process exited ({proc.returncode}) during the benchmark; "
                    f"its log ends:\n{self.stack.logs(name)[-2500:]}"
                )

    def drift(self) -> list[str]:
        return drift(expected_records(self.client.snapshot()), self.client.records())


@contextmanager
def running_service(
    var_dir: Path,
    *,
    products: int,
    seed: int = 7,
    plan: str = "standard",
    window_seconds: float = 30.0,
    push_rate: float = 8.0,
    env: dict[str, str] | None = None,
    web_workers: int = 2,
    worker_concurrency: int = 2,
    beat: bool = True,
) -> Iterator[Service]:
    with ExitStack() as stack_ctx:
        say(f"generating a sandbox store of {products:,} products (plan {plan}, {window_seconds:g} s window)")
        sb = start_sandbox(
            products=products, seed=seed, plan=plan, window_seconds=window_seconds, push_rate=push_rate
        )
        stack_ctx.callback(sb.stop)
        be = stack_ctx.enter_context(backend(var_dir))
        service_vars = {
            "SYNC_DEBOUNCE_SECONDS": "2",
            "SYNC_LEASE_SECONDS": "120",
            "OMETRIA_PUSH_RATE": "4",
            **(env or {}),
        }
        full_env = service_env(
            bc_url=sb.bc_url,
            ometria_url=sb.ometria_url,
            db_url=be.db_url,
            broker_url=be.broker_url,
            var_dir=var_dir,
            queue=f"bench-{uuid.uuid4().hex[:8]}",
            **service_vars,
        )
        stack = Stack(env=full_env, var_dir=var_dir)
        stack_ctx.callback(stack.stop)
        say(
            f"starting web (gunicorn, {web_workers} workers x 4 threads), worker (celery, concurrency "
            f"{worker_concurrency}){' and beat' if beat else ''} on {be.label}"
        )
        stack.start_web(workers=web_workers)
        stack.start_worker(concurrency=worker_concurrency)
        if beat:
            stack.start_beat()
        yield Service(sandbox=sb, stack=stack, backend=be, client=sb.client(), var_dir=var_dir)


def wait_quiet(
    service: Service, timeout: float, started: float | None = None, interval: float = 0.2
) -> dict[str, Any]:
    """Poll until every callback is delivered, nothing is dirty and Ometria equals the store.
    Returns {"quiet_at", "delivered_at", "drift"} (times from `started`, monotonic clock)."""
    started = time.monotonic() if started is None else started
    deadline = started + timeout
    delivered_at: float | None = None
    problems: list[str] = ["not checked"]
    last_note = time.monotonic()
    while time.monotonic() < deadline:
        service.check_alive()
        stats = service.client.deliveries()
        idle = not stats.get("queued") and not stats.get("in_flight")
        if idle and delivered_at is None:
            delivered_at = time.monotonic() - started
        if not idle:
            delivered_at = None
        if idle and service.dirty() == 0:
            at = time.monotonic() - started
            problems = service.drift()
            if not problems:
                return {"quiet_at": at, "delivered_at": delivered_at, "drift": []}
        if time.monotonic() - last_note > 10:
            last_note = time.monotonic()
            say(
                f"  ... {time.monotonic() - started:.0f} s: callbacks queued {stats.get('queued')}, "
                f"delivered {stats.get('delivered')}, dirty rows {service.dirty()}"
            )
        time.sleep(interval)
    return {"quiet_at": None, "delivered_at": delivered_at, "drift": problems}


def initial_load(service: Service, timeout: float = 900) -> float:
    """`bcsync resync all` (a separate process), then wait until Ometria equals the store. Seconds taken."""
    started = time.monotonic()
    out = service.stack.bcsync("resync", "all", check=False, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"bcsync resync all failed ({out.returncode}): {out.stderr[-2000:]}")
    quiet = wait_quiet(service, timeout=120)
    if quiet["quiet_at"] is None:
        raise RuntimeError(
            f"after the first load Ometria differs from the store: {quiet['drift'][:5]}\n"
            f"{service.stack.logs('worker')[-3000:]}"
        )
    return time.monotonic() - started


def catalogue_calls(counters: dict[str, Any]) -> dict[str, Any]:
    """BigCommerce API calls split into product (catalogue) calls, the fixed lookups, and the rest."""
    product = lookups = other = 0
    by_status: dict[str, int] = {}
    for key, per_status in counters.get("calls", {}).items():
        n = sum(per_status.values())
        for code, k in per_status.items():
            by_status[code] = by_status.get(code, 0) + k
        endpoint = key.split(" ", 1)[-1]
        if endpoint.startswith("/catalog/products"):
            product += n
        elif (
            endpoint.startswith(
                ("/catalog/trees", "/catalog/categories", "/catalog/brands", "/channels", "/store")
            )
            or endpoint.endswith(("/store", "/currencies"))
            or endpoint in ("/pricelists", "/pricelists/assignments")
        ):
            lookups += n
        else:
            other += n
    return {
        "product": product,
        "lookups": lookups,
        "other": other,
        "total": product + lookups + other,
        "status_429": by_status.get("429", 0),
        "by_endpoint": counters.get("calls", {}),
    }
