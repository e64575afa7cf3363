"""Slow clients cannot starve the receiver (issue 14).

50 connections send half a request and stall; `GET /healthz` and a genuine signed callback must still
be answered within 1 s each. Run on the Procfile's `web` line — the configuration infra/README.md tells
production to use — started as a Procfile platform starts it (`sh -c`), in a fresh clone of HEAD, with
production settings: PostgreSQL, Redis, a store hash and its secrets, no .env.

With the earlier line (`gunicorn --workers 2 --threads 4 --bind 0.0.0.0:$PORT`, gthread) every probe
times out: each stalled connection holds one of the 8 threads while gunicorn waits for the rest.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests import deploy
from tests.services import fresh_pg_database, redis_url

pytestmark = pytest.mark.services

STALLED = 50
DEADLINE = 1.0  # seconds, for each probe
HALF_REQUESTS = (
    # the request line and one header, never the blank line that ends the headers (issue 14's finding)
    b"POST /webhooks/bigcommerce HTTP/1.1\r\nHost: x\r\n",
    # whole headers announcing a body that never comes
    b"POST /webhooks/bigcommerce HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n",
    # 6 bytes of a 1000-byte body (and a wrong secret: the body is read before any check)
    b"POST /webhooks/bigcommerce HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b'X-Webhook-Secret: wrong\r\nContent-Length: 1000\r\n\r\n{"a":1',
)


@dataclass
class Web:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    db_url: str

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    deploy.need_nginx()
    with fresh_pg_database() as db_url:
        clone = deploy.fresh_clone(tmp_path / "app")
        port = deploy.free_port()
        # PYTHONPATH: the clone's own code, not the editable install this interpreter comes with
        env = deploy.production_env(
            db_url, redis_url(), tmp_path / "state", PORT=str(port), PYTHONPATH=str(clone)
        )
        line = deploy.procfile(clone)["web"]
        log = tmp_path / "web.log"
        with deploy.running(["/bin/sh", "-c", f"exec {line}"], clone, env, log) as proc:
            deploy.wait_ready(port, proc, log)
            yield Web(port, proc, log, db_url)


def stall(port: int, count: int) -> list[socket.socket]:
    socks = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(HALF_REQUESTS[i % len(HALF_REQUESTS)])
        socks.append(sock)
    return socks


def still_open(sock: socket.socket) -> bool:
    """Neither closed nor answered by the server: the connection is still waiting for the rest."""
    sock.setblocking(False)
    try:
        sock.recv(1024)  # b"" (closed) or an answer
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def probe(web: Web, what: str, raw: bytes) -> None:
    try:
        status, body, seconds = deploy.request(web.port, raw, timeout=DEADLINE)
    except TimeoutError:
        pytest.fail(f"{what}: no answer within {DEADLINE} s while {STALLED} connections stall\n{web.logs()}")
    assert (status, seconds < DEADLINE) == (200, True), (what, status, body, seconds, web.logs())


def test_stalled_connections_do_not_block_health_or_callbacks(web: Web) -> None:
    from workers.store.storage import dirty_counts, session_scope

    socks = stall(web.port, STALLED)
    try:
        time.sleep(0.5)  # every stalled connection is accepted and waiting by now
        started = time.monotonic()
        for product_id in (101, 102, 103):
            probe(web, "GET /healthz", deploy.get_request("/healthz"))
            probe(web, "a signed callback", deploy.signed_callback(product_id))
        assert time.monotonic() - started < 4  # all of it inside the proxy's 5 s client timeouts
        waiting = sum(still_open(s) for s in socks)
        assert waiting == STALLED, f"only {waiting} of {STALLED} stalled connections were still open"
    finally:
        for sock in socks:
            sock.close()
    with session_scope(web.db_url) as session:
        counts = dirty_counts(session)
    assert sum(n for (store, _), n in counts.items() if store == deploy.STORE_HASH) == 3, counts


def test_nginx_refuses_a_body_over_the_receivers_limit_with_its_json(web: Web) -> None:
    raw = (
        b"POST /webhooks/bigcommerce HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: 65537\r\n\r\n"
    )
    status, body, _ = deploy.request(web.port, raw, timeout=5)
    assert (status, body) == (413, b'{"error":"body over 65536 bytes"}\n')
    status, _, _ = deploy.request(web.port, deploy.signed_callback(7), timeout=5)
    assert status == 200  # a body within the limit goes through


def test_sigterm_stops_nginx_and_gunicorn_cleanly(web: Web) -> None:
    members = psutil.Process(web.proc.pid).children(recursive=True)
    names = {p.name() for p in members}
    assert "nginx" in names, names
    masters = [p for p in psutil.Process(web.proc.pid).children() if "gunicorn" in " ".join(p.cmdline())]
    assert len(masters) == 2  # WEB_CONCURRENCY's default: one single-process gunicorn each
    web.proc.send_signal(signal.SIGTERM)
    assert web.proc.wait(60) == 0, web.logs()
    deploy.wait_until(lambda: not deploy.group_alive(web.proc.pid), 15, what="every web process gone")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", web.port), timeout=1).close()


def test_web_exits_when_gunicorn_dies_and_takes_nginx_down(web: Web) -> None:
    gunicorn = next(p for p in psutil.Process(web.proc.pid).children() if "gunicorn" in " ".join(p.cmdline()))
    os.kill(gunicorn.pid, signal.SIGKILL)
    code = web.proc.wait(30)
    assert code != 0, web.logs()
    assert re.search(r"web: gunicorn-\d exited", web.logs()), web.logs()
    deploy.wait_until(lambda: not deploy.group_alive(web.proc.pid), 15, what="nginx and the workers gone")
