"""The admin page in a real headless Chromium (Playwright) against the app served by a real werkzeug
server on 127.0.0.1: log in with the token, see the status and a seeded failed entry, click Replay,
see it leave the open list and its product marked dirty in the database. At a phone's 390 x 844 and a
laptop's 1280 x 900: Replay, Discard, Verify, Fix, Pause and Resume each lie inside the viewport (no
horizontal scrolling) and work, against the sandbox store and Ometria. Screenshots of every step are
left in the test's temporary directory for a person to look at."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from consumer import create_app
from consumer.admin import admin_bp
from workers.settings import Settings, StoreConfig
from workers.store.storage import PRODUCT, Dirty, FailedTask, record_failure, session_scope
from workers.sync.flush import Syncer

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
ADMIN_TOKEN = "browser-admin-token-5e1f0a93-7b2c4d6e8f"
STORE = StoreConfig(
    store_hash="shop1",
    access_token="bc-token-browser-1",
    webhook_secret="hook-secret-browser-1",
    ometria_api_key="ometria-key-browser-1",
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    yield from serve(tmp_path, STORE)


def serve(tmp_path: Path, store: StoreConfig) -> Iterator[tuple[str, str]]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium package to run the browser test")
    pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    db = f"sqlite:///{tmp_path / 'bcsync.db'}"
    settings = Settings(
        stores={store.store_hash: store},
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


def test_login_see_status_and_replay_a_failed_entry(served: tuple[str, str], tmp_path: Path) -> None:
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
            page.screenshot(path=str(tmp_path / "admin.png"), full_page=True)
        finally:
            browser.close()

    with session_scope(db) as s:
        assert s.get(FailedTask, entry).status == "replayed"
        assert s.get(FailedTask, other).status == "failed"
        dirty = {(d.entity, d.entity_id): d.reason for d in s.scalars(select(Dirty))}
    assert dirty == {(PRODUCT, 4242): "replay"}
    screenshot = tmp_path / "admin.png"
    assert screenshot.stat().st_size > 10_000
    assert time.time() - screenshot.stat().st_mtime < 120


VIEWPORTS = [(390, 844), (1280, 900)]


@pytest.fixture
def sandboxed(tmp_path: Path) -> Iterator[tuple[str, str, Any]]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium package to run the browser test")
    pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    from sandbox.server import start_sandbox

    sb = start_sandbox(products=6, seed=21, window_seconds=3)
    store = StoreConfig(
        store_hash=sb.store_hash,
        access_token=sb.access_token,
        webhook_secret=sb.webhook_secret,
        api_url=sb.bc_url,
        ometria_api_key=sb.ometria_key,
        ometria_api_url=sb.ometria_url,
        ometria_push_rate=50,
    )
    try:
        for base, db in serve(tmp_path, store):
            settings = Settings(stores={store.store_hash: store}, database_url=db, broker_url="memory://")
            Syncer(settings, store).resync_all()
            yield base, db, sb
    finally:
        sb.stop()


def in_viewport(page: Any, locator: Any, width: int, height: int) -> None:
    """The element is visible, fits inside the viewport once scrolled to, and the page does not
    scroll sideways."""
    locator.evaluate("e => e.scrollIntoView({block: 'center', inline: 'nearest'})")
    box = locator.bounding_box()
    assert box is not None, "not rendered"
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, (box, width)
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, (box, height)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"the page scrolls sideways: {scroll_width} px > {width} px"


def tamper(sb: Any, pid: int, title: str) -> None:
    import requests

    record = dict(sb.account.records[str(pid)])
    record["title"] = title
    resp = requests.post(
        f"{sb.ometria_url}/v2/push", json=[record], timeout=5, headers={"X-Ometria-Auth": sb.ometria_key}
    )
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize(("width", "height"), VIEWPORTS, ids=["phone-390x844", "laptop-1280x900"])
def test_every_action_is_inside_the_viewport_and_works(
    sandboxed: tuple[str, str, Any], tmp_path: Path, width: int, height: int
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, db, sb = sandboxed
    pid = sb.store.product_ids()[0]
    with session_scope(db) as s:
        replay_me, discard_me = (
            record_failure(
                s,
                store_hash=sb.store_hash,
                task="flush",
                entity=PRODUCT,
                entity_ids=[ids],
                kind="permanent",
                error=f"Ometria refused record {ids}: a long error text " + "with many words " * 12,
                traceback="Traceback (most recent call last):\n  File 'flush.py'\nPermanentError: refused",
            ).id
            for ids in (9001, 9002)
        )
    tamper(sb, pid, "A stale title in Ometria")
    shots = tmp_path / f"{width}x{height}"
    shots.mkdir()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(15_000)
            page.goto(f"{base}/admin/")
            page.fill("#token", ADMIN_TOKEN)
            page.click("button[type=submit]")
            expect(page.locator("#status")).to_contain_text(sb.store_hash)
            page.screenshot(path=str(shots / "1-index.png"), full_page=True)

            replay = page.get_by_role("button", name=f"Replay #{replay_me}")
            in_viewport(page, replay, width, height)
            replay.click()
            expect(page.get_by_role("status")).to_contain_text("Replayed 1 entry")
            expect(page.locator(f"#failed-{replay_me}")).to_have_count(0)

            discard = page.get_by_role("button", name=f"Discard #{discard_me}")
            in_viewport(page, discard, width, height)
            discard.click()
            expect(page.get_by_role("status")).to_contain_text("Discarded 1 entry")
            page.screenshot(path=str(shots / "2-after-replay-discard.png"), full_page=True)

            page.fill("#verify-ids", str(pid))
            verify = page.locator("#verify-button")
            in_viewport(page, verify, width, height)
            verify.click()
            drift = page.locator(f"#drift-{pid}")
            expect(drift).to_contain_text("A stale title in Ometria")
            expect(drift).to_contain_text(sb.store.get_product(pid)["name"])
            page.screenshot(path=str(shots / "3-verify.png"), full_page=True)
            fix = page.locator("#fix-button")
            in_viewport(page, fix, width, height)
            fix.click()
            expect(page.get_by_role("status")).to_contain_text("1 product(s) marked dirty")
            page.screenshot(path=str(shots / "4-fix.png"), full_page=True)

            page.get_by_role("link", name="Back to the admin page").click()
            page.get_by_label(f"Reason to pause {sb.store_hash}").fill("stock take")
            pause = page.get_by_role("button", name=f"Pause {sb.store_hash}")
            in_viewport(page, pause, width, height)
            pause.click()
            expect(page.get_by_role("status")).to_contain_text(f"Paused store {sb.store_hash}")
            row = page.locator(f"#store-{sb.store_hash}")
            expect(row.locator(".pause-reason")).to_have_text("stock take")  # text, not a tooltip
            expect(row.locator(".pause-reason")).to_be_visible()
            page.screenshot(path=str(shots / "5-paused.png"), full_page=True)
            resume = page.get_by_role("button", name=f"Resume {sb.store_hash}")
            in_viewport(page, resume, width, height)
            resume.click()
            expect(page.get_by_role("status")).to_contain_text(f"Resumed store {sb.store_hash}")
            expect(row).to_contain_text("running")
            page.screenshot(path=str(shots / "6-resumed.png"), full_page=True)
            assert ADMIN_TOKEN not in page.content()
        finally:
            browser.close()

    with session_scope(db) as s:
        assert s.get(FailedTask, replay_me).status == "replayed"
        assert s.get(FailedTask, discard_me).status == "discarded"
        dirty = {(d.entity, d.entity_id): d.reason for d in s.scalars(select(Dirty))}
    assert dirty == {(PRODUCT, 9001): "replay", (PRODUCT, pid): "verify"}
    for shot in shots.iterdir():
        assert shot.stat().st_size > 5_000, shot
