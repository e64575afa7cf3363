"""Dirty rows: coalescing, claiming without double work, the mid-flush race, leases."""

from __future__ import annotations

import threading

from workers.store import storage
from workers.store.storage import PRODUCT, session_scope


def _counts(url: str) -> dict:
    with session_scope(url) as s:
        return storage.dirty_counts(s)


def test_duplicates_coalesce_into_one_row_with_a_bumped_version(db_url: str) -> None:
    with session_scope(db_url) as s:
        storage.mark_dirty(s, "st", PRODUCT, [7, 7, 8])
    for _ in range(5):
        with session_scope(db_url) as s:
            storage.mark_dirty(s, "st", PRODUCT, [7])
    with session_scope(db_url) as s:
        rows = {r.entity_id: r.version for r in s.query(storage.Dirty)}
    assert rows == {7: 6, 8: 1}


def test_a_change_during_a_flush_survives_the_release(db_url: str) -> None:
    with session_scope(db_url) as s:
        storage.mark_dirty(s, "st", PRODUCT, [1, 2])
    with session_scope(db_url) as s:
        claimed = storage.claim(s, "st", PRODUCT, "flusher", 250, 60)
    assert set(claimed) == {1, 2}
    with session_scope(db_url) as s:  # a webhook for product 2 arrives mid-flush
        storage.mark_dirty(s, "st", PRODUCT, [2])
    with session_scope(db_url) as s:
        assert storage.release_done(s, "st", PRODUCT, "flusher", [1, 2]) == 1
    with session_scope(db_url) as s:
        left = list(s.query(storage.Dirty))
    assert [(r.entity_id, r.claimed_by) for r in left] == [(2, None)]
    with session_scope(db_url) as s:  # and the next flush takes it again
        assert set(storage.claim(s, "st", PRODUCT, "next", 250, 60)) == {2}


def test_claimed_rows_are_not_claimed_twice_until_the_lease_expires(db_url: str) -> None:
    with session_scope(db_url) as s:
        storage.mark_dirty(s, "st", PRODUCT, range(1, 11), now=100.0)
    with session_scope(db_url) as s:
        first = storage.claim(s, "st", PRODUCT, "a", 4, lease_seconds=30, now=100.0)
    with session_scope(db_url) as s:
        second = storage.claim(s, "st", PRODUCT, "b", 250, lease_seconds=30, now=101.0)
    assert len(first) == 4 and len(second) == 6 and not set(first) & set(second)
    with session_scope(db_url) as s:  # worker "a" died: after its lease, another takes its rows
        third = storage.claim(s, "st", PRODUCT, "c", 250, lease_seconds=30, now=130.5)
    assert set(third) == set(first)


def test_concurrent_claims_never_overlap(db_url: str) -> None:
    with session_scope(db_url) as s:
        storage.mark_dirty(s, "st", PRODUCT, range(1, 2001))
    got: dict[str, list[int]] = {}
    first_batch_taken = threading.Barrier(4)  # each claims once before any drains the rest

    def worker(name: str) -> None:
        mine: list[int] = []
        while True:
            with session_scope(db_url) as s:
                batch = storage.claim(s, "st", PRODUCT, name, 50, 60)
            if not mine:
                first_batch_taken.wait(timeout=30)
            if not batch:
                break
            mine += batch
        got[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in got.values() for i in ids]
    assert sorted(every) == list(range(1, 2001))  # all claimed, none twice
    assert all(got[f"w{i}"] for i in range(4))  # and the work was actually shared


def test_failed_rows_wait_for_their_retry_time(db_url: str) -> None:
    with session_scope(db_url) as s:
        storage.mark_dirty(s, "st", PRODUCT, [5], now=10.0)
    with session_scope(db_url) as s:
        storage.claim(s, "st", PRODUCT, "a", 250, 60, now=10.0)
        storage.release_failed(s, "st", PRODUCT, "a", [5], "boom", retry_at=50.0)
    with session_scope(db_url) as s:
        assert storage.claim(s, "st", PRODUCT, "b", 250, 60, now=20.0) == {}
        assert set(storage.claim(s, "st", PRODUCT, "b", 250, 60, now=51.0)) == {5}
        assert s.get(storage.Dirty, ("st", PRODUCT, 5)).attempts == 1


def test_claim_new_leaves_rows_somebody_else_marked(db_url: str) -> None:
    with session_scope(db_url) as s:
        storage.mark_dirty(s, "st", PRODUCT, [2])
    with session_scope(db_url) as s:
        owned = storage.claim_new(s, "st", PRODUCT, [1, 2, 3], "resync", 60, "resync")
    assert owned == {1, 3}


def test_webhook_ids_are_remembered_once(db_url: str) -> None:
    with session_scope(db_url) as s:
        assert storage.remember_webhook(s, "msg_1", "st", now=1.0)
        assert not storage.remember_webhook(s, "msg_1", "st", now=2.0)
    with session_scope(db_url) as s:
        assert storage.prune_webhooks(s, older_than=5.0) == 1
        assert storage.remember_webhook(s, "msg_1", "st", now=6.0)


def test_failures_for_the_same_work_bump_one_entry(db_url: str) -> None:
    with session_scope(db_url) as s:
        a = storage.record_failure(
            s, store_hash="st", task="flush", entity=PRODUCT, entity_ids=[3, 1], kind="transient", error="x"
        )
        b = storage.record_failure(
            s, store_hash="st", task="flush", entity=PRODUCT, entity_ids=[1, 3], kind="transient", error="y"
        )
        c = storage.record_failure(
            s, store_hash="st", task="flush", entity=PRODUCT, entity_ids=[4], kind="permanent", error="z"
        )
    assert a.id == b.id != c.id
    assert b.attempts == 2 and b.error == "y"


def test_products_in_categories_match_whole_ids_only(db_url: str) -> None:
    entries = [("1", 1, "fp", True), ("1-5", 1, "fp", True), ("2", 2, "fp", True), ("3", 3, "fp", True)]
    with session_scope(db_url) as s:
        storage.record_pushed(s, "st", entries, categories={"1": [12, 7], "2": [21], "3": []})
    with session_scope(db_url) as s:
        assert storage.products_in_categories(s, "st", [12]) == {1}
        assert storage.products_in_categories(s, "st", [1, 2]) == set()  # not 12 nor 21
        assert storage.products_in_categories(s, "st", [7, 21]) == {1, 2}
        assert storage.products_in_categories(s, "other", [12]) == set()
