"""Liveness of every part and its alerts, through the real thing: gunicorn, a Celery worker and beat
on PostgreSQL + Redis, `bcsync` as a subprocess, and a local HTTP server as ALERT_WEBHOOK_URL.

Stopping the worker makes `bcsync status`, `bcsync doctor`, the admin page and `/metrics` say
unhealthy within the threshold (3 × BCSYNC_HEARTBEAT_SECONDS) and sends exactly one alert (beat
is the one that notices); restarting it clears everything and sends exactly one recovery. The same
for beat (the worker's heartbeat thread notices). Then, in process: incidents by compare-and-set
under concurrent evaluators, delivery retried after a failing receiver, the failed list's growth,
what flushes and hook checks record. The pure rules: tests/unit/test_liveness_rules.py.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.harness import Stack, free_port, service_env, wait_until
from tests.services import fresh_pg_database, redis_url
from workers.domain import health as H
from workers.settings import Settings, StoreConfig
from workers.store import liveness as L
from workers.store import storage
from workers.store.migrate import upgrade

HEARTBEAT = 2.0  # seconds: a part is silent after 3 × this
THRESHOLD = 3 * HEARTBEAT
ADMIN_TOKEN = "liveness-admin-token-5150-at-least-32-chars"
ALERT_TOKEN = "hook-token-0042"  # a chat webhook's URL carries a token: never in a message or log


class Receiver:
    """ALERT_WEBHOOK_URL: keeps every JSON body POSTed; `fail` answers the next N with 503."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.fail = 0
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 — http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.attempts += 1
                if receiver.fail > 0:
                    receiver.fail -= 1
                    self.send_response(503)
                else:
                    receiver.messages.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{ALERT_TOKEN}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.stop()


# --- the processes ---------------------------------------------------------------------------


@pytest.fixture
def stack(tmp_path: Path, receiver: Receiver) -> Iterator[Stack]:
    with fresh_pg_database() as db:
        upgrade(db)
        env = service_env(
            bc_url="http://127.0.0.1:9",  # no store traffic: this is about the processes
            ometria_url="http://127.0.0.1:9",
            db_url=db,
            broker_url=redis_url(),
            var_dir=tmp_path,
            queue=f"bcsync-live-{free_port()}",
            BCSYNC_HEARTBEAT_SECONDS=str(HEARTBEAT),
            ALERT_WEBHOOK_URL=receiver.url,
            ADMIN_TOKEN=ADMIN_TOKEN,
        )
        s = Stack(env=env, var_dir=tmp_path)
        try:
            yield s
        finally:
            s.stop()


def status(stack: Stack) -> dict[str, Any]:
    out = stack.bcsync("status", "--json", check=False, timeout=60)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return json.loads(out.stdout)["health"]


def part_state(stack: Stack, part: str) -> str:
    return str(status(stack)["parts"][part]["state"])


def admin_page(stack: Stack) -> str:
    with requests.Session() as http:
        login = http.post(f"{stack.web_url}/admin/login", data={"token": ADMIN_TOKEN}, timeout=10)
        assert login.status_code == 200, login.status_code
        page = http.get(f"{stack.web_url}/admin/", timeout=10)
        assert page.status_code == 200
        return page.text


def admin_state(page: str, part: str) -> str:
    match = re.search(rf'<tr id="health-{part}" data-state="(\w+)"', page)
    assert match, f"no #health row for {part}"
    return match.group(1)


def metrics(stack: Stack) -> dict[str, float]:
    text = requests.get(f"{stack.web_url}/metrics", timeout=10).text
    out = {}
    for line in text.splitlines():
        if line.startswith("bcsync_") and " " in line:
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def messages_for(receiver: Receiver, incident: str) -> list[dict[str, Any]]:
    return [m for m in receiver.messages if m["incident"] == incident]


def assert_silent_everywhere(stack: Stack, part: str, stopped_at: float) -> None:
    """status, doctor, the admin page and /metrics all say `part` is unhealthy, within the threshold."""
    wait_until(
        lambda: part_state(stack, part) == H.UNHEALTHY, THRESHOLD + 15, interval=0.5, what=f"{part} unhealthy"
    )
    noticed = time.time() - stopped_at
    assert noticed <= THRESHOLD + 15, noticed  # the last heartbeat was at most one interval before the stop
    doctor = stack.bcsync("doctor", check=False, timeout=120)
    assert doctor.returncode == 1, doctor.stdout
    line = next(ln for ln in doctor.stdout.splitlines() if f"liveness: {part}" in ln)
    assert "silent for" in line and "silent since" in line, doctor.stdout
    assert admin_state(admin_page(stack), part) == H.UNHEALTHY
    m = metrics(stack)
    assert m[f'bcsync_unhealthy{{check="{part}",store=""}}'] == 1.0
    assert (
        m[f'bcsync_heartbeat_age_seconds{{part="{part}"}}']
        > m[f'bcsync_heartbeat_threshold_seconds{{part="{part}"}}']
    )
    assert m["bcsync_healthy"] == 0.0


