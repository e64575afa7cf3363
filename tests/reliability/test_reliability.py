"""Fault injection against the real thing: gunicorn + Celery worker(s) + beat as processes, real
PostgreSQL, Redis and RabbitMQ, the sandbox store firing signed callbacks (BigCommerce's retry
schedule, compressed by `time_scale`) and the sandbox Ometria. Every case ends with the sandbox
Ometria equal, product for product, to the mapping of the sandbox store, and counts what was lost
(must be 0).

Cases (DESIGN.md, "Reliability"): a worker SIGKILLed mid-flush several times during a storm; SIGTERM
finishing or releasing its batch; the broker (Redis, and RabbitMQ) stopped for 30 s during a storm;
Redis restarted under a worker that holds unacknowledged messages (it must reconnect, not exit);
PostgreSQL stopped and started during a storm (the receiver answers 503, BigCommerce's retries deliver
later); BigCommerce answering 20 % 5xx/timeouts/truncated JSON while another app eats the store's quota,
with Ometria answering 20 % 429/5xx; callbacks lost (hooks deactivated) and restored by the
date_modified sweep within one interval; a permanently failing record in `bcsync failed list`, fixed in
the store and brought across by `bcsync failed replay`; and (in-process) a flush that stalls past its
lease must not push its older copy over a newer flush's.

The closing table (one row per case) is printed at the end of the module and written to
var/reliability.json. Stops and starts real services: run as root, with nothing else depending on
them for the ≤ 30 s they are down.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
import requests

from sandbox.server import start_sandbox
from tests.harness import Stack, drift, expected_records, sandbox_settings, service_env, wait_until
from tests.reliability_helpers import (
    BackgroundStorm,
    CaseResult,
    Running,
    by_status,
    claim_tokens,
    claimed_rows,
    failed_entries,
    fired,
    outage,
    running,
    settle,
    table,
    tally,
    write_json,
)
from tests.services import fresh_pg_database, redis_url
from workers.settings import Settings
from workers.store import storage
from workers.store.migrate import upgrade
from workers.store.storage import session_scope
from workers.sync.flush import Syncer
from workers.tasks.app import make_celery

pytestmark = [pytest.mark.slow, pytest.mark.services]

SIGTERM_EXIT_SECONDS = 10.0  # one batch (a GET of 0.4 s and a few pushes), with room
KILLS = 4  # SIGKILLs during one storm: pool processes, whole worker, pool processes, whole worker
BROKER_DOWN_SECONDS = 30.0  # the figure
RESTART_ALLOWANCE = {"redis": 0.5, "rabbitmq": 4.0}  # `rabbitmqctl start_app` takes a few seconds
POSTGRES_DOWN_SECONDS = 8.0
RECONCILE_SECONDS = 10.0  # the date_modified sweep's interval in the lost-callbacks case
SWEEP_GRACE_SECONDS = 10.0  # after the sweep marks products dirty: one flush of them
FLAKY_SETTLE_SECONDS = 180.0  # per-product exponential back-off (workers.sync.flush.backoff) at 20 % faults
RESULTS: list[CaseResult] = []


def _show(config: pytest.Config, text: str) -> None:
    """Print past pytest's capture, so the lines appear in a normal (non -s) run too."""
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        print(text)
        return
    with capman.global_and_fixture_disabled():
        print(text, flush=True)


@pytest.fixture(scope="module", autouse=True)
def closing_table(request: pytest.FixtureRequest) -> Iterator[list[CaseResult]]:
    started = time.monotonic()
    yield RESULTS
    if RESULTS:
        path = write_json(RESULTS)
        _show(
            request.config,
            f"\n\nReliability suite ({time.monotonic() - started:.0f}s):\n{table(RESULTS)}\n(also in {path})",
        )


def finish(
    request: pytest.FixtureRequest,
    run: Running,
    fault: str,
    events_before: int,
    started: float,
    timeout: float = 90,
    notes: str | Callable[[], str] = "",
) -> CaseResult:
    """Settle, count product by product, add the row to the table, then assert nothing was lost.
    `notes` may be a callable, to describe the case once it has settled."""
    error: AssertionError | None = None
    try:
        settle(run, timeout=timeout)
    except AssertionError as exc:
        error = exc
    client = run.client
    expected, stored = expected_records(client.snapshot()), client.records()
    products, correct, lost = tally(expected, stored)
    result = CaseResult(
        fault=fault,
        broker=run.broker,
        events_sent=fired(client) - events_before,
        products_expected=products,
        products_correct=correct,
        lost=len(lost),
        failed_entries=len(failed_entries(run.db)),
        seconds=round(time.monotonic() - started, 1),
        notes=notes() if callable(notes) else notes,
    )
    RESULTS.append(result)
    _show(request.config, "\n" + result.line())
    if error is not None:
        raise error
    assert drift(expected, stored) == []
    assert lost == [], f"products lost: {lost[:20]}"
    assert correct == products
    return result


