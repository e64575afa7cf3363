"""The admin behind the production web shape (issue 14): the Procfile's `web` line (nginx in front of
gunicorn, infra/web.py) in a fresh clone of HEAD, on PostgreSQL and Redis. The app counts wrong admin
tokens per client as nginx saw the client (TRUSTED_PROXIES=1 from infra/web.py, ProxyFix): a client
that forges X-Forwarded-For on every attempt is still the same client, and its 21st wrong login
within a minute is 429 with Retry-After; the log names the address nginx saw, never the token. A
redirect names no Host the client sent."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import deploy
from tests.services import fresh_pg_database, redis_url

pytestmark = pytest.mark.services

ADMIN_TOKEN = "proxy-admin-token-4f0e2d9c7b1a6e3d85"


@dataclass
class Web:
    port: int
    log: Path

    def post_login(self, token: str, forwarded_for: str) -> tuple[int, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(
                "POST",
                "/admin/login",
                body=f"token={token}",
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Forwarded-For": forwarded_for,
                    "X-Real-IP": forwarded_for,
                },
            )
            resp = conn.getresponse()
            resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()

    def get(self, path: str, host: str) -> tuple[int, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers={"Host": host})
            resp = conn.getresponse()
            resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    deploy.need_nginx()
    with fresh_pg_database() as db_url:
        clone = deploy.fresh_clone(tmp_path / "app")
        port = deploy.free_port()
        env = deploy.production_env(
            db_url,
            redis_url(),
            tmp_path / "state",
            PORT=str(port),
            PYTHONPATH=str(clone),
            ADMIN_TOKEN=ADMIN_TOKEN,
            WEB_CONCURRENCY="2",
        )
        line = deploy.procfile(clone)["web"]
        log = tmp_path / "web.log"
        with deploy.running(["/bin/sh", "-c", f"exec {line}"], clone, env, log) as proc:
            deploy.wait_ready(port, proc, log)
            yield Web(port, log)


def test_behind_nginx_a_forged_forwarded_for_does_not_escape_the_throttle(web: Web) -> None:
    for i in range(20):
        status, _ = web.post_login("wrong-guess-QX7", f"203.0.113.{i}")
        assert status == 401, i
    status, headers = web.post_login("wrong-guess-QX7", "198.51.100.77")
    assert status == 429 and 1 <= int(headers["retry-after"]) <= 60
    status, _ = web.post_login(ADMIN_TOKEN, "198.51.100.78")
    assert status == 429  # the right token waits out the minute too
    log = web.log.read_text(errors="replace")
    assert log.count("failed login from 127.0.0.1") == 20  # the address nginx saw: the real peer
    assert "203.0.113." not in log.split("failed login from", 1)[1].split("\n", 1)[0]
    assert "wrong-guess-QX7" not in log and ADMIN_TOKEN not in log


def test_behind_nginx_a_redirect_names_no_host_the_client_sent(web: Web) -> None:
    status, headers = web.get("/admin", "evil.example")
    assert status == 308 and "evil.example" not in headers["location"]