def assert_healthy_everywhere(stack: Stack, part: str) -> None:
    wait_until(lambda: part_state(stack, part) == H.OK, 60, interval=0.5, what=f"{part} healthy again")
    doctor = stack.bcsync("doctor", check=False, timeout=120)
    line = next(ln for ln in doctor.stdout.splitlines() if f"liveness: {part}" in ln)
    assert "live, newest" in line, doctor.stdout
    assert admin_state(admin_page(stack), part) == H.OK
    assert metrics(stack)[f'bcsync_unhealthy{{check="{part}",store=""}}'] == 0.0


def start_all(stack: Stack) -> None:
    stack.start_web(workers=1)
    stack.start_worker()
    stack.start_beat()
    wait_until(
        lambda: part_state(stack, "worker") == H.OK and part_state(stack, "beat") == H.OK,
        60,
        interval=0.5,
        what="worker and beat heard from",
    )


def no_secret_in(receiver: Receiver, stack: Stack) -> None:
    blob = json.dumps(receiver.messages)
    for secret in (
        ALERT_TOKEN,
        ADMIN_TOKEN,
        stack.env["BIGCOMMERCE_ACCESS_TOKEN"],
        stack.env["OMETRIA_API_KEY"],
    ):
        assert secret not in blob
    for name in ("worker", "beat"):
        assert ALERT_TOKEN not in stack.logs(name)


@pytest.mark.services
@pytest.mark.slow
def test_a_stopped_worker_is_reported_once_and_its_return_once(stack: Stack, receiver: Receiver) -> None:
    start_all(stack)
    assert receiver.messages == [], "a clean start raises no alert"
    stopped = time.time()
    stack.kill("worker", signal.SIGTERM)
    assert_silent_everywhere(stack, "worker", stopped)
    wait_until(lambda: messages_for(receiver, "silent:worker"), 20, what="the worker alert")
    time.sleep(3 * HEARTBEAT)  # beat goes on evaluating: still one message
    (alert,) = receiver.messages
    assert (alert["event"], alert["incident"], alert["condition"], alert["part"]) == (
        "alert",
        "silent:worker",
        "part_silent",
        "worker",
    )
    assert alert["detected_by"].startswith("beat ") and alert["since"] and "silent for" in alert["summary"]

    stack.start_worker()
    assert_healthy_everywhere(stack, "worker")
    wait_until(lambda: len(messages_for(receiver, "silent:worker")) == 2, 20, what="the worker recovery")
    time.sleep(3 * HEARTBEAT)
    assert [(m["event"], m["incident"]) for m in receiver.messages] == [
        ("alert", "silent:worker"),
        ("recovery", "silent:worker"),
    ]
    assert receiver.messages[1]["closed_at"] and receiver.messages[1]["status"] == "resolved"
    no_secret_in(receiver, stack)


@pytest.mark.services
@pytest.mark.slow
def test_a_stopped_beat_is_reported_once_and_its_return_once(stack: Stack, receiver: Receiver) -> None:
    start_all(stack)
    assert receiver.messages == []
    stopped = time.time()
    stack.kill("beat", signal.SIGTERM)
    assert_silent_everywhere(stack, "beat", stopped)
    wait_until(lambda: messages_for(receiver, "silent:beat"), 20, what="the beat alert")
    time.sleep(3 * HEARTBEAT)
    (alert,) = receiver.messages
    assert (alert["event"], alert["incident"], alert["part"]) == ("alert", "silent:beat", "beat")
    assert alert["detected_by"].startswith("worker ")  # beat is dead: the worker's thread reported it

    stack.start_beat()
    assert_healthy_everywhere(stack, "beat")
    wait_until(lambda: len(messages_for(receiver, "silent:beat")) == 2, 20, what="the beat recovery")
    time.sleep(3 * HEARTBEAT)
    assert [(m["event"], m["incident"]) for m in receiver.messages] == [
        ("alert", "silent:beat"),
        ("recovery", "silent:beat"),
    ]
    no_secret_in(receiver, stack)


# --- incidents and delivery, in process ------------------------------------------------------


def settings_for(db: str, url: str = "", heartbeat: float = 1.0) -> Settings:
    store = StoreConfig(store_hash="shop1", access_token="shop1-access-token-77")
    return Settings(
        stores={"shop1": store},
        database_url=db,
        broker_url="filesystem://",
        heartbeat_seconds=heartbeat,
        alert_webhook_url=url,
    )


