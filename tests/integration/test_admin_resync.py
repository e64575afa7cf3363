"""The admin resync of named products and categories (issue 11, "nothing invented"), against the
sandbox store and Ometria over real HTTP: it is the CLI's `resync product|category` (whole records
pushed whatever the ledger says; an id never known is a 404 naming it and changes nothing), through
the JSON API and the page's form."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.integration.test_admin_parity import Parity, admin_on_sandbox
from workers.store.models import Event, Ledger, StoreState
from workers.store.storage import PRODUCT, Dirty, session_scope

ADMIN_TOKEN = "resync-admin-token-7d1c0a9e35b24f86"
BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NEVER = 999999


@dataclass
class Target(Parity):
    """The admin app over the sandbox (tests/integration/test_admin_parity.py), and what a resync
    could change."""

    def state(self) -> dict[str, Any]:
        """Everything a resync could change: our tables and what Ometria received. Only the time the
        cached category tree was last read (`lookups_at`) may move: a category's existence is
        checked against a fresh read of the tree, whose content must stay the same."""
        with session_scope(self.syncer.db) as s:
            tables = {
                name: sorted(
                    repr(
                        sorted(
                            (k, v)
                            for k, v in vars(row).items()
                            if not k.startswith("_") and k != "lookups_at"
                        )
                    )
                    for row in s.scalars(select(model))
                )
                for name, model in (
                    ("dirty", Dirty),
                    ("ledger", Ledger),
                    ("store_state", StoreState),
                    ("events", Event),
                )
            }
        pushes = self.sandbox.ometria_counters.snapshot()["calls"].get("POST /v2/push", {})
        return {**tables, "ometria_records": dict(self.sandbox.account.records), "pushes": pushes}

    def login(self) -> str:
        assert self.client.post("/admin/login", data={"token": ADMIN_TOKEN}).status_code == 303
        page = self.client.get("/admin/").get_data(as_text=True)
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    with admin_on_sandbox(tmp_path, 12, ADMIN_TOKEN, Target) as admin:
        yield admin


def wait_woken(target: Target, timeout: float = 3.0) -> None:
    deadline = time.time() + timeout
    while target.sandbox.store_hash not in target.woken and time.time() < deadline:
        time.sleep(0.02)
    assert target.sandbox.store_hash in target.woken, "no flush was woken"


def test_api_resync_of_a_never_known_product_is_404_and_changes_nothing(target: Target) -> None:
    before = target.state()
    resp = target.client.post("/admin/api/resync", json={"products": [NEVER]}, headers=BEARER)
    assert resp.status_code == 404
    message = resp.get_json()["error"]
    assert f"product {NEVER} not found" in message and target.sandbox.store_hash in message
    assert target.state() == before
    assert target.dirty() == {} and target.woken == []


def test_api_resync_of_a_never_known_category_is_404_and_changes_nothing(target: Target) -> None:
    before = target.state()
    resp = target.client.post("/admin/api/resync", json={"categories": [NEVER]}, headers=BEARER)
    assert resp.status_code == 404
    assert f"category {NEVER} not found" in resp.get_json()["error"]
    assert target.state() == before and target.woken == []


def test_api_resync_repairs_a_stale_ometria_copy(target: Target) -> None:
    pid = target.sandbox.store.product_ids()[0]
    target.tamper(pid, "Stale title")
    resp = target.client.post("/admin/api/resync", json={"products": [pid, pid]}, headers=BEARER)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["marked"] == 1 and body["products"] == [pid] and body["gone"] == []
    assert target.dirty() == {(PRODUCT, pid): "resync"}
    wait_woken(target)
    target.flush()  # what the worker does once woken
    assert target.sandbox.account.records[str(pid)]["title"] == target.sandbox.store.get_product(pid)["name"]
    assert target.dirty() == {}


def test_api_resync_of_a_category_repairs_its_products(target: Target) -> None:
    pid = target.sandbox.store.product_ids()[0]
    category = target.sandbox.store.get_product(pid)["categories"][0]
    target.tamper(pid, "Stale title")
    resp = target.client.post("/admin/api/resync", json={"categories": [category]}, headers=BEARER)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    assert pid in resp.get_json()["products"]
    target.flush()
    assert target.sandbox.account.records[str(pid)]["title"] != "Stale title"


def test_page_resync_form_says_not_found_and_changes_nothing(target: Target) -> None:
    csrf = target.login()
    before = target.state()
    resp = target.client.post("/admin/resync", data={"csrf": csrf, "kind": "products", "ids": str(NEVER)})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 404
    assert f"product {NEVER} not found" in html and "Marked" not in html
    assert target.state() == before and target.woken == []


def test_page_resync_form_marks_known_products_to_push_whole(target: Target) -> None:
    a, b = target.sandbox.store.product_ids()[:2]
    csrf = target.login()
    resp = target.client.post(
        "/admin/resync", data={"csrf": csrf, "kind": "products", "ids": f"{a}, {b} {a}"}
    )
    assert resp.status_code == 303 and "notice=resync" in resp.headers["Location"]
    assert target.dirty() == {(PRODUCT, a): "resync", (PRODUCT, b): "resync"}
    page = target.client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Marked 2 product(s) to push whole" in page
    wait_woken(target)


def test_no_secret_in_a_resync_answer(target: Target) -> None:
    store = target.syncer.store
    secrets = [s for s in (ADMIN_TOKEN, store.access_token, store.ometria_api_key, store.webhook_secret) if s]
    pid = target.sandbox.store.product_ids()[0]
    for ids in ([pid], [NEVER]):
        resp = target.client.post("/admin/api/resync", json={"products": ids}, headers=BEARER)
        for secret in secrets:
            assert secret not in resp.get_data(as_text=True) and secret not in str(resp.headers)


def test_api_resync_of_a_product_gone_from_the_store_pushes_it_inactive(target: Target) -> None:
    gone = target.sandbox.store.product_ids()[0]
    target.sandbox.store.delete_product(gone)  # no webhook reached us: the ledger still has it
    resp = target.client.post("/admin/api/resync", json={"products": [gone]}, headers=BEARER)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["gone"] == [gone] and body["products"] == [] and body["marked"] == 1
    target.flush()
    assert target.sandbox.account.records[str(gone)]["is_active"] is False


def test_api_resync_of_known_and_unknown_ids_repairs_the_known_and_names_the_unknown(target: Target) -> None:
    """As `bcsync resync product 5 999999` (exit 1): the known one is repaired, the unknown named."""
    pid = target.sandbox.store.product_ids()[0]
    target.tamper(pid, "Stale title")
    resp = target.client.post("/admin/api/resync", json={"products": [pid, NEVER]}, headers=BEARER)
    assert resp.status_code == 404
    message = resp.get_json()["error"]
    assert f"product {NEVER} not found" in message and f"{pid} marked to push whole" in message
    assert target.dirty() == {(PRODUCT, pid): "resync"}
    target.flush()
    assert target.sandbox.account.records[str(pid)]["title"] != "Stale title"
