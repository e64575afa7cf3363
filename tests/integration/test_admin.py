"""The admin API (/admin/api/…) and page (/admin/): bearer auth (401), disabled without ADMIN_TOKEN
(404), each endpoint against a real SQLite database, the login cookie and CSRF on page actions, and
no configured secret in any response."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from consumer import create_app
from consumer.admin import COOKIE, admin_bp
from tests.harness import free_port
from workers.settings import Settings, StoreConfig
from workers.store.storage import (
    CATEGORY,
    PRODUCT,
    Dirty,
    FailedTask,
    StoreState,
    record_failure,
    session_scope,
)

ADMIN_TOKEN = "admin-token-9f2c61d4e8b7a5-5c0e7f31a2d4"
STORE = StoreConfig(
    store_hash="shop1",
    access_token="bc-token-3b9e77",
    client_secret="client-secret-51aa",
    webhook_secret="hook-secret-70cd",
    ometria_api_key="ometria-key-c0ffee",
    # no test here may reach a real host: both APIs point at a loopback port nobody listens on (a
    # call is refused at once); what needs BigCommerce or Ometria runs against the sandbox
    api_url=f"http://127.0.0.1:{free_port()}",
    ometria_api_url=f"http://127.0.0.1:{free_port()}",
)
SECRETS = (ADMIN_TOKEN, STORE.access_token, STORE.client_secret, STORE.webhook_secret, STORE.ometria_api_key)


@dataclass
class Admin:
    app: Flask
    client: FlaskClient
    db: str
    woken: list[str] = field(default_factory=list)
    enqueued: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def seed_failure(self, ids: list[int], store: str = "shop1", error: str = "Ometria refused it") -> int:
        with session_scope(self.db) as s:
            return record_failure(
                s,
                store_hash=store,
                task="flush",
                entity=PRODUCT,
                entity_ids=ids,
                kind="permanent",
                error=error,
                traceback="Traceback: boom",
            ).id

    def dirty(self) -> dict[tuple[str, int], str]:
        with session_scope(self.db) as s:
            return {(d.entity, d.entity_id): d.reason for d in s.scalars(select(Dirty))}

    def status_of(self, entry_id: int) -> str:
        with session_scope(self.db) as s:
            return s.get(FailedTask, entry_id).status


def make_app(tmp_path: Path, admin_token: str = ADMIN_TOKEN, woken: list[str] | None = None) -> Flask:
    settings = Settings(
        stores={STORE.store_hash: STORE},
        database_url=f"sqlite:///{tmp_path / 'bcsync.db'}",
        broker_url="memory://",
        admin_token=admin_token,
        debounce_seconds=0.0,
        var_dir=tmp_path,
    )
    sink = woken if woken is not None else []
    app = create_app(settings, publish=sink.append)
    if "admin" not in app.blueprints:  # until consumer.create_app registers it itself
        app.register_blueprint(admin_bp)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Admin]:
    woken: list[str] = []
    app = make_app(tmp_path, woken=woken)
    result = Admin(
        app=app, client=app.test_client(), db=app.extensions["bcsync"].settings.database_url, woken=woken
    )
    monkeypatch.setattr(
        "consumer.admin.actions.enqueue_resync_all",
        lambda store, dry_run: result.enqueued.append((store, dry_run)),
    )
    yield result


def wait_woken(admin: Admin, store: str = "shop1", timeout: float = 3.0) -> None:
    deadline = time.time() + timeout
    while store not in admin.woken and time.time() < deadline:
        time.sleep(0.02)
    assert store in admin.woken, "no flush was woken"


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, "a secret was rendered"


def login(admin: Admin) -> str:
    """Log in through the form; returns the page's CSRF token."""
    resp = admin.client.post("/admin/login", data={"token": ADMIN_TOKEN})
    assert resp.status_code == 303
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert ADMIN_TOKEN not in cookie
    page = admin.client.get("/admin/")
    assert page.status_code == 200
    match = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True))
    assert match
    return match.group(1)


# --- auth ----------------------------------------------------------------------------------------

API_GETS = ["/admin/api/status", "/admin/api/failed", "/admin/api/failed/1"]
API_POSTS = [
    "/admin/api/failed/1/replay",
    "/admin/api/failed/replay-all",
    "/admin/api/failed/1/discard",
    "/admin/api/resync",
]