def _statuses_delta(before: dict, after: dict) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


# --- a worker killed ---------------------------------------------------------------------------


def test_worker_sigkilled_mid_flush_during_a_storm(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """SIGKILL (no chance to clean up) while a flush holds claimed rows, KILLS times during one storm,
    alternately: the pool processes only (Celery's main process forks new ones; the OOM killer's
    way), and the whole worker (main process and pool; a new worker is started). Rows held by the
    dead flush come back when their lease ends; the beat's sweep wakes a flush whatever happened to
    the wake-up messages (on Redis an unacknowledged one only comes back after an hour)."""
    with running(tmp_path, "redis", SYNC_LEASE_SECONDS="8") as run:
        client, started, before = run.client, time.monotonic(), fired(run.client)
        client.config(latency_seconds=0.4)  # a flush takes a while: there is a middle to kill it in
        kills: list[str] = []
        dead: set[str] = set()  # claim tokens of flushes that died with their process
        with BackgroundStorm(client, callbacks=10_000, products=30, chunk=30, every=1.0, seed=1000) as storm:
            for i in range(KILLS):
                wait_until(
                    lambda seen=dead: claim_tokens(run.db) - seen,
                    60,
                    interval=0.05,
                    what="a flush holding rows",
                )
                if i % 2 == 0:
                    main = psutil.Process(run.stack.procs[run.current_worker()].pid)
                    for child in main.children():
                        child.send_signal(signal.SIGKILL)
                    what = "pool processes"
                else:
                    run.stack.kill(run.current_worker(), signal.SIGKILL)
                    what = "whole worker"
                orphaned = claim_tokens(run.db) - dead
                kills.append(what if orphaned else f"{what} (held nothing)")
                dead |= orphaned
                if what == "whole worker":
                    run.restart_worker()
            time.sleep(2)  # the last worker under the storm too
            storm.end()
        client.config(latency_seconds=0.0)
        finish(
            request,
            run,
            f"worker SIGKILL mid-flush x{KILLS}",
            before,
            started,
            notes="killed: " + ", ".join(kills),
        )
        assert all("held nothing" not in k for k in kills), f"not every kill caught a flush: {kills}"


def test_sigterm_finishes_or_releases_the_current_batch(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Graceful shutdown, twice during one storm, each time while a flush holds rows: SIGTERM to the
    worker's whole process group (systemd's default KillMode, Ctrl-C in a terminal, honcho), then to
    its main process only (docker stop, Kubernetes). Each time the worker exits within one batch's
    time and leaves no row claimed (the batch finished, or was given back): nothing waits for the
    lease, 60 s here."""
    with running(tmp_path, "redis", SYNC_LEASE_SECONDS="60") as run:
        client, started, before = run.client, time.monotonic(), fired(run.client)
        client.config(latency_seconds=0.4)
        stops: list[tuple[str, float, int]] = []
        with BackgroundStorm(client, callbacks=10_000, products=20, chunk=20, every=0.5, seed=2000) as storm:
            for target in ("process group", "main process"):
                wait_until(lambda: claimed_rows(run.db), 60, interval=0.05, what="a flush holding rows")
                proc = run.stack.procs.pop(run.current_worker())
                t0 = time.monotonic()
                if target == "process group":
                    os.killpg(proc.pid, signal.SIGTERM)
                else:
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(SIGTERM_EXIT_SECONDS * 3)
                finally:
                    if proc.poll() is None:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait(10)
                stops.append((target, time.monotonic() - t0, claimed_rows(run.db)))
                run.restart_worker()
            storm.end()
        client.config(latency_seconds=0.0)
        described = "; ".join(
            f"{t}: exited in {secs:.1f}s, {held} rows left claimed" for t, secs, held in stops
        )
        result = finish(
            request,
            run,
            "worker SIGTERM mid-flush (group, then main only)",
            before,
            started,
            timeout=50,
            notes=described,
        )
        for target, secs, held in stops:
            assert held == 0, f"SIGTERM to the {target}: {held} rows still claimed after the worker exited"
            assert secs <= SIGTERM_EXIT_SECONDS, f"SIGTERM to the {target}: took {secs:.1f}s to stop"
        assert result.lost == 0


# --- the broker away -----------------------------------------------------------------------------


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_broker_stopped_for_30s_during_a_storm(
    tmp_path: Path, request: pytest.FixtureRequest, broker: str
) -> None:
    """The broker only carries wake-ups: while it is down the receiver keeps answering 200 (the
    change is in PostgreSQL); afterwards the beat's sweep flushes what is dirty."""
    with running(tmp_path, broker) as run:
        client, started, before = run.client, time.monotonic(), fired(run.client)
        with BackgroundStorm(client, callbacks=10_000, products=12, chunk=12, every=1.0, seed=3000) as storm:
            time.sleep(2)
            with outage(broker) as down:
                during = by_status(client)
                time.sleep(BROKER_DOWN_SECONDS - RESTART_ALLOWANCE[broker])  # ≤ 30 s down in all
                answered = _statuses_delta(during, by_status(client))
            time.sleep(2)  # and on a little after the broker is back
            storm.end()
        worker = run.stack.procs[run.current_worker()]
        assert worker.poll() is None, f"the worker exited during the outage:\n{run.worker_logs()}"
        assert answered.get("200", 0) > 50, f"too few callbacks arrived while the broker was down: {answered}"
        assert set(answered) == {"200"}, (
            f"the receiver answered other than 200 with the broker down: {answered}"
        )
        finish(
            request,
            run,
            "broker stopped 30 s",
            before,
            started,
            notes=f"down {down['down_seconds']}s, {answered['200']} callbacks answered 200 meanwhile",
        )


REDIS_RESTARTS = 2
REDIS_DOWN_SECONDS = 1.0


def test_worker_survives_redis_restarts_holding_unacked_messages(tmp_path: Path) -> None:
    """Redis restarted (twice) under a real worker that holds unacknowledged messages at that moment:
    countdown wake-ups waiting in the worker and a flush in flight (late acks). celery 5.7.0 /
    kombu 5.7.0 then died with "Unrecoverable error: AttributeError('NoneType' object has no
    attribute 'hostname')" while cleaning up the lost connection (workers.tasks.broker.Consumer). The same
    worker process must reconnect, finish the flush it was running, and run a task published after
    Redis is back."""
    with start_sandbox(products=20, seed=5, plan="pro") as sb, fresh_pg_database() as db:
        upgrade(db)
        client = sb.client()
        broker, queue = redis_url(), f"bcsync-restart-{uuid.uuid4().hex[:8]}"
        stack = Stack(
            env=service_env(
                bc_url=sb.bc_url,
                ometria_url=sb.ometria_url,
                db_url=db,
                broker_url=broker,
                var_dir=tmp_path,
                queue=queue,
                SYNC_SWEEP_SECONDS="3600",
            ),
            var_dir=tmp_path,
        )
        publisher = make_celery(
            Settings(stores={}, database_url=db, broker_url=broker, queue=queue, var_dir=tmp_path)
        )

        def send(name: str, *args: str, countdown: float | None = None) -> str:
            with publisher.connection_for_write() as conn:  # a new connection: Redis may have restarted
                return publisher.send_task(name, args=list(args), countdown=countdown, connection=conn).id

        def logged(task_id: str, what: str) -> bool:
            return f"[{task_id}] {what}" in stack.logs("worker")

        ids = [int(p["id"]) for p in client.snapshot()["products"]]
        try:
            worker = stack.start_worker()
            for i in range(REDIS_RESTARTS):
                held = [send("workers.tasks.prune", countdown=600) for _ in range(2)]
                client.config(latency_seconds=2.0)  # the flush is still running when Redis goes away
                with session_scope(db) as s:
                    storage.mark_dirty(s, sb.store_hash, storage.PRODUCT, ids)
                time.sleep(0.6)  # past the debounce: the flush runs now instead of deferring itself
                flush = send("workers.tasks.flush_store", sb.store_hash)
                wait_until(
                    lambda f=flush, h=held: all(logged(t, "received") for t in [f, *h]),
                    20,
                    what="the worker to hold the wake-ups and start the flush",
                )
                wait_until(lambda: claimed_rows(db), 10, interval=0.05, what="the flush to claim its rows")
                with outage("redis"):
                    time.sleep(REDIS_DOWN_SECONDS)
                client.config(latency_seconds=0.0)
                after = send("workers.tasks.prune")
                wait_until(
                    lambda a=after, f=flush: worker.poll() is not None
                    or (logged(a, "succeeded") and logged(f, "succeeded")),
                    30,
                    what=f"restart {i + 1}: the flush in flight and a task published after it to succeed",
                )
                assert worker.poll() is None, f"restart {i + 1}: exited\n{stack.logs('worker')[-6000:]}"
            log = stack.logs("worker")
            assert log.count("Connection to broker lost") >= REDIS_RESTARTS, log[-4000:]
            assert "Unrecoverable error" not in log, log[-6000:]
            # the setting is explicit: no "will be True in Celery 6.0" warning at every reconnect
            assert "worker_cancel_long_running_tasks_on_connection_loss" not in log, log[-6000:]
        finally:
            client.config(latency_seconds=0.0)
            stack.stop()
            publisher.close()


# --- the database away ---------------------------------------------------------------------------


def test_postgres_restarted_during_a_storm(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """While PostgreSQL is down the receiver answers 503 (nothing is acknowledged that is not on
    disk); the sandbox retries on BigCommerce's schedule (x time_scale) and delivers later."""
    with running(tmp_path, "redis") as run:
        client, started, before = run.client, time.monotonic(), fired(run.client)
        with BackgroundStorm(client, callbacks=400, products=25, chunk=25, every=0.5, seed=4000) as storm:
            time.sleep(1.5)
            with outage("postgres") as down:
                time.sleep(0.5)  # answers to requests that were already past their commit
                during = by_status(client)
                time.sleep(POSTGRES_DOWN_SECONDS - 0.5)
                answered = _statuses_delta(during, by_status(client))
            storm.wait()
        assert answered.get("503", 0) > 0, f"no 503 while PostgreSQL was down: {answered}"
        assert "200" not in answered, f"callbacks acknowledged while PostgreSQL was down: {answered}"
        result = finish(
            request,
            run,
            "PostgreSQL stopped and started",
            before,
            started,
            timeout=120,
            notes=lambda: f"down {down['down_seconds']}s, {answered['503']} callbacks answered 503, "
            f"{client.deliveries()['retries_scheduled']} retries scheduled",
        )
        assert client.deliveries()["deactivated"] == 0
        assert result.lost == 0


# --- flaky APIs and the quota --------------------------------------------------------------------


class QuotaEater:
    """Another app on the same store, on `threads` connections: spends the whole request quota at the
    start of every window until stopped, so the sync's own requests meet 429s (with
    X-Rate-Limit-Time-Reset-Ms) and must wait for the next window."""

    def __init__(self, api_url: str, token: str, threads: int = 3) -> None:
        self.url, self.token = f"{api_url}/catalog/categories", token
        self.calls = self.refused = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"quota-eater-{i}", daemon=True) for i in range(threads)
        ]

    def __enter__(self) -> QuotaEater:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _run(self) -> None:
        session = requests.Session()
        session.trust_env = False
        while not self._stop.is_set():
            try:
                resp = session.get(
                    self.url, headers={"X-Auth-Token": self.token}, params={"limit": 1}, timeout=10
                )
            except requests.RequestException:
                continue
            self.calls += 1
            if resp.status_code == 429 and resp.headers.get("X-Rate-Limit-Requests-Left") == "0":
                self.refused += 1
                reset = float(resp.headers.get("X-Rate-Limit-Time-Reset-Ms") or 200) / 1000
                self._stop.wait(reset + 0.01)  # back at the very start of the next window


