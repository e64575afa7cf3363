"""GET /metrics is not public (issue 14) and its counts hold (issue 10); the storm through the production
shape is tests/test_metrics_storm.py.

- METRICS_TOKEN set: a bearer token or 401. Unset: loopback clients only, judged by the address nginx
  passes (a request through nginx from another address is refused although nginx itself is local).
- Worker-side counts survive a database outage: kept, then saved once.
- A gunicorn worker killed and replaced leaves its counts in the launcher's multiprocess folder.
"""

from __future__ import annotations

import socket
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from consumer import create_app
from tests import deploy
from tests.harness import Stack, service_env, wait_until
from tests.receiver import store_config
from workers.domain.tally import TALLY
from workers.ops.observability import persist_tally, record_flush
from workers.settings import Settings
from workers.store.migrate import upgrade

REPO = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-0123456789abcdef0123456789"  # noqa: S105 — a test credential


def _settings(tmp_path: Path) -> Settings:
    store = store_config("healthstore")
    return Settings(
        stores={store.store_hash: store},
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        broker_url="filesystem://",
        var_dir=tmp_path / "var",
    )


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


def counters_only(samples: Samples) -> Samples:
    """Counter and histogram samples (what must never move while idle); gauges may."""
    return {
        key: value
        for key, value in samples.items()
        if key[0].endswith(("_total", "_bucket", "_count", "_sum")) and not key[0].endswith("_created")
    }


# --- who may read it ---------------------------------------------------------------------------


def test_metrics_needs_the_token_when_one_is_set(tmp_path: Path) -> None:
    from dataclasses import replace

    client = create_app(replace(_settings(tmp_path), metrics_token=TOKEN)).test_client()
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", headers={"Authorization": "Bearer wrong-token"})
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN not in refused.get_data(as_text=True)
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    # the token is no loopback exemption's business: local clients need it too
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "bcsync_webhooks" in ok.get_data(as_text=True)


def test_metrics_without_a_token_is_for_loopback_clients_only(tmp_path: Path) -> None:
    client = create_app(_settings(tmp_path)).test_client()

    def status(peer: str, **headers: str) -> int:
        return client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": peer}).status_code

    assert status("127.0.0.1") == 200
    assert status("::1") == 200
    assert status("203.0.113.7") == 403
    assert status("10.0.0.8") == 403
    # through the local nginx: the client's address is the one nginx passes
    assert status("127.0.0.1", **{"X-Real-IP": "203.0.113.7"}) == 403
    assert status("127.0.0.1", **{"X-Real-IP": "127.0.0.1"}) == 200
    # a remote client cannot claim to be local
    assert status("203.0.113.7", **{"X-Real-IP": "127.0.0.1"}) == 403