@pytest.mark.parametrize("path", API_GETS + API_POSTS)
def test_api_without_or_with_a_wrong_token_is_401(admin: Admin, path: str) -> None:
    call = admin.client.get if path in API_GETS else admin.client.post
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
        {"Authorization": "Bearer "},
    ):
        resp = call(path, headers=headers)
        assert resp.status_code == 401, (path, headers)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert "error" in resp.get_json()


def test_a_session_cookie_does_not_open_the_json_api(admin: Admin) -> None:
    login(admin)
    assert admin.client.get("/admin/api/status").status_code == 401


def test_page_without_login_is_401_with_the_login_form(admin: Admin) -> None:
    resp = admin.client.get("/admin/")
    assert resp.status_code == 401
    assert 'name="token"' in resp.get_data(as_text=True)


def test_admin_is_404_when_admin_token_is_unset(tmp_path: Path) -> None:
    client = make_app(tmp_path, admin_token="").test_client()
    for path in ["/admin/", "/admin/login", *API_GETS]:
        assert client.get(path, headers={"Authorization": "Bearer "}).status_code == 404
        assert client.get(path).status_code == 404
    for path in API_POSTS:
        assert client.post(path, headers={"Authorization": "Bearer x"}).status_code == 404


def test_login_with_a_wrong_token_is_refused(admin: Admin) -> None:
    resp = admin.client.post("/admin/login", data={"token": "wrong"})
    assert resp.status_code == 401
    assert COOKIE not in resp.headers.get("Set-Cookie", "")
    assert admin.client.get("/admin/").status_code == 401


def test_a_forged_or_foreign_cookie_is_not_a_session(admin: Admin, tmp_path: Path) -> None:
    admin.client.set_cookie(COOKIE, "eyJjc3JmIjoieCJ9.forged.sig", path="/admin")
    assert admin.client.get("/admin/").status_code == 401
    other = make_app(tmp_path / "other", admin_token="another-admin-token-1234-8d1f6b0c9e27a4")
    other_client = other.test_client()
    other_client.post("/admin/login", data={"token": "another-admin-token-1234-8d1f6b0c9e27a4"})
    foreign = other_client.get_cookie(COOKIE, path="/admin")
    assert foreign is not None
    admin.client.set_cookie(COOKIE, foreign.value, path="/admin")  # signed with another token's key
    assert admin.client.get("/admin/").status_code == 401


def test_the_session_cookie_is_secure_over_https(admin: Admin) -> None:
    resp = admin.client.post("/admin/login", data={"token": ADMIN_TOKEN}, base_url="https://admin.example")
    assert "Secure" in resp.headers["Set-Cookie"]
    plain = admin.client.post("/admin/login", data={"token": ADMIN_TOKEN})
    assert "Secure" not in plain.headers["Set-Cookie"]


def test_bearer_header_opens_the_page_too(admin: Admin) -> None:
    resp = admin.client.get("/admin/", headers=admin.auth)
    assert resp.status_code == 200
    assert "Status" in resp.get_data(as_text=True)


# --- JSON API ------------------------------------------------------------------------------------


def test_status_reports_dirty_failed_pause_and_ledger(admin: Admin) -> None:
    now = time.time()
    with session_scope(admin.db) as s:
        from workers.store import storage

        storage.mark_dirty(s, "shop1", PRODUCT, [1, 2, 3], now=now - 30)
        storage.mark_dirty(s, "shop1", CATEGORY, [7], now=now - 5)
        storage.record_pushed(s, "shop1", [("1", 1, "fp", True), ("2", 2, "fp", False)])
        s.add(
            StoreState(
                store_hash="shop1",
                paused_until=now + 100,
                pause_reason="HTTP 401: check the token",
                last_sweep_at=now - 60,
            )
        )
    admin.seed_failure([9])
    data = admin.client.get("/admin/api/status", headers=admin.auth).get_json()
    (store,) = data["stores"]
    assert store["store"] == "shop1"
    assert store["dirty"] == {PRODUCT: 3, CATEGORY: 1}
    assert store["oldest_dirty_age_s"] >= 29
    assert store["failed"] == 1
    assert store["paused"] is True and "401" in store["pause_reason"]
    assert store["ledger_records"] == 2 and store["ledger_active"] == 1
    assert store["last_sweep_at"].endswith("Z")
    assert data["paused_stores"] == ["shop1"]


