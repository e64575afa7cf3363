"""The admin at parity with the CLI (issue 11), against the sandbox store and Ometria over real HTTP:
verify finds a stale Ometria copy with its fields old → new (JSON API and page), fix makes the next
flush repair it, and the failed-task detail page shows the full error."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select

from consumer import create_app
from sandbox.server import Sandbox, start_sandbox
from tests.harness import sandbox_settings
from workers.store.migrate import upgrade
from workers.store.storage import PRODUCT, Dirty, session_scope
from workers.sync.flush import Syncer, drain

ADMIN_TOKEN = "parity-admin-token-0b8e5f2a9c4d71e63f"
BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass
class Parity:
    sandbox: Sandbox
    app: Flask
    client: FlaskClient
    syncer: Syncer
    woken: list[str]

    def flush(self) -> None:
        for _report in drain(self.syncer, time.time() + 60):
            pass

    def tamper(self, pid: int, title: str) -> None:
        record = dict(self.sandbox.account.records[str(pid)])
        record["title"] = title
        resp = requests.post(
            f"{self.sandbox.ometria_url}/v2/push",
            json=[record],
            timeout=5,
            headers={"X-Ometria-Auth": self.sandbox.ometria_key},
        )
        assert resp.status_code == 200, resp.text

    def dirty(self) -> dict[tuple[str, int], str]:
        with session_scope(self.syncer.db) as s:
            return {(d.entity, d.entity_id): d.reason for d in s.scalars(select(Dirty))}


P = TypeVar("P", bound=Parity)


@contextmanager
def admin_on_sandbox(tmp_path: Path, seed: int, token: str, kind: type[P]) -> Iterator[P]:
    """The admin app (SQLite, debounce 0, wake-ups collected) over a sandbox store of 8 products,
    loaded into Ometria once."""
    sb = start_sandbox(products=8, seed=seed, window_seconds=3)
    try:
        db = f"sqlite:///{tmp_path / 'bcsync.db'}"
        upgrade(db)
        base, _store = sandbox_settings(sb.bc_url, sb.ometria_url, db, tmp_path)
        settings = type(base)(**{**base.__dict__, "admin_token": token, "debounce_seconds": 0.0})
        woken: list[str] = []
        app = create_app(settings, publish=woken.append)
        app.config["TESTING"] = True
        syncer = Syncer(settings, settings.stores[sb.store_hash])
        syncer.resync_all()
        yield kind(sandbox=sb, app=app, client=app.test_client(), syncer=syncer, woken=woken)
    finally:
        sb.stop()


@pytest.fixture
def parity(tmp_path: Path) -> Iterator[Parity]:
    with admin_on_sandbox(tmp_path, 11, ADMIN_TOKEN, Parity) as admin:
        yield admin


def test_verify_and_fix_through_the_json_api(parity: Parity) -> None:
    pid, other = parity.sandbox.store.product_ids()[:2]
    clean = parity.client.post("/admin/api/verify", json={"products": [pid]}, headers=BEARER)
    assert clean.status_code == 200 and clean.get_json()["drift"] == []
    parity.tamper(pid, "Stale title")
    report = parity.client.post(
        "/admin/api/verify", json={"products": [pid, other]}, headers=BEARER
    ).get_json()
    (drift,) = report["drift"]
    assert drift["record_id"] == str(pid) and drift["kind"] == "differs"
    assert drift["fields"]["title"] == {
        "store": parity.sandbox.store.get_product(pid)["name"],
        "ometria": "Stale title",
    }
    assert report["marked"] == 0 and parity.dirty() == {}
    whole = parity.client.post("/admin/api/verify", json={"all": True}, headers=BEARER).get_json()
    assert [d["record_id"] for d in whole["drift"]] == [str(pid)]

    fixed = parity.client.post("/admin/api/verify", json={"products": [pid], "fix": True}, headers=BEARER)
    assert fixed.status_code == 200 and fixed.get_json()["marked"] == 1
    assert parity.dirty() == {(PRODUCT, pid): "verify"}
    deadline = time.time() + 3
    while parity.sandbox.store_hash not in parity.woken and time.time() < deadline:
        time.sleep(0.02)
    assert parity.sandbox.store_hash in parity.woken  # the worker is asked to flush
    parity.flush()  # what the worker does
    assert parity.sandbox.account.records[str(pid)]["title"] != "Stale title"
    after = parity.client.post("/admin/api/verify", json={"products": [pid]}, headers=BEARER).get_json()
    assert after["drift"] == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"products": []},
        {"products": ["1"]},
        {"products": [2**63]},
        {"products": list(range(1, 252))},
        {"all": "yes"},
        {"products": [1], "all": True},
        {"products": [1], "fix": "yes"},
        {"products": [1], "store": "elsewhere"},
    ],
)
def test_verify_refuses_bad_bodies(parity: Parity, body: dict) -> None:
    resp = parity.client.post("/admin/api/verify", json=body, headers=BEARER)
    assert resp.status_code == 400, body
    assert parity.dirty() == {}


def test_verify_and_fix_on_the_page_show_fields_old_to_new(parity: Parity) -> None:
    pid = parity.sandbox.store.product_ids()[0]
    parity.tamper(pid, "Stale <b>title</b>")
    client = parity.client
    assert client.post("/admin/login", data={"token": ADMIN_TOKEN}).status_code == 303
    page = client.get("/admin/").get_data(as_text=True)
    assert 'id="verify-button"' in page and 'id="fix-button"' in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    resp = client.post("/admin/verify", data={"csrf": csrf, "ids": str(pid), "action": "verify"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and f'id="drift-{pid}"' in html
    name = parity.sandbox.store.get_product(pid)["name"]
    assert "<del>“Stale &lt;b&gt;title&lt;/b&gt;”</del> → <ins>“" in html and f"{escape(name)}”</ins>" in html
    assert parity.dirty() == {}
    resp = client.post("/admin/verify", data={"csrf": csrf, "ids": str(pid), "action": "fix"})
    assert "1 product(s) marked dirty" in resp.get_data(as_text=True)
    assert parity.dirty() == {(PRODUCT, pid): "verify"}
    parity.flush()
    again = client.post("/admin/verify", data={"csrf": csrf, "ids": str(pid), "action": "verify"})
    assert "no drift" in again.get_data(as_text=True)
    bad = client.post("/admin/verify", data={"csrf": csrf, "ids": "²", "action": "verify"})
    assert bad.status_code == 400


def test_an_unreachable_ometria_is_a_502_that_names_no_secret(parity: Parity) -> None:
    pid = parity.sandbox.store.product_ids()[0]
    parity.sandbox.stop()
    resp = parity.client.post("/admin/api/verify", json={"products": [pid]}, headers=BEARER)
    assert resp.status_code == 502 and "could not verify" in resp.get_json()["error"]
    assert parity.sandbox.ometria_key not in resp.get_data(as_text=True)


def test_the_pause_reason_is_text_on_the_page_not_only_a_tooltip(tmp_path: Path) -> None:
    from tests.integration.test_admin_security import ADMIN_TOKEN as TOKEN
    from tests.integration.test_admin_security import make_app
    from workers.store.models import StoreState

    app = make_app(tmp_path)
    with session_scope(app.extensions["bcsync"].settings.database_url) as s:
        s.add(
            StoreState(store_hash="shop1", paused_until=time.time() + 300, pause_reason="HTTP 401: bad key")
        )
    client = app.test_client()
    assert client.post("/admin/login", data={"token": TOKEN}).status_code == 303
    html = client.get("/admin/").get_data(as_text=True)
    assert re.search(r">\s*HTTP 401: bad key\s*<", html), "the reason is not shown as text"


# --- pause and resume, events, dry run (workers.sync.pausing, .events, .repair) ------------------


def test_pause_and_resume_through_the_api_and_the_page(parity: Parity) -> None:
    sh = parity.sandbox.store_hash
    api = parity.client
    paused = api.post(f"/admin/api/stores/{sh}/pause", json={"reason": "stock take"}, headers=BEARER)
    assert paused.status_code == 200
    body = paused.get_json()
    assert body["paused"] is True and body["kind"] == "operator" and body["reason"] == "stock take"
    assert "resume" in body["lifts"]
    assert api.get(f"/admin/api/stores/{sh}/pause", headers=BEARER).get_json()["paused"] is True
    status = api.get("/admin/api/status", headers=BEARER).get_json()
    assert status["paused_stores"] == [sh]

    assert api.post("/admin/login", data={"token": ADMIN_TOKEN}).status_code == 303
    html = api.get("/admin/").get_data(as_text=True)
    assert re.search(r">\s*stock take\s*<", html) and "paused until resumed" in html
    assert f'aria-label="Resume {sh}"' in html
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    resp = api.post(f"/admin/stores/{sh}/resume", data={"csrf": csrf})
    assert resp.status_code == 303 and "notice=resumed" in resp.headers["Location"]
    assert api.get(f"/admin/api/stores/{sh}/pause", headers=BEARER).get_json()["paused"] is False
    html = api.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"Resumed store {sh}." in html and f'aria-label="Pause {sh}"' in html
    resp = api.post(f"/admin/stores/{sh}/pause", data={"csrf": csrf, "reason": "again"})
    assert "notice=paused" in resp.headers["Location"]
    assert api.get(f"/admin/api/stores/{sh}/pause", headers=BEARER).get_json()["reason"] == "again"
    resumed = api.post(f"/admin/api/stores/{sh}/resume", headers=BEARER).get_json()
    assert resumed["paused"] is False and resumed["changed"] is True
    assert sh in parity.woken  # a resume wakes a flush


def test_pause_of_an_unknown_store_is_404_and_changes_nothing(parity: Parity) -> None:
    for path in ("/admin/api/stores/abc123/pause", "/admin/api/stores/abc123/resume"):
        resp = parity.client.post(path, json={}, headers=BEARER)
        assert resp.status_code == 404 and "not configured" in resp.get_json()["error"]
    assert parity.client.get("/admin/api/stores/abc123/pause", headers=BEARER).status_code == 404
    status = parity.client.get("/admin/api/status", headers=BEARER).get_json()
    assert [s["store"] for s in status["stores"]] == [parity.sandbox.store_hash]
    bad = parity.client.post(f"/admin/api/stores/{parity.sandbox.store_hash}/pause", json={"reason": 5})
    assert bad.status_code == 401  # no bearer
    bad = parity.client.post(
        f"/admin/api/stores/{parity.sandbox.store_hash}/pause", json={"reason": 5}, headers=BEARER
    )
    assert bad.status_code == 400


def test_events_of_a_product_through_the_api_and_the_search_box(parity: Parity) -> None:
    pid = parity.sandbox.store.product_ids()[0]
    parity.tamper(pid, "Stale for events")
    fixed = parity.client.post("/admin/api/verify", json={"products": [pid], "fix": True}, headers=BEARER)
    assert fixed.get_json()["marked"] == 1
    parity.flush()
    data = parity.client.get(f"/admin/api/events?product={pid}", headers=BEARER).get_json()
    kinds = [e["kind"] for e in data["events"]]
    assert "flush" in kinds and "push" in kinds, kinds
    push = next(e for e in data["events"] if e["kind"] == "push")
    assert push["ref"]  # Ometria's request id
    assert parity.client.get("/admin/api/events?product=999999", headers=BEARER).status_code == 404
    for bad in ("", "²", "0", "99999999999999999999999", "x"):
        assert parity.client.get(f"/admin/api/events?product={bad}", headers=BEARER).status_code == 400
    assert (
        parity.client.get(f"/admin/api/events?product={pid}&since=1e400", headers=BEARER).status_code == 400
    )

    assert parity.client.post("/admin/login", data={"token": ADMIN_TOKEN}).status_code == 303
    index = parity.client.get("/admin/").get_data(as_text=True)
    assert 'id="events-product"' in index
    html = parity.client.get(f"/admin/events?product={pid}").get_data(as_text=True)
    assert 'id="timeline"' in html and push["ref"] in html and 'id="events-product"' in html
    missing = parity.client.get("/admin/events?product=999999")
    assert missing.status_code == 404 and "999999" in missing.get_data(as_text=True)


def test_dry_run_shows_fields_old_to_new_and_pushes_nothing(parity: Parity) -> None:
    pid = parity.sandbox.store.product_ids()[0]
    parity.tamper(pid, "Stale before the dry run")
    pushes = parity.sandbox.account.stats["pushes"]
    resp = parity.client.post("/admin/api/preview", json={"products": [pid, 999999]}, headers=BEARER)
    assert resp.status_code == 200
    body = resp.get_json()
    change = next(c for c in body["changes"] if c["record_id"] == str(pid))
    assert change["fields"]["title"] == {
        "old": "Stale before the dry run",
        "new": parity.sandbox.store.get_product(pid)["name"],
    }
    assert body["not_found"] == [999999] and body["pushed"] == 0
    whole = parity.client.post("/admin/api/preview", json={"all": True, "force": True}, headers=BEARER)
    assert any(c["record_id"] == str(pid) for c in whole.get_json()["changes"])
    assert parity.sandbox.account.stats["pushes"] == pushes  # nothing was pushed
    assert parity.sandbox.account.records[str(pid)]["title"] == "Stale before the dry run"
    assert parity.dirty() == {}
    for bad in ({}, {"products": ["1"]}, {"all": True, "force": "yes"}, {"products": [1], "all": True}):
        assert parity.client.post("/admin/api/preview", json=bad, headers=BEARER).status_code == 400

    assert parity.client.post("/admin/login", data={"token": ADMIN_TOKEN}).status_code == 303
    page = parity.client.get("/admin/").get_data(as_text=True)
    assert 'id="preview-button"' in page and "goes to the worker log" not in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    html = parity.client.post(
        "/admin/preview", data={"csrf": csrf, "kind": "products", "ids": str(pid)}
    ).get_data(as_text=True)
    assert "<del>“Stale before the dry run”</del>" in html and "Nothing was pushed" in html
    assert parity.sandbox.account.stats["pushes"] == pushes
