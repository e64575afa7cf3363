"""The admin page in a real headless Chromium (Playwright) against the app served by a real werkzeug
server on 127.0.0.1: log in with the token, see the status and a seeded failed entry, click Replay,
see it leave the open list and its product marked dirty in the database. Leaves a screenshot at
/tmp/admin.png for a person to look at."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from consumer import create_app
from consumer.admin import admin_bp
from workers.settings import Settings, StoreConfig
from workers.store.storage import PRODUCT, Dirty, FailedTask, record_failure, session_scope

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_TOKEN = "browser-admin-token-5e1f0a93"
STORE = StoreConfig(
    store_hash="shop1",
    access_token="bc-token-browser-1",
    webhook_secret="hook-secret-browser-1",
    ometria_api_key="ometria-key-browser-1",
)
SCREENSHOT = Path("/tmp/admin.png")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium package to run the browser test")
    pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    db = f"sqlite:///{tmp_path / 'bcsync.db'}"
    settings = Settings(
        stores={STORE.store_hash: STORE},
        database_url=db,
        broker_url="memory://",
        admin_token=ADMIN_TOKEN,
        debounce_seconds=0.0,
        var_dir=tmp_path,
    )
    woken: list[str] = []
    app = create_app(settings, publish=woken.append)
    if "admin" not in app.blueprints:
        app.register_blueprint(admin_bp)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", db
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_login_see_status_and_replay_a_failed_entry(served: tuple[str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, db = served
    with session_scope(db) as s:
        entry = record_failure(
            s,
            store_hash="shop1",
            task="flush",
            entity=PRODUCT,
            entity_ids=[4242],
            kind="permanent",
            error="Ometria refused record 4242: price must be a number",
            traceback="Traceback: boom",
        ).id
        other = record_failure(
            s,
            store_hash="shop1",
            task="ometria-validation",
            entity=PRODUCT,
            entity_ids=[77],
            kind="permanent",
            record_id="77-3",
            error="Ometria rejected 77-3 at root > title: not a valid value",
        ).id

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(10_000)
            response = page.goto(f"{base}/admin/")
            assert response is not None and response.status == 401
            page.fill("#token", "not-the-token")
            page.click("button[type=submit]")
            expect(page.get_by_role("alert")).to_contain_text("not right")

            page.fill("#token", ADMIN_TOKEN)
            page.click("button[type=submit]")
            expect(page.locator("#status")).to_contain_text("shop1")
            expect(page.locator("#total-failed")).to_have_text("2")
            row = page.locator(f"#failed-{entry}")
            expect(row).to_contain_text("price must be a number")
            expect(page.locator(f"#failed-{other}")).to_contain_text("77-3")
            cookies = {c["name"]: c for c in page.context.cookies()}
            assert cookies["bcsync_admin"]["httpOnly"] and cookies["bcsync_admin"]["sameSite"] == "Strict"
            assert ADMIN_TOKEN not in cookies["bcsync_admin"]["value"]

            row.get_by_role("button", name=f"Replay #{entry}").click()
            expect(page.get_by_role("status")).to_contain_text("Replayed 1 entry")
            expect(page.locator(f"#failed-{entry}")).to_have_count(0)
            expect(page.locator(f"#failed-{other}")).to_have_count(1)
            expect(page.locator("#total-failed")).to_have_text("1")
            expect(page.locator("#total-dirty")).to_have_text("1")
            assert ADMIN_TOKEN not in page.content()
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()

    with session_scope(db) as s:
        assert s.get(FailedTask, entry).status == "replayed"
        assert s.get(FailedTask, other).status == "failed"
        dirty = {(d.entity, d.entity_id): d.reason for d in s.scalars(select(Dirty))}
    assert dirty == {(PRODUCT, 4242): "replay"}
    assert SCREENSHOT.stat().st_size > 10_000
    assert time.time() - SCREENSHOT.stat().st_mtime < 120
