"""Deployed as a user deploys it: a fresh clone of HEAD in an empty directory (no var/, nothing the
developer's tree has), the Procfile's own commands, production settings (PostgreSQL + Redis).

The clone runs this test's virtualenv (its packages are the clone's: PYTHONPATH puts the clone first),
so what is tested is what is committed; uncommitted changes in a developer's tree are not in it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from sandbox.server import Sandbox, start_sandbox
from tests.harness import free_port, wait_until
from tests.services import fresh_pg_database, redis_url
from workers import settings as S
from workers.store.storage import BeatRun, session_scope

pytestmark = [pytest.mark.services, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def procfile(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            out[name.strip()] = command.strip()
    return out


@dataclass
class Deploy:
    """A fresh clone and the Procfile's processes, started as a platform starts them (`sh -c`)."""

    clone: Path
    env: dict[str, str]
    logs: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def commands(self) -> dict[str, str]:
        return procfile(self.clone / "Procfile")

    def run(self, name: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["sh", "-c", self.commands[name]],
            cwd=self.clone,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, name: str, process_type: str | None = None) -> subprocess.Popen:
        out = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 — lives as long as the process
        proc = subprocess.Popen(
            ["sh", "-c", "exec " + self.commands[process_type or name]],
            cwd=self.clone,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


@contextlib.contextmanager
def deployed(tmp_path: Path, sb: Sandbox, **extra: str) -> Iterator[Deploy]:
    """A fresh clone of HEAD with production settings: PostgreSQL, Redis, the store's credentials.
    BCSYNC_VAR_DIR is left unset, as a platform leaves it: local state would go to ./var of the clone."""
    clone = tmp_path / "app"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    assert not (clone / "var").exists()
    logs = tmp_path / "logs"
    logs.mkdir()
    with fresh_pg_database() as db:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BIGCOMMERCE_", "OMETRIA_", "SYNC_"))}
        env.pop("BCSYNC_VAR_DIR", None)
        env.update(
            {
                "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
                "PYTHONPATH": str(clone),
                "PYTHONUNBUFFERED": "1",
                "PORT": str(free_port()),
                "DATABASE_URL": db,
                "CELERY_BROKER_URL": redis_url(),
                "BCSYNC_QUEUE": f"bcsync-{uuid.uuid4().hex[:8]}",
                "BIGCOMMERCE_STORE_HASH": S.SANDBOX_STORE_HASH,
                "BIGCOMMERCE_ACCESS_TOKEN": S.SANDBOX_ACCESS_TOKEN,
                "BIGCOMMERCE_CLIENT_SECRET": S.SANDBOX_CLIENT_SECRET,
                "WEBHOOK_SECRET": S.SANDBOX_WEBHOOK_SECRET,
                "BIGCOMMERCE_API_URL": sb.bc_url,
                "OMETRIA_API_KEY": S.SANDBOX_OMETRIA_KEY,
                "OMETRIA_API_URL": sb.ometria_url,
                "OMETRIA_PUSH_RATE": "20",
                "SYNC_DEBOUNCE_SECONDS": "0.5",
            }
        )
        env.update(extra)
        deploy = Deploy(clone=clone, env=env, logs=logs)
        try:
            yield deploy
        finally:
            deploy.stop_all()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = start_sandbox(products=40, seed=11, plan="standard")
    try:
        yield sb
    finally:
        sb.stop()


def _untracked(clone: Path) -> list[str]:
    out = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if line.strip()]