def test_concurrent_evaluators_queue_each_message_once(receiver: Receiver) -> None:
    with fresh_pg_database() as db:
        upgrade(db)
        settings = settings_for(db, receiver.url)
        now = time.time()
        with storage.session_scope(db) as s:  # a worker that fell silent long ago, a beat alive
            storage.record_heartbeat(s, "worker", "w@h:1", now - 60)
            storage.record_heartbeat(s, "beat", "b@h:2", now)
        from workers.ops import liveness

        queued: list[list[dict[str, Any]]] = []
        barrier = threading.Barrier(6)

        def one(i: int) -> None:
            barrier.wait()
            queued.append(liveness.evaluate(settings, f"evaluator {i}", now))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(m["incident"] for batch in queued for m in batch) == ["silent:worker"]
        assert liveness.deliver(settings) == 1
        assert [m["incident"] for m in receiver.messages] == ["silent:worker"]
        assert liveness.deliver(settings) == 0  # sent once


def test_delivery_is_retried_and_never_raises(sqlite_url: str, receiver: Receiver) -> None:
    from workers.ops import liveness

    settings = settings_for(sqlite_url, receiver.url, heartbeat=100.0)
    now = time.time()
    with storage.session_scope(sqlite_url) as s:
        storage.record_heartbeat(s, "worker", "w@h:1", now)
        state = storage.store_state(s, "shop1")
        state.paused_until, state.pause_reason = (
            now + 3600,
            "BigCommerce answered 401 for shop1-access-token-77",
        )
    receiver.fail = 2
    assert [m["incident"] for m in liveness.evaluate(settings, "test", now)] == ["paused:shop1"]
    assert liveness.deliver(settings, now) == 0  # 503: kept, retried later
    assert liveness.deliver(settings, now + 10) == 0  # 503 again (after its back-off)
    assert liveness.deliver(settings, now + 10) == 0  # not due yet: no third attempt at once
    assert receiver.attempts == 2
    assert liveness.deliver(settings, now + 60) == 1
    (msg,) = receiver.messages
    assert msg["condition"] == "store_paused" and msg["store"] == "shop1"
    assert "shop1-access-token-77" not in json.dumps(msg), "the pause reason's secret is masked"
    broken = settings_for(sqlite_url, "http://127.0.0.1:9/closed", heartbeat=100.0)
    with storage.session_scope(sqlite_url) as s:
        storage.store_state(s, "shop1").paused_until = 0.0
    assert liveness.evaluate(broken, "test", now + 61)[0]["event"] == "recovery"
    assert liveness.deliver(broken, now + 61) == 0  # unreachable: logged, kept, no exception
    with storage.session_scope(sqlite_url) as s:
        assert L.pending_messages(s) == 1