def test_flaky_apis_and_an_exhausted_quota(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """BigCommerce: 20 % of API requests 500/502/503, a 3 s hang then 504, or 200 with truncated
    JSON, while another app eats the quota (3 s windows); Ometria: 20 % 429/500/502/503."""
    with running(tmp_path, "redis") as run:
        client, started, before = run.client, time.monotonic(), fired(run.client)
        client.reset_counters()
        client.reset_ometria_counters()
        # every BigCommerce route the sync uses; the other app reads the older /catalog/categories
        client.faults(
            rate=0.2,
            kinds=["500", "502", "503", "timeout", "truncated"],
            timeout_seconds=3.0,
            paths=r"^(?!.*/catalog/categories$)",
            seed=7,
        )
        client.ometria_faults(rate=0.2, kinds=["429", "500", "502", "503"], seed=8)
        client.ratelimit(plan="standard", quota=60, window_seconds=3)  # a small store quota, soon spent
        with (
            QuotaEater(run.sb.api_url, run.sb.access_token) as eater,
            BackgroundStorm(client, callbacks=400, products=100, chunk=100, every=1.0, seed=5000) as storm,
        ):
            storm.wait()
            time.sleep(4)  # the quota stays exhausted a little after the storm
        try:
            result = finish(
                request,
                run,
                "BC 20% 5xx/timeout/truncated + quota; Ometria 20% 429/5xx",
                before,
                started,
                timeout=FLAKY_SETTLE_SECONDS,
                notes=lambda: f"BC faults {client.counters()['faults']}, Ometria faults "
                f"{client.ometria_counters()['faults']}, BC quota refusals "
                f"{client.ratelimit()['refused']['quota']} (other app: {eater.calls} "
                "calls)",
            )
        finally:
            client.reset_faults()
            client.reset_ometria_faults()
        logs = "".join(run.stack.logs(name) for name in run.workers)
        assert "bigcommerce answered 429" in logs, "the sync never met the exhausted quota"
        assert sum(client.counters()["faults"].values()) > 0
        assert sum(client.ometria_counters()["faults"].values()) > 0
        assert result.failed_entries == 0, [e.error for e in failed_entries(run.db)]


# --- callbacks that never come -------------------------------------------------------------------


def test_lost_callbacks_restored_by_the_sweep(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Every hook deactivated: the store changes, no callback reaches us. The date_modified sweep
    (every RECONCILE_SECONDS) finds the changes; Ometria is right again within one interval (plus
    the flush of what it found)."""
    with running(tmp_path, "redis", SYNC_RECONCILE_SECONDS=str(RECONCILE_SECONDS)) as run:
        client, started, before = run.client, time.monotonic(), fired(run.client)

        def watermark() -> float:
            with session_scope(run.db) as s:
                return storage.store_state(s, run.sb.store_hash).last_sweep_at

        wait_until(watermark, 3 * RECONCILE_SECONDS, what="the first sweep to set its watermark")
        for hook in run.sb.store.list_hooks():
            run.sb.store.deactivate_hook(int(hook["id"]))
        enqueued = client.deliveries()["enqueued"]
        client.storm(callbacks=300, products=150, seed=6000)
        pid = client.snapshot()["products"][0]["id"]  # changes that never fire a callback at all
        client.mutate("set_custom_field", product_id=pid, name="Material", value="Recycled wool")
        client.mutate("add_image", product_id=pid, is_thumbnail=True, sort_order=-1)
        changed_at = time.monotonic()
        assert client.deliveries()["enqueued"] == enqueued, "a callback was still delivered"
        stale = tally(expected_records(client.snapshot()), client.records())[2]
        assert len(stale) > 50, f"the storm should have left Ometria stale: {len(stale)} products"
        restored: list[float] = []

        def described() -> str:
            restored.append(time.monotonic() - changed_at)
            return (
                f"{len(stale)} products stale; equal again {restored[0]:.0f}s after the changes "
                f"(sweep every {RECONCILE_SECONDS:.0f}s)"
            )

        result = finish(
            request,
            run,
            "callbacks lost (hooks deactivated)",
            before,
            started,
            timeout=3 * RECONCILE_SECONDS + 30,
            notes=described,
        )
        assert restored[0] <= RECONCILE_SECONDS + SWEEP_GRACE_SECONDS, f"restored after {restored[0]:.1f}s"
        assert result.lost == 0


# --- a record Ometria refuses for good -----------------------------------------------------------


def test_permanent_failure_listed_fixed_and_replayed(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A product whose record is over Ometria's 60 KB (custom fields galore) cannot be pushed: the
    rest of the storm goes through, that record lands in `bcsync failed list`. The store is fixed
    (custom-field changes fire no callback), and `bcsync failed replay <id>` brings it across."""
    with running(tmp_path, "redis") as run:
        client, stack, started, before = run.client, run.stack, time.monotonic(), fired(run.client)
        pid = int(client.snapshot()["products"][3]["id"])
        with BackgroundStorm(client, callbacks=300, products=30, chunk=30, every=0.5, seed=7000) as storm:
            added = client.mutate_many(
                [
                    {
                        "op": "set_custom_field",
                        "product_id": pid,
                        "name": f"Spec {i:03d} " + "n" * 200,
                        "value": "v" * 240,
                    }
                    for i in range(160)
                ]
            )
            client.update_product(pid, price=321.5)  # a callback for it
            storm.wait()

        def entries() -> list[dict]:
            out = stack.bcsync("failed", "list", "--json")
            return json.loads(out.stdout)

        listed = wait_until(entries, 60, interval=1, what="the failure in `bcsync failed list`")
        assert [(e["ids"], e["record_id"], e["kind"]) for e in listed] == [([pid], str(pid), "permanent")], (
            listed
        )
        assert "too large" in listed[0]["error"].lower() or "60000" in listed[0]["error"], listed[0]["error"]
        # everything else arrived; only that product's parent record is stale in Ometria
        wait_until(
            lambda: client.wait_deliveries(timeout=2).get("idle") and not _dirty(run.db),
            60,
            what="the storm to be flushed",
        )
        stale = tally(expected_records(client.snapshot()), client.records())[2]
        assert stale == [str(pid)], stale

        # fixed in the store: no callback comes for custom fields, only the replay brings it across
        fired_before_fix = fired(client)
        client.mutate_many(
            [
                {"op": "delete_custom_field", "product_id": pid, "custom_field_id": r["entity"]["id"]}
                for r in added
            ]
        )
        assert fired(client) == fired_before_fix
        assert tally(expected_records(client.snapshot()), client.records())[2] == [str(pid)]
        out = stack.bcsync("failed", "replay", str(listed[0]["id"]), check=False)
        assert out.returncode == 0, out.stdout + out.stderr
        result = finish(
            request,
            run,
            "permanent failure -> fixed -> replay",
            before,
            started,
            timeout=30,
            notes=f"entry #{listed[0]['id']} product {pid} replayed",
        )
        assert entries() == []
        all_entries = json.loads(stack.bcsync("failed", "list", "--all", "--json").stdout)
        assert [e["status"] for e in all_entries] == ["replayed"]
        assert result.failed_entries == 1


def _dirty(db: str) -> int:
    with session_scope(db) as s:
        return sum(storage.dirty_counts(s).values())


# --- a flush slower than its lease -----------------------------------------------------------------


def test_a_flush_slower_than_its_lease_never_overwrites_newer_data(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Flush A fetches a product, then stalls (budget waits, timeouts, retries) past its lease; the
    product changes again, flush B claims it, fetches the new state and pushes it. When A resumes it
    must not push its older copy over B's: nothing would be left dirty to correct it."""
    started = time.monotonic()
    with start_sandbox(products=20, seed=3, plan="pro") as sb, fresh_pg_database() as db:
        upgrade(db)
        client = sb.client()
        settings, store = sandbox_settings(sb.bc_url, sb.ometria_url, db, tmp_path)
        first, second = Syncer(settings, store, lease_seconds=1.0), Syncer(settings, store, lease_seconds=1.0)
        first.resync_all()
        before = fired(client)
        pid = int(client.snapshot()["products"][0]["id"])

        def changed(price: float) -> None:  # a store change and its callback's dirty row
            client.update_product(pid, price=price)
            with session_scope(db) as s:
                storage.mark_dirty(s, store.store_hash, storage.PRODUCT, [pid])

        fetch = first.bc.products_by_ids
        fetched, resume = threading.Event(), threading.Event()

        def stalling_fetch(ids: list[int]) -> list[dict]:
            products = fetch(ids)
            fetched.set()
            resume.wait(10)  # stalls past its lease, until the other flush is done
            return products

        first.bc.products_by_ids = stalling_fetch  # type: ignore[method-assign]
        changed(11.0)
        stalled = threading.Thread(target=first.flush_batch)
        stalled.start()
        assert fetched.wait(10)
        changed(22.0)
        time.sleep(1.2)  # the first flush's 1 s lease is over
        assert second.flush_batch() is not None  # so the second flush claims the row, pushes 22.0
        resume.set()
        stalled.join(10)
        expected, stored = expected_records(client.snapshot()), client.records()
        products, correct, lost = tally(expected, stored)
        result = CaseResult(
            fault="flush outlives its lease (stalled after fetch)",
            broker="-",
            events_sent=fired(client) - before,
            products_expected=products,
            products_correct=correct,
            lost=len(lost),
            failed_entries=len(failed_entries(db)),
            seconds=round(time.monotonic() - started, 1),
            notes=f"product {pid}: Ometria price {stored[str(pid)]['price']}, store 22.0",
        )
        RESULTS.append(result)
        _show(request.config, "\n" + result.line())
        assert drift(expected, stored) == []
        assert lost == []