def test_a_fresh_clone_runs_the_procfile_on_postgresql_and_redis(tmp_path: Path, sandbox: Sandbox) -> None:
    """release, web, worker and beat from an empty directory: beat stays up, its date_modified sweep
    runs, and a change that fires no webhook (a custom field) reaches Ometria through it."""
    with deployed(tmp_path, sandbox, SYNC_RECONCILE_SECONDS="3") as app:
        release = app.run("release")
        assert release.returncode == 0, release.stderr[-2000:]
        app.start("web")
        app.start("worker")
        app.start("beat")
        port = app.env["PORT"]
        import requests

        def ready() -> bool:
            with contextlib.suppress(requests.RequestException):
                return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
            return False

        wait_until(ready, 60, what=f"web ready\n{app.log('web')[-2000:]}")
        load = subprocess.run(
            ["bcsync", "resync", "all"],
            cwd=app.clone,
            env=app.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert load.returncode == 0, load.stdout[-2000:] + load.stderr[-2000:]
        product = sandbox.store.snapshot()["products"][0]["id"]
        sandbox.store.set_custom_field(product, "found_by", "the sweep")  # fires no callback

        def arrived() -> bool:
            record = sandbox.client().records().get(str(product)) or {}
            return (record.get("properties") or {}).get("found_by") == "the sweep"

        wait_until(arrived, 60, what=f"the swept change in Ometria\n--- beat ---\n{app.log('beat')[-3000:]}")
        for name in ("web", "worker", "beat"):
            assert app.procs[name].poll() is None, f"{name} exited:\n{app.log(name)[-3000:]}"
        assert "beat raised exception" not in app.log("beat")
        assert _untracked(app.clone) == [], "a process wrote local state into the clone"


def _queued_tasks(r: redis.Redis, queue: str) -> list[str]:
    """Take every message waiting in the Redis queue (no worker runs) and return its task names."""
    names = []
    while (raw := r.lpop(queue)) is not None:
        names.append(json.loads(raw)["headers"]["task"])
    return names


def test_two_beats_at_once_run_each_entry_once_per_interval(tmp_path: Path, sandbox: Sandbox) -> None:
    """A rolling deploy overlaps two beats: every scheduled task is still sent once per interval."""
    interval = 2.0
    with deployed(
        tmp_path,
        sandbox,
        SYNC_SWEEP_SECONDS=str(interval),
        SYNC_RECONCILE_SECONDS=str(interval),
        SYNC_ERRORS_SECONDS=str(interval),
    ) as app:
        assert app.run("release").returncode == 0
        r = redis.Redis.from_url(app.env["CELERY_BROKER_URL"])
        queue = app.env["BCSYNC_QUEUE"]
        app.start("beat-1", "beat")
        app.start("beat-2", "beat")
        wait_until(lambda: "Sending due task" in app.log("beat-1") + app.log("beat-2"), 30, what="a beat run")
        _queued_tasks(r, queue)  # start counting from a clean queue
        window = 10 * interval
        seen: list[tuple[float, str]] = []
        end = time.time() + window
        while time.time() < end:
            now = time.time()
            seen += [(now, t) for t in _queued_tasks(r, queue)]
            time.sleep(0.1)
        for name in ("beat-1", "beat-2"):
            assert app.procs[name].poll() is None, f"{name} exited:\n{app.log(name)[-3000:]}"
        logs = app.log("beat-1") + app.log("beat-2")
        assert "already sent by another beat" in logs  # both beats were really competing
        for task in ("workers.tasks.sweep_dirty", "workers.tasks.reconcile_modified"):
            times = [t for t, name in seen if name == task]
            # one beat alone sends window / interval runs; two beats sending each would send twice that
            assert window / interval - 2 <= len(times) <= window / interval + 1, (task, len(times))
            gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
            assert min(gaps) > interval / 2, (task, gaps)


def test_a_restarted_beat_goes_on_where_the_schedule_was(tmp_path: Path, sandbox: Sandbox) -> None:
    """The schedule is in the database: a new beat (a new container, no local file) knows when each
    entry last ran, here the hourly prune, last run 58 minutes ago → due in about two minutes, not
    an hour after the restart."""
    with deployed(tmp_path, sandbox) as app:
        assert app.run("release").returncode == 0
        app.start("beat")
        wait_until(lambda: "schedule read from the database" in app.log("beat"), 30, what="beat up")
        app.stop("beat")
        db = app.env["DATABASE_URL"]
        with session_scope(db) as s:
            runs = {row.name: row.last_run_at for row in s.query(BeatRun)}
            assert {"sweep-dirty", "prune", "nightly-resync"} <= set(runs)
            s.query(BeatRun).filter(BeatRun.name == "prune").update({"last_run_at": time.time() - 3600 + 4})
        r = redis.Redis.from_url(app.env["CELERY_BROKER_URL"])
        _queued_tasks(r, app.env["BCSYNC_QUEUE"])
        started = time.time()
        app.start("beat-again", "beat")
        sent: list[str] = []
        wait_until(
            lambda: "workers.tasks.prune" in sent or sent.extend(_queued_tasks(r, app.env["BCSYNC_QUEUE"])),
            30,
            what=f"the prune due after the restart\n{app.log('beat-again')[-2000:]}",
        )
        assert time.time() - started < 30
        assert app.procs["beat-again"].poll() is None


def test_the_procfile_names_the_process_types_of_the_contract() -> None:
    types = procfile(ROOT / "Procfile")
    assert {"web", "worker", "beat", "release"} <= set(types)
    assert shlex.split(types["release"]) == ["bcsync", "db", "upgrade"]
