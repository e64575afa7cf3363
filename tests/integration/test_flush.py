"""The flush against the sandbox, in-process: batching, deltas, deactivations, failure paths."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from sandbox.server import Sandbox, start_sandbox
from tests.harness import drift, expected_records, sandbox_settings
from workers import settings as S
from workers.store import storage
from workers.store.failures import list_failed, replay
from workers.store.migrate import upgrade
from workers.store.storage import CATEGORY, PRODUCT, session_scope
from workers.sync.flush import Syncer, drain


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(products=700, seed=3, plan="pro") as sb:
        yield sb


@pytest.fixture
def syncer(sandbox: Sandbox, tmp_path: Path) -> Syncer:
    sandbox.client().reset_ometria()
    sandbox.client().reset_faults()
    sandbox.client().reset_ometria_faults()
    db = f"sqlite:///{tmp_path / 'bcsync.db'}"
    upgrade(db)
    settings, store = sandbox_settings(sandbox.bc_url, sandbox.ometria_url, db, tmp_path)
    return Syncer(settings, store, lease_seconds=30)


def mark(syncer: Syncer, ids, entity: str = PRODUCT) -> None:  # type: ignore[no-untyped-def]
    with session_scope(syncer.db) as s:
        storage.mark_dirty(s, syncer.store.store_hash, entity, ids)


def flush_all(syncer: Syncer) -> list:
    return list(drain(syncer, time.time() + 60))


def product_calls(sandbox: Sandbox) -> int:
    return sum(sandbox.client().counters()["calls"].get("GET /catalog/products", {}).values())


def test_600_dirty_products_take_3_catalogue_calls_and_full_pushes(sandbox: Sandbox, syncer: Syncer) -> None:
    ids = [p["id"] for p in sandbox.client().snapshot()["products"][:600]]
    syncer.context()  # lookups first, so the counters below are the batches' own
    sandbox.client().reset_counters()
    mark(syncer, ids)
    reports = flush_all(syncer)
    assert [r.claimed for r in reports] == [600]  # one flush: 3 calls of ≤250, pushes of 100 across them
    assert product_calls(sandbox) == 3
    stats = sandbox.client().ometria_stats()
    pushed = sum(r.pushed for r in reports)
    assert stats["records_received"] == pushed > 600  # parents and variants
    assert stats["pushes"] <= sum(math.ceil(r.pushed / 100) for r in reports)  # full requests of ≤100
    with session_scope(syncer.db) as s:
        assert storage.dirty_counts(s) == {}


def test_unchanged_products_push_nothing_and_changed_ones_push_only_their_records(
    sandbox: Sandbox, syncer: Syncer
) -> None:
    client = sandbox.client()
    ids = [p["id"] for p in client.snapshot()["products"][:100]]
    mark(syncer, ids)
    flush_all(syncer)
    before = client.ometria_stats()
    mark(syncer, ids)  # a storm of re-deliveries
    assert sum(r.pushed for r in flush_all(syncer)) == 0
    client.update_product(ids[0], price=1234.5)
    mark(syncer, ids)
    reports = flush_all(syncer)
    after = client.ometria_stats()
    assert after["pushes"] == before["pushes"] + 1
    assert sum(r.pushed for r in reports) >= 1
    assert client.records()[str(ids[0])]["price"] == 1234.5


def test_gone_products_and_vanished_variants_are_deactivated(sandbox: Sandbox, syncer: Syncer) -> None:
    client = sandbox.client()
    products = client.snapshot()["products"]
    with_variants = [p for p in products if sum(1 for v in p["variants"] if v.get("option_values")) >= 2][:2]
    doomed, trimmed = with_variants
    ids = [doomed["id"], trimmed["id"]]
    mark(syncer, ids)
    flush_all(syncer)
    variant = next(v for v in trimmed["variants"] if v.get("option_values"))
    client.mutate("delete_product", product_id=doomed["id"])
    client.mutate("delete_variant", product_id=trimmed["id"], variant_id=variant["id"])
    mark(syncer, ids)
    flush_all(syncer)
    records = client.records()
    assert records[str(doomed["id"])]["is_active"] is False
    assert all(r["is_active"] is False for k, r in records.items() if k.startswith(f"{doomed['id']}-"))
    assert records[f"{trimmed['id']}-{variant['id']}"]["is_active"] is False
    assert (
        records[str(trimmed["id"])]["is_active"]
        == expected_records(client.snapshot())[str(trimmed["id"])]["is_active"]
    )
    pushes = client.ometria_stats()["pushes"]
    mark(syncer, ids)  # deleted twice: nothing more to say
    flush_all(syncer)
    assert client.ometria_stats()["pushes"] == pushes


def test_a_transient_failure_gives_the_rows_back_for_a_later_retry(sandbox: Sandbox, syncer: Syncer) -> None:
    client = sandbox.client()
    ids = [p["id"] for p in client.snapshot()["products"][:5]]
    syncer.context()
    mark(syncer, ids)
    client.faults(rate=1.0, kinds=["503"], paths="/catalog/products")
    report = syncer.flush_batch()
    assert report is not None and report.error and report.retry_in
    with session_scope(syncer.db) as s:
        rows = list(s.scalars(select(storage.Dirty)))
    assert len(rows) == 5 and all(
        r.attempts == 1 and r.not_before > time.time() and not r.claimed_by for r in rows
    )
    assert list_failed(syncer.db) == []
    client.reset_faults()
    with session_scope(syncer.db) as s:
        s.execute(storage.update(storage.Dirty).values(not_before=0.0))
    flush_all(syncer)
    assert all(str(i) in client.records() for i in ids)


def test_a_bad_ometria_key_pauses_the_store_and_keeps_the_work(sandbox: Sandbox, syncer: Syncer) -> None:
    client = sandbox.client()
    ids = [p["id"] for p in client.snapshot()["products"][:3]]
    mark(syncer, ids)
    client.ometria_config(api_key="rotated-key")
    try:
        report = syncer.flush_batch()
    finally:
        client.ometria_config(api_key=S.SANDBOX_OMETRIA_KEY)
    assert report is not None and "Configuration" in (report.error or "")
    assert syncer.paused() > 60
    [entry] = list_failed(syncer.db)
    assert entry.kind == "configuration" and S.SANDBOX_OMETRIA_KEY not in entry.error
    with session_scope(syncer.db) as s:
        assert storage.dirty_counts(s) == {(syncer.store.store_hash, PRODUCT): 3}
    replay(syncer.db, [entry.id])  # ops fixed the key: replay lifts the pause
    assert syncer.paused() == 0
    flush_all(syncer)
    assert all(str(i) in client.records() for i in ids)


def test_a_record_ometria_refuses_lands_in_the_failed_list_and_replays_once_fixed(
    sandbox: Sandbox, syncer: Syncer
) -> None:
    client = sandbox.client()
    products = client.snapshot()["products"][600:610]
    big = products[0]["id"]
    client.mutate_many(
        [
            {"op": "set_custom_field", "product_id": big, "name": f"spec {i:03d}", "value": "x" * 240}
            for i in range(260)
        ]
    )  # a parent record over Ometria's 60 KB
    mark(syncer, [p["id"] for p in products])
    flush_all(syncer)
    records = client.records()
    assert str(big) not in records
    assert all(str(p["id"]) in records for p in products[1:])  # the rest of the batch went through
    [entry] = list_failed(syncer.db)
    assert entry.kind == "permanent" and entry.record_id == str(big) and entry.entity_ids == [big]
    fields = client.snapshot()["products"]
    for field in next(p for p in fields if p["id"] == big)["custom_fields"]:
        if field["name"].startswith("spec "):
            client.mutate("delete_custom_field", product_id=big, custom_field_id=field["id"])
    replay(syncer.db, [entry.id])
    flush_all(syncer)
    assert not drift(
        {k: v for k, v in expected_records(client.snapshot()).items() if k == str(big)},
        {str(big): client.records()[str(big)]},
    )


def test_a_changed_category_marks_its_products_and_its_descendants(sandbox: Sandbox, syncer: Syncer) -> None:
    snap = sandbox.client().snapshot()
    children: dict[int, list[int]] = {}
    for c in snap["categories"]:
        children.setdefault(c["parent_id"], []).append(c["category_id"])
    parent = next(c for c in children if c and children.get(c))
    family, todo = set(), [parent]
    while todo:
        cid = todo.pop()
        family.add(cid)
        todo += children.get(cid, [])
    expected = {p["id"] for p in snap["products"] if family & set(p["categories"])}
    mark(syncer, [parent], CATEGORY)
    assert syncer.expand_categories() == len(expected)
    with session_scope(syncer.db) as s:
        marked = set(s.scalars(select(storage.Dirty.entity_id).where(storage.Dirty.entity == PRODUCT)))
        assert not list(s.scalars(select(storage.Dirty).where(storage.Dirty.entity == CATEGORY)))
    assert marked == expected


def test_a_deleted_category_leaves_the_records_of_its_former_products(
    sandbox: Sandbox, syncer: Syncer
) -> None:
    client = sandbox.client()
    cat = client.mutate("create_category", name=f"Doomed {time.time_ns()}")["entity"]["category_id"]
    ids = [p["id"] for p in client.snapshot()["products"][:3]]
    for pid in ids:
        old = next(p for p in client.snapshot()["products"] if p["id"] == pid)["categories"]
        client.update_product(pid, categories=[*old, cat])
    mark(syncer, ids)
    flush_all(syncer)

    def in_category(pid: int) -> bool:
        attributes = client.records()[str(pid)]["attributes"]
        return any(a["type"] == "category" and a["id"] == str(cat) for a in attributes)

    assert all(in_category(pid) for pid in ids)
    client.mutate("delete_category", category_id=cat)  # BigCommerce no longer lists them under it
    mark(syncer, [cat], CATEGORY)  # what its store/category/deleted callback records
    assert syncer.expand_categories() == len(ids)
    flush_all(syncer)
    assert not any(in_category(pid) for pid in ids)
    assert {pid: client.records()[str(pid)] for pid in ids} == {
        pid: expected_records(client.snapshot())[str(pid)] for pid in ids
    }


def test_the_date_modified_sweep_catches_changes_that_fire_no_webhook(
    sandbox: Sandbox, syncer: Syncer
) -> None:
    client = sandbox.client()
    assert syncer.sweep_modified(overlap=0) == 0  # the first sweep only sets the watermark
    pid = client.snapshot()["products"][42]["id"]
    time.sleep(1.1)
    fired = client.mutate("add_image", product_id=pid, is_thumbnail=True)
    assert fired["events"] == []  # BigCommerce sends nothing for an image change
    with session_scope(syncer.db) as s:
        storage.store_state(s, syncer.store.store_hash).last_sweep_at = time.time() - 1
    assert syncer.sweep_modified(overlap=5) >= 1
    with session_scope(syncer.db) as s:
        assert pid in set(s.scalars(select(storage.Dirty.entity_id)))


def test_a_storm_settles_before_it_is_flushed_but_never_waits_past_the_maximum(syncer: Syncer) -> None:
    debounce, max_wait = syncer.settings.debounce_seconds, syncer.settings.max_wait_seconds
    sh = syncer.store.store_hash
    assert syncer.settle_time(now=1000.0) == 0.0  # nothing dirty
    with session_scope(syncer.db) as s:
        storage.mark_dirty(s, sh, PRODUCT, [1], now=1000.0)
    assert syncer.settle_time(now=1000.5) == pytest.approx(debounce - 0.5)  # an isolated change: the debounce
    assert syncer.settle_time(now=1000.0 + debounce) == 0.0
    for t in range(1, int(max_wait) + 5):  # a change every second: the store never goes quiet
        with session_scope(syncer.db) as s:
            storage.mark_dirty(s, sh, PRODUCT, [1 + t], now=1000.0 + t)
        if 1000.0 + t + 0.1 < 1000.0 + max_wait:
            assert syncer.settle_time(now=1000.0 + t + 0.1) > 0
    assert syncer.settle_time(now=1000.0 + max_wait) == 0.0  # the oldest change has waited long enough
