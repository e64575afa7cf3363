"""The one retry policy (workers.domain.retry), through the paths that use it: a flush's in-place
retries of a BigCommerce fetch and an Ometria push (real clients against a scripted HTTP server), a
batch's rows, and the Celery task base's autoretry. A server's wait hint is honoured in full; the
jittered waits stay within their bounds and under their cap."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.app.task import Task
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sandbox.server import start_sandbox
from tests.harness import sandbox_settings
from workers.clients.bigcommerce import BigCommerceClient
from workers.clients.ometria import OmetriaClient
from workers.domain import retry
from workers.domain.errors import TransientError
from workers.store import storage
from workers.store.migrate import upgrade
from workers.store.storage import PRODUCT, Dirty, session_scope
from workers.sync import flush
from workers.sync.flush import Syncer

Answer = tuple[int, dict[str, str], Any]


class Scripted:
    """Answers each request with the next scripted (status, headers, JSON body); records when."""

    def __init__(self) -> None:
        self.answers: deque[Answer] = deque()
        self.seen: list[tuple[float, str]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        request.get_data()
        with self.lock:
            self.seen.append((time.monotonic(), request.path))
            status, headers, body = self.answers.popleft() if self.answers else (200, {}, {"data": []})
        response = Response(json.dumps(body), status, headers=headers, mimetype="application/json")
        return response(environ, start_response)

    def gaps(self) -> list[float]:
        return [b[0] - a[0] for a, b in zip(self.seen, self.seen[1:], strict=False)]


@pytest.fixture
def server() -> Iterator[tuple[Scripted, str]]:
    app = Scripted()
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def syncer(server: tuple[Scripted, str], tmp_path: Path) -> Syncer:
    """A Syncer whose two real clients talk to the scripted server (no rate budget), its lookups
    already cached so that a flush's only requests are the ones scripted."""
    _app, url = server
    db = f"sqlite:///{tmp_path / 'bcsync.db'}"
    upgrade(db)
    settings, store = sandbox_settings(url, url, db, tmp_path)
    with start_sandbox(products=3, seed=4) as sb:  # the lookups cached as a flush caches them
        sb_settings, sb_store = sandbox_settings(sb.bc_url, sb.ometria_url, db, tmp_path)
        Syncer(sb_settings, sb_store).context()
    return Syncer(
        settings, store, bc=BigCommerceClient(store), ometria=OmetriaClient(store), lease_seconds=120
    )


def mark(syncer: Syncer, *ids: int) -> None:
    with session_scope(syncer.db) as s:
        storage.mark_dirty(s, syncer.store.store_hash, PRODUCT, ids)


def test_a_fetch_retried_inside_a_flush_waits_the_whole_retry_after(
    server: tuple[Scripted, str], syncer: Syncer
) -> None:
    app, _url = server
    app.answers.extend([(503, {"Retry-After": "1.5"}, {"title": "busy"}), (200, {}, {"data": []})])
    mark(syncer, 7)
    report = syncer.flush_batch()
    assert report is not None and report.error is None and report.gone == 1
    assert [path for _t, path in app.seen] == ["/stores/sandbox1/v3/catalog/products"] * 2
    assert app.gaps()[0] >= 1.5  # all of it (before, the flush could wait 0.75 s of it)


def test_a_push_retried_inside_a_flush_waits_the_whole_retry_after(
    server: tuple[Scripted, str], syncer: Syncer
) -> None:
    app, _url = server
    app.answers.extend([(503, {"Retry-After": "1.5"}, {"message": "busy"}), (200, {}, {"status": "OK"})])
    record = {"@type": "product", "id": "7", "title": "seven"}
    pushed, requests, refused = syncer.push([(record, "fp", 7)])
    assert (pushed, requests, refused) == (1, 2, [])
    assert app.gaps()[0] >= 1.5


def test_a_hint_longer_than_a_flush_may_hold_its_claim_gives_the_rows_back_for_all_of_it(
    server: tuple[Scripted, str], syncer: Syncer
) -> None:
    app, _url = server
    app.answers.extend([(503, {"Retry-After": "45"}, {"title": "maintenance"})])
    mark(syncer, 7)
    started = time.time()
    report = syncer.flush_batch()
    assert time.time() - started < retry.FETCH.cap  # not slept in place
    assert len(app.seen) == 1
    assert report is not None and report.error and report.retry_in is not None and report.retry_in >= 45
    with session_scope(syncer.db) as s:
        row = s.get(Dirty, (syncer.store.store_hash, PRODUCT, 7))
        assert row is not None and row.claimed_by is None and row.not_before >= started + 45


def test_a_batch_waits_a_hint_longer_than_its_cap_in_full() -> None:
    assert flush.backoff(1, 900.0) >= 900.0  # was cut to the 10-minute cap
    assert flush.backoff(3, 12.5) >= 12.5


@pytest.mark.parametrize("policy", [retry.ROWS, retry.FETCH, retry.PUSH, retry.TASK], ids=repr)
def test_jittered_waits_stay_between_half_the_ceiling_and_the_ceiling_and_under_the_cap(
    policy: retry.Policy,
) -> None:
    rng = random.Random(7)
    for attempt in range(0, 40):
        top = policy.ceiling(attempt)
        assert top == min(policy.cap, policy.base * 2**attempt)
        waits = [policy.delay(attempt, uniform=rng.uniform) for _ in range(50)]
        assert all(top / 2 <= w <= top <= policy.cap for w in waits)
        assert policy.delay(attempt, uniform=lambda a, _b: a) == top / 2
        assert policy.delay(attempt, uniform=lambda _a, b: b) == top
    assert retry.ROWS.delay(1, uniform=lambda _a, b: b) == 4.0  # 2-4 s after the first failure
    assert retry.ROWS.ceiling(30) == 600.0


def _autoretry_countdown(monkeypatch: pytest.MonkeyPatch, exc: Exception, retries: int) -> float:
    """The countdown SyncTask's autoretry asks Celery for when flush_store fails with `exc`."""
    from workers.tasks import jobs

    asked: list[dict[str, Any]] = []

    def record_retry(self: Task, *args: Any, **kwargs: Any) -> Exception:
        asked.append(kwargs)
        return RuntimeError("retry scheduled")

    def failing_syncer(_store_hash: str) -> Syncer:
        raise exc

    monkeypatch.setattr(Task, "retry", record_retry)
    monkeypatch.setattr(jobs, "syncer", failing_syncer)
    jobs.flush_store.push_request(retries=retries)
    try:
        with pytest.raises(RuntimeError, match="retry scheduled"):
            jobs.flush_store.run("sandbox1")
    finally:
        jobs.flush_store.pop_request()
    assert len(asked) == 1 and asked[0]["exc"] is exc
    return float(asked[0]["countdown"])


def test_a_task_retried_by_celery_waits_the_servers_hint_in_full(monkeypatch: pytest.MonkeyPatch) -> None:
    countdown = _autoretry_countdown(monkeypatch, TransientError("busy", retry_after=400.0), retries=0)
    assert countdown >= 400.0  # was 0-2 s (Celery's own formula knew nothing of the hint)


def test_a_task_retry_without_hint_backs_off_within_the_task_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    first = [_autoretry_countdown(monkeypatch, OSError("database away"), retries=0) for _ in range(20)]
    assert all(retry.TASK.base / 2 <= c <= retry.TASK.base for c in first)
    late = _autoretry_countdown(monkeypatch, OSError("database away"), retries=15)
    assert retry.TASK.cap / 2 <= late <= retry.TASK.cap