def test_beats_starting_at_once_never_deadlock_on_their_schedule_rows() -> None:
    """Each beat inserts its entries' rows in one transaction; celery merges the schedule through a
    set, so two processes may list the entries in different orders. In name order they never
    deadlock (PostgreSQL would abort one of them)."""
    import random

    with fresh_pg_database() as db:
        upgrade(db)
        errors: list[BaseException] = []
        for round_no in range(4):
            names = [f"entry-{round_no}-{i:02d}" for i in range(40)]
            barrier = threading.Barrier(6)

            def one(names: list[str] = names, barrier: threading.Barrier = barrier) -> None:
                mine = random.sample(names, len(names))  # noqa: S311 — an order, not a secret
                barrier.wait()
                try:
                    with storage.session_scope(db) as s:
                        storage.beat_runs(s, mine, time.time())
                except BaseException as exc:  # noqa: BLE001 — reported below
                    errors.append(exc)

            threads = [threading.Thread(target=one) for _ in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        assert errors == []


def test_flushes_pushes_quota_and_hook_checks_leave_their_mark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    """The worker's tasks, run in process against the sandbox: a flush records the store's last
    flush, accepted push and the quota BigCommerce reported; a hook check that finds a deactivated
    hook opens the hooks incident (one alert), the next check that finds none closes it (one recovery)."""
    import dataclasses

    from sandbox.server import start_sandbox
    from tests.harness import sandbox_settings
    from workers.clients.bigcommerce import BigCommerceClient
    from workers.ops import liveness
    from workers.sync.hooks import register_hooks
    from workers.tasks import jobs

    sb = start_sandbox(products=5, seed=3)
    try:
        db = f"sqlite:///{tmp_path / 'bcsync.db'}"
        upgrade(db)
        settings, store = sandbox_settings(sb.bc_url, sb.ometria_url, db, tmp_path)
        settings = dataclasses.replace(
            settings, alert_webhook_url=receiver.url, debounce_seconds=0.0, heartbeat_seconds=100.0
        )
        monkeypatch.setattr(jobs, "get_settings", lambda: settings)
        monkeypatch.setattr(jobs, "_syncers", {})
        before = liveness.read_health(settings).stores[0]
        assert (before.facts.last_flush_at, before.facts.last_push_at, before.facts.quota_seen_at) == (
            0,
            0,
            0,
        )

        product = sb.store.snapshot()["products"][0]["id"]
        with storage.session_scope(db) as s:
            storage.mark_dirty(s, store.store_hash, storage.PRODUCT, [product])
        started = time.time()
        jobs.flush_store(store.store_hash)
        after = liveness.read_health(settings).stores[0]
        assert after.facts.last_flush_at >= started and after.facts.last_push_at >= started
        assert after.facts.quota_seen_at >= started and after.check("quota").state == H.OK
        assert after.check("flush").state == H.IDLE  # nothing dirty any more

        register_hooks(BigCommerceClient(store), store, "https://sync.example.com/webhooks/bigcommerce")
        sb.store.deactivate_hook(sb.store.list_hooks()[0]["id"])
        jobs.check_hooks()
        assert liveness.read_health(settings).stores[0].check("hooks").state == H.UNHEALTHY
        liveness.evaluate_and_deliver(settings, "test")
        liveness.evaluate_and_deliver(settings, "test")  # still deactivated at that check: no news
        jobs.check_hooks()  # re-activated last time: every hook active now
        liveness.evaluate_and_deliver(settings, "test")
        assert [(m["event"], m["incident"], m["condition"]) for m in receiver.messages] == [
            ("alert", "hooks:sandbox1", "hooks_deactivated"),
            ("recovery", "hooks:sandbox1", "hooks_deactivated"),
        ]
    finally:
        sb.stop()


def test_the_failed_list_growing_is_one_incident(sqlite_url: str, receiver: Receiver) -> None:
    from workers.ops import liveness
    from workers.store import failures

    settings = settings_for(sqlite_url, receiver.url, heartbeat=100.0)

    def fail(pid: int) -> int:
        with storage.session_scope(sqlite_url) as s:
            entry = storage.record_failure(
                s,
                store_hash="shop1",
                task="flush",
                entity="product",
                entity_ids=[pid],
                kind="permanent",
                error="no",
            )
            return entry.id

    first = fail(1)
    assert [m["event"] for m in liveness.evaluate(settings, "a")] == ["alert"]
    second = fail(2)
    assert liveness.evaluate(settings, "b") == []  # the same incident, grown
    failures.discard(sqlite_url, [first, second])
    (recovery,) = liveness.evaluate(settings, "c")
    assert (recovery["event"], recovery["incident"]) == ("recovery", "failed:shop1")
    fail(3)
    assert [m["event"] for m in liveness.evaluate(settings, "d")] == ["alert"]  # a new incident


def test_metrics_expose_each_liveness_family_once(tmp_path: Path) -> None:
    """The liveness gauges are in /metrics, each family exactly once (a second collector exposing
    the same name would make Prometheus reject the whole scrape)."""
    from tests.receiver import make_receiver

    receiver = make_receiver(f"sqlite:///{tmp_path / 'db.sqlite'}", heartbeat_seconds=5.0)
    with storage.session_scope(receiver.settings.database_url) as s:
        storage.record_heartbeat(s, "worker", "w@h:1", time.time() - 100)
        storage.record_heartbeat(s, "beat", "b@h:2", time.time())
    text = receiver.client.get("/metrics").get_data(as_text=True)
    families = re.findall(r"^# TYPE (\S+) ", text, flags=re.M)
    assert len(families) == len(set(families)), sorted(f for f in families if families.count(f) > 1)
    store = receiver.store.store_hash
    for line in (
        'bcsync_unhealthy{check="worker",store=""} 1.0',
        'bcsync_unhealthy{check="beat",store=""} 0.0',
        'bcsync_heartbeat_threshold_seconds{part="worker"} 15.0',
        f'bcsync_store_paused{{store="{store}"}} 0.0',
        f'bcsync_hooks_inactive{{store="{store}"}} 0.0',
        "bcsync_healthy 0.0",
    ):
        assert line in text, line


def test_an_operator_pause_is_an_incident_until_resumed(sqlite_url: str, receiver: Receiver) -> None:
    from workers.ops import liveness
    from workers.store import pauses

    settings = settings_for(sqlite_url, receiver.url, heartbeat=100.0)
    with storage.session_scope(sqlite_url) as s:
        pauses.pause(s, "shop1", "maintenance window")
    (alert,) = liveness.evaluate(settings, "test")
    assert alert["incident"] == "paused:shop1" and "by an operator until resumed" in alert["summary"]
    with storage.session_scope(sqlite_url) as s:
        pauses.resume(s, "shop1")
    (recovery,) = liveness.evaluate(settings, "test")
    assert (recovery["event"], recovery["incident"]) == ("recovery", "paused:shop1")
