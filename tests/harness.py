"""Runs the real thing for end-to-end tests and benchmarks: gunicorn + Celery worker (+ beat)
as subprocesses against a sandbox, and compares the sandbox Ometria with the expected mapping."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workers import settings as S
from workers.domain.mapping import MappingContext, deactivation, default_store_id, map_product
from workers.settings import Settings, StoreConfig

BIN = Path(sys.executable).parent


def sandbox_settings(
    bc_url: str, ometria_url: str, db_url: str, var_dir: Path
) -> tuple[Settings, StoreConfig]:
    """(Settings, StoreConfig) of the sandbox store for an in-process Syncer: the sandbox's credentials,
    Ometria pushes at 50/s, the file broker (no worker runs)."""
    store = StoreConfig(
        store_hash=S.SANDBOX_STORE_HASH,
        access_token=S.SANDBOX_ACCESS_TOKEN,
        webhook_secret=S.SANDBOX_WEBHOOK_SECRET,
        api_url=bc_url,
        ometria_api_key=S.SANDBOX_OMETRIA_KEY,
        ometria_api_url=ometria_url,
        ometria_push_rate=50,
    )
    settings = Settings(
        stores={store.store_hash: store}, database_url=db_url, broker_url="filesystem://", var_dir=var_dir
    )
    return settings, store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    pred: Callable[[], Any], timeout: float, interval: float = 0.25, what: str = "condition"
) -> Any:
    deadline = time.time() + timeout
    last: Any = None
    while time.time() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def service_env(
    *,
    bc_url: str,
    ometria_url: str,
    db_url: str,
    broker_url: str,
    var_dir: Path,
    queue: str = "bcsync",
    **extra: str,
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BIGCOMMERCE_", "OMETRIA_", "SYNC_"))}
    env.update(
        {
            "BIGCOMMERCE_STORE_HASH": S.SANDBOX_STORE_HASH,
            "BIGCOMMERCE_ACCESS_TOKEN": S.SANDBOX_ACCESS_TOKEN,
            "BIGCOMMERCE_CLIENT_SECRET": S.SANDBOX_CLIENT_SECRET,
            "WEBHOOK_SECRET": S.SANDBOX_WEBHOOK_SECRET,
            "BIGCOMMERCE_API_URL": bc_url,
            "OMETRIA_API_KEY": S.SANDBOX_OMETRIA_KEY,
            "OMETRIA_API_URL": ometria_url,
            "OMETRIA_PUSH_RATE": "20",
            "DATABASE_URL": db_url,
            "CELERY_BROKER_URL": broker_url,
            "BCSYNC_VAR_DIR": str(var_dir),
            "BCSYNC_QUEUE": queue,
            "BCSYNC_ENV_FILE": str(var_dir / "none.env"),
            "SYNC_DEBOUNCE_SECONDS": "0.5",
            "SYNC_LEASE_SECONDS": "15",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@dataclass
class Stack:
    """web (gunicorn), worker (celery) and optionally beat, each a real process."""

    env: dict[str, str]
    var_dir: Path
    port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hook_url(self) -> str:
        return f"{self.web_url}/webhooks/bigcommerce"

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.var_dir / f"{name}.log", "ab")  # noqa: SIM115 — lives as long as the process
        proc = subprocess.Popen(
            argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=os.getcwd(), start_new_session=True
        )
        self.procs[name] = proc
        return proc

    def start_web(self, workers: int = 2) -> None:
        self._spawn(
            "web",
            [
                str(BIN / "gunicorn"),
                "--workers",
                str(workers),
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{self.port}",
                "consumer.wsgi:app",
            ],
        )
        import requests

        wait_until(lambda: _ok(requests, f"{self.web_url}/healthz"), 30, what="gunicorn")

    def start_worker(self, name: str = "worker", concurrency: int = 2) -> subprocess.Popen:
        proc = self._spawn(
            name,
            [
                str(BIN / "celery"),
                "-A",
                "workers.celery_app",
                "worker",
                "--queues",
                self.env["BCSYNC_QUEUE"],
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "info",
                "--hostname",
                f"{name}-{self.port}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
        )
        wait_until(lambda: b"ready" in (self.var_dir / f"{name}.log").read_bytes(), 60, what=f"{name} ready")
        return proc

    def start_beat(self) -> None:
        self._spawn(
            "beat",
            [
                str(BIN / "celery"),
                "-A",
                "workers.celery_app",
                "beat",
                "--loglevel",
                "info",
                "--schedule",
                str(self.var_dir / "beat-schedule"),
            ],
        )

    def bcsync(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "bcsync"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(30)

    def stop(self) -> None:
        for name in list(self.procs):
            proc = self.procs[name]
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            self.procs.pop(name, None)

    def logs(self, name: str) -> str:
        path = self.var_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _ok(requests: Any, url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


# --- what Ometria should hold ------------------------------------------------------------------


def expected_records(snapshot: dict, store_id: str = "") -> dict[str, dict]:
    """The Ometria records the store's current state maps to (DESIGN.md's table, workers.domain.mapping)."""
    site = str(snapshot["site_url"]).rstrip("/")
    ctx = MappingContext(
        currency=snapshot["currency"],
        site_url=site,
        store_id=store_id or default_store_id(site),
        category_names={int(c.get("category_id", c.get("id"))): c["name"] for c in snapshot["categories"]},
        brand_names={int(b["id"]): b["name"] for b in snapshot["brands"]},
    )
    out: dict[str, dict] = {}
    for product in snapshot["products"]:
        for record in map_product(product, ctx):
            out[record["id"]] = record
    return out


def drift(expected: dict[str, dict], stored: dict[str, dict]) -> list[str]:
    """Differences between what Ometria holds and what it should: [] when equal, record for record.
    A stored record that is not expected must be inactive (a product or variant that is gone)."""
    problems = []
    for rid, want in expected.items():
        have = stored.get(rid)
        if have is None:
            problems.append(f"{rid}: missing in Ometria")
            continue
        for key, value in want.items():
            if key.startswith("@"):
                continue
            if have.get(key) != value:
                problems.append(f"{rid}.{key}: Ometria has {have.get(key)!r}, store says {value!r}")
    for rid, have in stored.items():
        if rid not in expected and have.get("is_active") is not False:
            problems.append(f"{rid}: gone from the store but still active in Ometria")
    return problems


__all__ = ["Stack", "service_env", "expected_records", "drift", "wait_until", "free_port", "deactivation"]
