"""The admin's hardening (issue 14), through the real app and a real SQLite database: sessions end on
the server (logout, idle, absolute lifetime), wrong tokens are throttled per client address across
web processes (429 + Retry-After, logged without the token), the client address is the proxy's view
only when TRUSTED_PROXIES says so, ADMIN_TOKEN under 32 characters is refused at start, every admin
number is ASCII digits within 1..2^63-1 (400/404, never 500), redirects name PUBLIC_URL and never the
request's Host, and a failed task's detail shows its full text with secrets and control characters
taken out."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from consumer import create_app
from consumer.admin import COOKIE
from tests.harness import free_port
from workers.settings import ConfigError, Settings, StoreConfig, load_settings
from workers.store.models import AdminSession
from workers.store.storage import PRODUCT, record_failure, session_scope

ADMIN_TOKEN = "security-admin-token-6c1d9e0f3a7b52e4d8"
STORE = StoreConfig(
    store_hash="shop1",
    access_token="bc-token-sec-7f0a11",
    client_secret="client-secret-sec-2b",
    webhook_secret="hook-secret-sec-93e",
    ometria_api_key="ometria-key-sec-4d5",
    # never a real host: a loopback port nobody listens on (a call is refused at once)
    api_url=f"http://127.0.0.1:{free_port()}",
    ometria_api_url=f"http://127.0.0.1:{free_port()}",
)
ROOT = Path(__file__).resolve().parents[2]


def make_app(tmp_path: Path, **overrides: Any) -> Flask:
    values: dict[str, Any] = {
        "stores": {STORE.store_hash: STORE},
        "database_url": f"sqlite:///{tmp_path / 'bcsync.db'}",
        "broker_url": "memory://",
        "admin_token": ADMIN_TOKEN,
        "debounce_seconds": 0.0,
        "var_dir": tmp_path,
    }
    values.update(overrides)
    app = create_app(Settings(**values), publish=lambda _store: None)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path)


def db_of(app: Flask) -> str:
    return app.extensions["bcsync"].settings.database_url


def login(client: FlaskClient, **kwargs: Any) -> str:
    resp = client.post("/admin/login", data={"token": ADMIN_TOKEN}, **kwargs)
    assert resp.status_code == 303, resp.status_code
    page = client.get("/admin/", **kwargs)
    assert page.status_code == 200
    match = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True))
    assert match
    return match.group(1)


def seed_failure(app: Flask, error: str = "Ometria refused it", traceback: str = "Traceback: boom") -> int:
    with session_scope(db_of(app)) as s:
        return record_failure(
            s,
            store_hash="shop1",
            task="flush",
            entity=PRODUCT,
            entity_ids=[5],
            kind="permanent",
            error=error,
            traceback=traceback,
        ).id


# --- sessions ------------------------------------------------------------------------------------


def test_a_logged_out_cookie_no_longer_opens_the_admin(app: Flask) -> None:
    client = app.test_client()
    csrf = login(client)
    cookie = client.get_cookie(COOKIE, path="/admin")
    assert cookie is not None
    stolen = cookie.value
    assert client.post("/admin/logout", data={"csrf": csrf}).status_code == 303
    assert client.get("/admin/").status_code == 401
    replayer = app.test_client()  # someone who copied the cookie before the logout
    replayer.set_cookie(COOKIE, stolen, path="/admin")
    assert replayer.get("/admin/").status_code == 401
    with session_scope(db_of(app)) as s:
        assert s.scalar(select(func.count()).select_from(AdminSession)) == 0


def test_the_session_ends_after_30_idle_minutes_and_8_hours_at_most(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    import consumer.admin.session as admin_session

    clock = {"now": 1_800_000_000.0}
    monkeypatch.setattr(admin_session.time, "time", lambda: clock["now"])
    client = app.test_client()
    login(client)
    clock["now"] += 29 * 60
    assert client.get("/admin/").status_code == 200  # used within the idle limit
    clock["now"] += 31 * 60
    assert client.get("/admin/").status_code == 401  # idle for over 30 minutes
    cookie = client.get_cookie(COOKIE, path="/admin")
    assert cookie is None or not cookie.value  # the refused cookie is deleted too
    login(client)
    for _ in range(16):  # busy all day: used every 29 minutes, 7 h 44 min in all
        clock["now"] += 29 * 60
        assert client.get("/admin/").status_code == 200
    clock["now"] += 29 * 60  # 8 h 13 min after login
    assert client.get("/admin/").status_code == 401


def test_the_session_cookie_is_flasks_signed_session_with_its_flags(app: Flask) -> None:
    client = app.test_client()
    resp = client.post("/admin/login", data={"token": ADMIN_TOKEN})
    header = resp.headers["Set-Cookie"]
    assert header.startswith(f"{COOKIE}=") and "HttpOnly" in header and "SameSite=Strict" in header
    assert "Path=/admin" in header
    expires = re.search(r"Expires=([^;]+)", header)
    assert expires is not None
    lifetime = parsedate_to_datetime(expires.group(1)).timestamp() - time.time()
    assert 8 * 3600 - 60 < lifetime <= 8 * 3600 + 1  # was 12 h
    assert ADMIN_TOKEN not in header


def test_csrf_tokens_are_flask_wtf_and_bound_to_the_session(app: Flask) -> None:
    entry = seed_failure(app)
    first, second = app.test_client(), app.test_client()
    token_first = login(first)
    login(second)
    # the other session's token is refused, the own one is accepted
    assert second.post(f"/admin/failed/{entry}/discard", data={"csrf": token_first}).status_code == 403
    assert first.post(f"/admin/failed/{entry}/discard", data={"csrf": token_first}).status_code == 303
    assert first.get_cookie(COOKIE, path="/admin") is not None
    # Flask-WTF's token: the session's secret, signed and timed (itsdangerous), not the secret itself
    assert token_first.count(".") == 2 and "csrf" in first.application.config["WTF_CSRF_FIELD_NAME"]


# --- throttling ----------------------------------------------------------------------------------


def test_the_21st_wrong_login_within_a_minute_gets_429_and_failures_are_logged(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    client = app.test_client()
    wrong = "wrong-token-value-ZQ81"
    for i in range(20):
        assert client.post("/admin/login", data={"token": wrong}).status_code == 401, i
    resp = client.post("/admin/login", data={"token": wrong})
    assert resp.status_code == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert "try again in" in resp.get_data(as_text=True)
    # the right token from that address waits too (else the throttle tells a guesser when it hit)
    assert client.post("/admin/login", data={"token": ADMIN_TOKEN}).status_code == 429
    # another address is not affected
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert other.post("/admin/login", data={"token": ADMIN_TOKEN}).status_code == 303
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("consumer.admin")]
    assert sum("failed login from 127.0.0.1" in m for m in logged) == 20
    assert any("throttled" in m for m in logged)
    assert not any(wrong in m or ADMIN_TOKEN in m for m in logged)


def test_wrong_bearer_tokens_are_throttled_too(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    client = app.test_client()
    guess = "Bearer guessed-admin-token-00000000000000000000"
    for _ in range(20):
        assert client.get("/admin/api/status", headers={"Authorization": guess}).status_code == 401
    resp = client.get("/admin/api/status", headers={"Authorization": guess})
    assert resp.status_code == 429 and resp.headers["Retry-After"].isdigit()
    assert "error" in resp.get_json()
    right = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert client.get("/admin/api/status", headers=right).status_code == 429
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "wrong bearer token from 127.0.0.1" in logged and "guessed-admin-token" not in logged


def test_the_throttle_is_shared_by_every_web_process(tmp_path: Path) -> None:
    one, two = make_app(tmp_path), make_app(tmp_path)  # two gunicorn processes, one database
    a, b = one.test_client(), two.test_client()
    for i in range(20):
        assert (a if i % 2 else b).post("/admin/login", data={"token": "nope"}).status_code == 401
    assert a.post("/admin/login", data={"token": "nope"}).status_code == 429
    assert b.post("/admin/login", data={"token": "nope"}).status_code == 429


def test_the_window_ends_after_a_minute(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    import consumer.admin.session as admin_session

    clock = {"now": 1_800_000_000.0}
    monkeypatch.setattr(admin_session.time, "time", lambda: clock["now"])
    client = app.test_client()
    for _ in range(20):
        client.post("/admin/login", data={"token": "nope"})
    resp = client.post("/admin/login", data={"token": "nope"})
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "60"
    clock["now"] += 45
    assert client.post("/admin/login", data={"token": "nope"}).headers["Retry-After"] == "15"
    clock["now"] += 16
    assert client.post("/admin/login", data={"token": ADMIN_TOKEN}).status_code == 303


def test_behind_the_proxy_the_client_address_is_the_forwarded_one(tmp_path: Path) -> None:
    proxied = make_app(tmp_path / "proxied", trusted_proxies=1).test_client()
    for _ in range(20):
        proxied.post("/admin/login", data={"token": "x"}, headers={"X-Forwarded-For": "198.51.100.1"})
    blocked = proxied.post("/admin/login", data={"token": "x"}, headers={"X-Forwarded-For": "198.51.100.1"})
    assert blocked.status_code == 429
    # another client behind the same nginx (nginx appends the peer it saw: the last hop counts)
    other = proxied.post(
        "/admin/login", data={"token": ADMIN_TOKEN}, headers={"X-Forwarded-For": "1.1.1.1, 198.51.100.2"}
    )
    assert other.status_code == 303
    # without a trusted proxy, a forged header does not get a client out of the throttle
    direct = make_app(tmp_path / "direct").test_client()
    for i in range(20):
        direct.post("/admin/login", data={"token": "x"}, headers={"X-Forwarded-For": f"203.0.113.{i}"})
    forged = direct.post("/admin/login", data={"token": "x"}, headers={"X-Forwarded-For": "203.0.113.99"})
    assert forged.status_code == 429


def test_infra_web_gives_gunicorn_the_one_trusted_proxy() -> None:
    sys.path.insert(0, str(ROOT / "infra"))
    try:
        import web  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "infra"))
    assert web.gunicorn_env({"PATH": "/bin"})["TRUSTED_PROXIES"] == "1"
    assert web.gunicorn_env({"TRUSTED_PROXIES": "2"})["TRUSTED_PROXIES"] == "2"
    conf = (ROOT / "infra" / "nginx.conf.template").read_text()
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in conf and "X-Real-IP $remote_addr" in conf


# --- ADMIN_TOKEN length --------------------------------------------------------------------------


def test_a_short_admin_token_is_refused_by_the_web_app(tmp_path: Path) -> None:
    short = "short-admin-token-31-characters"
    assert len(short) == 31
    with pytest.raises(ConfigError, match="at least 32") as caught:
        make_app(tmp_path, admin_token=short)
    assert short not in str(caught.value)
    make_app(tmp_path, admin_token=short + "x")  # 32 is enough


def test_a_short_admin_token_is_refused_by_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BCSYNC_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("ADMIN_TOKEN", "tiny-token")
    with pytest.raises(ConfigError, match="ADMIN_TOKEN is 10 characters long") as caught:
        load_settings()
    assert "tiny-token" not in str(caught.value)


def test_the_web_process_does_not_start_with_a_short_admin_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BIGCOMMERCE_", "OMETRIA_", "ADMIN_"))}
    env.update(
        ADMIN_TOKEN="too-short-token",
        BCSYNC_ENV_FILE=str(tmp_path / "absent.env"),
        BCSYNC_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
    )
    proc = subprocess.run(
        [sys.executable, "-c", "import consumer.wsgi"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "ADMIN_TOKEN is 15 characters long; it must have at least 32" in proc.stderr
    assert "too-short-token" not in proc.stderr + proc.stdout


# --- numbers -------------------------------------------------------------------------------------

BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_admin_numbers_are_ascii_digits_within_2_63_never_a_500(app: Flask) -> None:
    client = app.test_client()
    entry = seed_failure(app)
    csrf = login(client)
    assert client.get("/admin/?notice=replayed&n=%C2%B2").status_code == 200
    assert "Replayed 0 entries" in client.get("/admin/?notice=replayed&n=%C2%B2").get_data(as_text=True)
    resp = client.post("/admin/resync", data={"csrf": csrf, "kind": "products", "ids": "²"})
    assert resp.status_code == 303 and "error=ids" in resp.headers["Location"]
    resp = client.post("/admin/resync", data={"csrf": csrf, "kind": "products", "ids": "9223372036854775808"})
    assert "error=ids" in resp.headers["Location"]
    for path in (
        "/admin/api/failed/99999999999999999999999",
        "/admin/api/failed/9223372036854775808",
        "/admin/api/failed/%C2%B2",
        "/admin/api/failed/0",
    ):
        assert client.get(path, headers=BEARER).status_code == 404, path
        assert client.post(f"{path}/replay", headers=BEARER).status_code == 404, path
        assert client.post(f"{path}/discard", headers=BEARER).status_code == 404, path
    assert client.get("/admin/failed/99999999999999999999999").status_code == 404
    assert client.get(f"/admin/failed/{entry}").status_code == 200
    huge = "1" + "0" * 400  # 1e400 written as an integer
    for body in (f'{{"since": {huge}}}', '{"since": 1e400}', '{"since": "1e400"}', '{"since": -1}'):
        resp = client.post(
            "/admin/api/failed/replay-all",
            data=body,
            headers={**BEARER, "Content-Type": "application/json"},
        )
        assert resp.status_code == 400, body
    for since in ("1e400", "nan", "inf", huge, "-5"):
        assert client.get(f"/admin/api/failed?since={since}", headers=BEARER).status_code == 400, since
    resp = client.post(
        "/admin/api/resync", data="[" * 50_000, headers={**BEARER, "Content-Type": "application/json"}
    )
    assert resp.status_code == 400


# --- redirects -----------------------------------------------------------------------------------


def test_redirects_never_name_the_requests_host(app: Flask) -> None:
    client = app.test_client()
    resp = client.get("/admin", headers={"Host": "evil.example"})
    assert resp.status_code in (301, 302, 303, 307, 308)
    assert "evil.example" not in resp.headers["Location"] and resp.headers["Location"] == "/admin/"


def test_redirects_name_the_configured_public_url(tmp_path: Path) -> None:
    app = make_app(tmp_path, public_url="https://sync.example.com")
    client = app.test_client()
    resp = client.get("/admin", headers={"Host": "evil.example"})
    assert resp.status_code == 308 and resp.headers["Location"] == "https://sync.example.com/admin/"
    resp = client.post("/admin/login", data={"token": ADMIN_TOKEN}, headers={"Host": "evil.example"})
    assert resp.headers["Location"] == "https://sync.example.com/admin/"


def test_public_url_is_a_typed_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BCSYNC_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.delenv("ADMIN_TOKEN", raising=False)
    monkeypatch.setenv("PUBLIC_URL", "https://sync.example.com/")
    assert load_settings().public_url == "https://sync.example.com"
    for bad in ("sync.example.com", "javascript:alert(1)", "https://sync.example.com/?next=x"):
        monkeypatch.setenv("PUBLIC_URL", bad)
        with pytest.raises(ConfigError, match="PUBLIC_URL"):
            load_settings()


# --- a failed task's detail ----------------------------------------------------------------------


def test_a_failed_tasks_detail_shows_its_whole_text_redacted_and_without_control_characters(
    app: Flask,
) -> None:
    long_error = "Ometria refused record 5: " + "x" * 400 + " END-OF-ERROR"
    trace = (
        'Traceback (most recent call last):\n  File "flush.py", line 1\n'
        f"HTTPError: 401 for key {STORE.ometria_api_key}\x1b[2J\x1b]0;owned\x07\x1b]8;;http://evil/\x07link"
    )
    entry = seed_failure(app, error=long_error, traceback=trace)
    client = app.test_client()
    login(client)
    page = client.get(f"/admin/failed/{entry}").get_data(as_text=True)
    assert "END-OF-ERROR" in page and "File &#34;flush.py&#34;, line 1" in page
    assert "[redacted]" in page and STORE.ometria_api_key not in page
    assert "\x1b" not in page and "\x07" not in page and "owned" not in page
    data = client.get(f"/admin/api/failed/{entry}", headers=BEARER).get_json()
    assert data["error"].endswith("END-OF-ERROR")
    assert "\x1b" not in data["traceback"] and "[redacted]" in data["traceback"]
    index = client.get("/admin/").get_data(as_text=True)
    assert f'href="/admin/failed/{entry}"' in index


def test_wrong_tokens_from_many_processes_at_once_are_all_counted(db_url: str) -> None:
    """The store function under concurrency (SQLite and PostgreSQL): 4 threads x 10 failures = 40."""
    import threading

    from workers.store import admin as admin_store

    now = time.time()
    threads = [
        threading.Thread(
            target=lambda: [
                admin_store.record_auth_failure(db_url, "198.51.100.9", now, 60.0) for _ in range(10)
            ]
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admin_store.record_auth_failure(db_url, "198.51.100.9", now, 60.0) == 41
    assert admin_store.throttled_for(db_url, "198.51.100.9", now + 1, 20, 60.0) == pytest.approx(59.0)
    assert admin_store.throttled_for(db_url, "198.51.100.10", now + 1, 20, 60.0) == 0.0
    assert admin_store.record_auth_failure(db_url, "198.51.100.9", now + 61, 60.0) == 1  # a new window