def test_failed_list_show_and_filters(admin: Admin) -> None:
    first = admin.seed_failure([1, 2])
    second = admin.seed_failure([3])
    listed = admin.client.get("/admin/api/failed", headers=admin.auth).get_json()["failed"]
    assert [e["id"] for e in listed] == [first, second]
    assert listed[0]["ids"] == [1, 2] and "traceback" not in listed[0]
    one = admin.client.get(f"/admin/api/failed/{first}", headers=admin.auth).get_json()
    assert one["traceback"] == "Traceback: boom" and one["status"] == "failed"
    assert admin.client.get("/admin/api/failed/999", headers=admin.auth).status_code == 404
    assert admin.client.get("/admin/api/failed?status=bogus", headers=admin.auth).status_code == 400
    assert admin.client.get("/admin/api/failed?since=yesterday-ish", headers=admin.auth).status_code == 400
    assert admin.client.get("/admin/api/failed?since=1h", headers=admin.auth).get_json()["failed"]
    assert not admin.client.get(
        "/admin/api/failed?since=2999-01-01T00:00:00Z", headers=admin.auth
    ).get_json()["failed"]


def test_replay_marks_dirty_wakes_and_is_harmless_twice(admin: Admin) -> None:
    entry = admin.seed_failure([41, 42])
    resp = admin.client.post(f"/admin/api/failed/{entry}/replay", headers=admin.auth)
    assert resp.status_code == 200 and resp.get_json() == {"replayed": [entry], "status": "replayed"}
    assert admin.dirty() == {(PRODUCT, 41): "replay", (PRODUCT, 42): "replay"}
    assert admin.status_of(entry) == "replayed"
    wait_woken(admin)
    again = admin.client.post(f"/admin/api/failed/{entry}/replay", headers=admin.auth)
    assert again.status_code == 200 and again.get_json() == {"replayed": [], "status": "replayed"}
    assert admin.client.post("/admin/api/failed/999/replay", headers=admin.auth).status_code == 404


def test_replay_all_and_discard(admin: Admin) -> None:
    a, b, c = admin.seed_failure([1]), admin.seed_failure([2]), admin.seed_failure([3])
    resp = admin.client.post(f"/admin/api/failed/{c}/discard", headers=admin.auth)
    assert resp.get_json() == {"discarded": 1, "status": "discarded"}
    again = admin.client.post(f"/admin/api/failed/{c}/discard", headers=admin.auth)
    assert again.get_json()["discarded"] == 0
    assert admin.client.post("/admin/api/failed/999/discard", headers=admin.auth).status_code == 404
    resp = admin.client.post("/admin/api/failed/replay-all", headers=admin.auth)
    assert sorted(resp.get_json()["replayed"]) == [a, b]
    assert set(admin.dirty()) == {(PRODUCT, 1), (PRODUCT, 2)}  # not the discarded one
    assert admin.status_of(c) == "discarded"
    assert admin.client.post("/admin/api/failed/replay-all", headers=admin.auth).get_json()["replayed"] == []


# A resync of named products or categories asks BigCommerce which exist: those tests run against the
# sandbox, in tests/integration/test_admin_resync.py.


def test_resync_all_enqueues_202(admin: Admin) -> None:
    resp = admin.client.post("/admin/api/resync", json={"all": True, "dry_run": True}, headers=admin.auth)
    assert resp.status_code == 202 and resp.get_json()["dry_run"] is True
    assert admin.enqueued == [("shop1", True)]
    assert admin.dirty() == {}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"products": []},
        {"products": [0]},
        {"products": ["5"]},
        {"products": [True]},
        {"products": [5.0]},
        {"products": [2**63]},
        {"products": [1], "categories": [2]},
        {"all": "yes"},
        {"all": True, "dry_run": "no"},
        {"products": [1], "store": "elsewhere"},
        [1, 2],
        "text",
    ],
)
def test_resync_refuses_bad_bodies_with_400(admin: Admin, body: object) -> None:
    resp = admin.client.post("/admin/api/resync", json=body, headers=admin.auth)
    assert resp.status_code == 400, body
    assert resp.get_json()["error"]
    assert admin.dirty() == {} and admin.enqueued == []


# --- the page: login, CSRF, actions ----------------------------------------------------------------