def _other_local_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (connecting to it is not from 127.0.0.1)."""
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith("127."):
                return str(address.address)
    return None


def _spawn_web(stack: Stack, concurrency: int = 2) -> None:
    stack.env.update({"PORT": str(stack.port), "WEB_CONCURRENCY": str(concurrency)})
    stack._spawn("web", [sys.executable, str(REPO / "infra" / "web.py")])

    def ready() -> bool:
        if stack.procs["web"].poll() is not None:
            raise AssertionError(f"infra/web.py exited:\n{stack.logs('web')[-3000:]}")
        try:
            return requests.get(f"{stack.web_url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_until(ready, 90, interval=0.5, what="infra/web.py to answer /healthz")


def test_through_nginx_metrics_are_refused_to_a_non_loopback_client(tmp_path: Path) -> None:
    deploy.need_nginx()
    other = _other_local_address()
    if other is None:
        pytest.skip("this machine has no IPv4 address besides loopback")
    with ExitStack() as stack_ctx:
        env = service_env(
            bc_url="http://127.0.0.1:9",
            ometria_url="http://127.0.0.1:9",
            db_url=f"sqlite:///{tmp_path / 'bcsync.db'}",
            broker_url="filesystem://",
            var_dir=tmp_path,
        )
        env.pop("METRICS_TOKEN", None)
        stack = Stack(env=env, var_dir=tmp_path)
        stack_ctx.callback(stack.stop)
        _spawn_web(stack, concurrency=1)
        assert requests.get(f"{stack.web_url}/metrics", timeout=5).status_code == 200  # from 127.0.0.1
        status, body, _ = _request_from(other, stack.port)
        assert status == 403, body
        assert b"bcsync_webhooks" not in body


def test_a_dead_gunicorn_workers_counts_stay_in_the_sum(tmp_path: Path) -> None:
    """The launcher's multiprocess folder: a gunicorn worker killed and replaced by its master leaves
    its counts behind, so the counter does not go back (and the master's exit hook does not fail)."""
    deploy.need_nginx()
    with ExitStack() as stack_ctx:
        env = service_env(
            bc_url="http://127.0.0.1:9",
            ometria_url="http://127.0.0.1:9",
            db_url=f"sqlite:///{tmp_path / 'bcsync.db'}",
            broker_url="filesystem://",
            var_dir=tmp_path,
        )
        stack = Stack(env=env, var_dir=tmp_path)
        stack_ctx.callback(stack.stop)
        _spawn_web(stack, concurrency=1)
        url = f"{stack.web_url}/webhooks/bigcommerce"
        for _ in range(5):  # wrong secret: answered 401, counted as unauthorized
            assert (
                requests.post(url, json={}, headers={"X-Webhook-Secret": "wrong"}, timeout=5).status_code
                == 401
            )

        def counted() -> float:
            text = requests.get(f"{stack.web_url}/metrics", timeout=5).text
            return total(parse(text), "bcsync_webhooks_total", outcome="unauthorized")

        assert counted() == 5
        (master,) = [
            p
            for p in psutil.Process(stack.procs["web"].pid).children()
            if p.cmdline()[1:3] == ["-m", "gunicorn"]
        ]
        (worker,) = master.children()
        worker.kill()
        worker.wait(10)
        wait_until(
            lambda: [p.pid for p in master.children()] not in ([], [worker.pid]), 30, what="a new worker"
        )
        wait_until(lambda: _answers(f"{stack.web_url}/healthz"), 30, what="the new worker to answer")
        assert counted() == 5
        assert (
            requests.post(url, json={}, headers={"X-Webhook-Secret": "wrong"}, timeout=5).status_code == 401
        )
        assert counted() == 6
        assert "Exception in worker process" not in stack.logs("web")
        assert "child_exit" not in stack.logs("web"), stack.logs("web")[-2000:]


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _request_from(address: str, port: int) -> tuple[int, bytes, float]:
    started = time.monotonic()
    with socket.create_connection((address, port), timeout=5, source_address=(address, 0)) as sock:
        sock.sendall(deploy.get_request("/metrics"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body, time.monotonic() - started


# --- worker-side counts --------------------------------------------------------------------------


def test_worker_counts_wait_out_a_database_outage_and_are_saved_once(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    upgrade(settings.database_url)
    TALLY.drain()  # whatever earlier tests in this process counted
    record_flush("healthstore", ok=True, products=7, records=12, seconds=0.3)
    TALLY.request("bigcommerce", "healthstore", 200)
    TALLY.request("bigcommerce", "healthstore", 429)
    assert persist_tally("postgresql+psycopg://nobody:pw@127.0.0.1:1/nowhere") is False
    assert persist_tally(settings.database_url) is True
    assert persist_tally(settings.database_url) is True  # nothing left: nothing added twice
    samples = parse(create_app(settings).test_client().get("/metrics").get_data(as_text=True))
    assert total(samples, "bcsync_flushes_total", store="healthstore", outcome="ok") == 1
    assert total(samples, "bcsync_flush_products_total", store="healthstore") == 7
    assert total(samples, "bcsync_flush_records_total", store="healthstore") == 12
    assert total(samples, "bcsync_flush_seconds_count", store="healthstore") == 1
    assert total(samples, "bcsync_flush_seconds_bucket", store="healthstore", le="0.5") == 1
    assert total(samples, "bcsync_flush_seconds_bucket", store="healthstore", le="0.25") == 0
    assert total(samples, "bcsync_bigcommerce_requests_total", store="healthstore") == 2
    assert total(samples, "bcsync_bigcommerce_requests_total", store="healthstore", status="429") == 1
    assert total(samples, "bcsync_failed_tasks", store="healthstore") == 0


def test_the_sandbox_web_line_sums_its_gunicorn_workers(tmp_path: Path) -> None:
    """Procfile.sandbox's plain `gunicorn --workers 2` makes its own metrics folder: every scrape,
    whichever worker answers it, shows the callbacks both workers counted."""
    with ExitStack() as stack_ctx:
        env = service_env(
            bc_url="http://127.0.0.1:9",
            ometria_url="http://127.0.0.1:9",
            db_url=f"sqlite:///{tmp_path / 'bcsync.db'}",
            broker_url="filesystem://",
            var_dir=tmp_path,
        )
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        stack = Stack(env=env, var_dir=tmp_path)
        stack.env["BCSYNC_WEB_PORT"] = str(stack.port)
        (tmp_path / "tmp").mkdir()
        stack.env["TMPDIR"] = str(tmp_path / "tmp")
        stack.env["PATH"] = f"{Path(sys.executable).parent}:{stack.env.get('PATH', '/usr/bin:/bin')}"
        stack_ctx.callback(stack.stop)
        line = deploy.procfile(REPO, "Procfile.sandbox")["web"]
        stack._spawn("web", ["/bin/sh", "-c", line])
        try:
            wait_until(lambda: _answers(f"{stack.web_url}/healthz"), 60, what="the sandbox's gunicorn")
        except AssertionError:
            pytest.fail(stack.logs("web")[-3000:])
        url = f"{stack.web_url}/webhooks/bigcommerce"
        for _ in range(12):  # new connections: the two workers share them
            assert (
                requests.post(url, json={}, headers={"X-Webhook-Secret": "wrong"}, timeout=5).status_code
                == 401
            )
        seen = set()
        for _ in range(8):
            text = requests.get(f"{stack.web_url}/metrics", timeout=5).text
            seen.add(total(parse(text), "bcsync_webhooks_total", outcome="unauthorized"))
        assert seen == {12.0}
        # the workers count in the one folder their master made (a fresh temporary one)
        (folder,) = (tmp_path / "tmp").glob("bcsync-metrics-*")
        assert list(folder.glob("counter_*.db"))
        stack.stop()
        wait_until(lambda: not folder.exists(), 10, what="the master to remove its metrics folder")