def test_page_shows_status_and_failed_entries_escaped(admin: Admin) -> None:
    entry = admin.seed_failure([77], error="<script>alert(1)</script> refused")
    csrf = login(admin)
    html = admin.client.get("/admin/").get_data(as_text=True)
    assert f'id="failed-{entry}"' in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert 'name="csrf" value="' in html  # Flask-WTF signs a fresh timestamp into each page's token
    assert admin.client.post(f"/admin/failed/{entry}/discard", data={"csrf": csrf}).status_code == 303
    resp = admin.client.get("/admin/")
    assert resp.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]


@pytest.mark.parametrize("action", ["replay", "discard"])
def test_page_actions_refuse_without_or_with_a_wrong_csrf_token(admin: Admin, action: str) -> None:
    entry = admin.seed_failure([5])
    login(admin)
    for data in ({}, {"csrf": "wrong"}):
        resp = admin.client.post(f"/admin/failed/{entry}/{action}", data=data)
        assert resp.status_code == 403
    assert admin.status_of(entry) == "failed" and admin.dirty() == {}


def test_page_actions_refuse_a_foreign_origin_even_with_the_token(admin: Admin) -> None:
    entry = admin.seed_failure([5])
    csrf = login(admin)
    resp = admin.client.post(
        f"/admin/failed/{entry}/replay", data={"csrf": csrf}, headers={"Origin": "https://evil.example"}
    )
    assert resp.status_code == 403
    assert admin.status_of(entry) == "failed"


def test_page_actions_without_a_session_are_401(admin: Admin) -> None:
    entry = admin.seed_failure([5])
    assert admin.client.post(f"/admin/failed/{entry}/replay", data={"csrf": "x"}).status_code == 401
    assert admin.client.post("/admin/resync", data={"kind": "all"}).status_code == 401
    assert admin.status_of(entry) == "failed" and admin.enqueued == []


def test_page_replay_discard_and_resync_with_csrf(admin: Admin) -> None:
    a, b = admin.seed_failure([11]), admin.seed_failure([12])
    csrf = login(admin)
    resp = admin.client.post(
        f"/admin/failed/{a}/replay", data={"csrf": csrf}, headers={"Origin": "http://localhost"}
    )
    assert resp.status_code == 303 and "notice=replayed" in resp.headers["Location"]
    assert admin.status_of(a) == "replayed" and (PRODUCT, 11) in admin.dirty()
    page = admin.client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Replayed 1 entry" in page and f'id="failed-{a}"' not in page
    assert admin.client.post(f"/admin/failed/{b}/discard", data={"csrf": csrf}).status_code == 303
    assert admin.status_of(b) == "discarded"
    resp = admin.client.post("/admin/resync", data={"csrf": csrf, "kind": "products", "ids": "21, x"})
    assert "error=ids" in resp.headers["Location"]
    admin.client.post("/admin/resync", data={"csrf": csrf, "kind": "all", "dry_run": "1"})
    assert admin.enqueued == [("shop1", True)]
    assert admin.client.post("/admin/logout", data={"csrf": csrf}).status_code == 303
    assert admin.client.get("/admin/").status_code == 401


def test_no_secret_in_any_response(admin: Admin) -> None:
    entry = admin.seed_failure([1], error="upstream said no")
    bodies = []
    for path in API_GETS + [f"/admin/api/failed/{entry}", "/admin/api/failed?status=all"]:
        bodies.append(admin.client.get(path, headers=admin.auth))
    bodies.append(admin.client.post("/admin/api/resync", json={"all": True}, headers=admin.auth))
    bodies.append(admin.client.post(f"/admin/api/failed/{entry}/replay", headers=admin.auth))
    bodies.append(admin.client.get("/admin/login"))
    bodies.append(admin.client.post("/admin/login", data={"token": "wrong"}))
    login(admin)
    bodies.append(admin.client.get("/admin/?failed=all"))
    for resp in bodies:
        assert_no_secret(resp.get_data(as_text=True))
        assert_no_secret(str(resp.headers))


def test_a_secret_that_reaches_a_response_is_redacted(admin: Admin) -> None:
    admin.seed_failure([1], error=f"server echoed {STORE.ometria_api_key} back")  # should never happen
    body = admin.client.get("/admin/api/failed", headers=admin.auth).get_data(as_text=True)
    assert STORE.ometria_api_key not in body and "[redacted]" in body
