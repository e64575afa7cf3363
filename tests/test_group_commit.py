"""Group commit: concurrent callbacks share a transaction, each still answered only once durable."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from sqlalchemy.exc import OperationalError

from consumer.group_commit import GroupCommit
from workers import storage
from workers.intake import Callback, record_callbacks
from workers.storage import PRODUCT, session_scope


def test_concurrent_callbacks_share_commits_and_all_are_recorded(db_url: str) -> None:
    groups: list[int] = []
    gate = threading.Event()

    def write(callbacks: Sequence[Callback]) -> list[bool]:
        gate.wait(5)  # hold the first commit so that the others queue up behind it
        groups.append(len(callbacks))
        return record_callbacks(db_url, callbacks)

    committer = GroupCommit(write)
    results: list[bool] = []
    threads = [
        threading.Thread(
            target=lambda i=i: results.append(committer.record(Callback("st", PRODUCT, (i,), f"w{i}")))
        )
        for i in range(1, 41)
    ]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(10)
    assert results == [True] * 40
    assert sum(groups) == 40 and len(groups) < 40  # fewer commits than callbacks
    with session_scope(db_url) as s:
        assert storage.dirty_counts(s) == {("st", PRODUCT): 40}


def test_a_webhook_id_twice_in_one_group_is_recorded_once(db_url: str) -> None:
    first, second = record_callbacks(
        db_url, [Callback("st", PRODUCT, (7,), "same"), Callback("st", PRODUCT, (8,), "same")]
    )
    assert (first, second) == (True, False)
    with session_scope(db_url) as s:
        assert [r.entity_id for r in s.query(storage.Dirty)] == [7]


def test_a_database_error_reaches_every_waiter_and_the_writer_survives(db_url: str) -> None:
    calls = []

    def write(callbacks: Sequence[Callback]) -> list[bool]:
        calls.append(len(callbacks))
        if len(calls) == 1:
            raise OperationalError("INSERT", {}, Exception("database is down"))
        return record_callbacks(db_url, callbacks)

    committer = GroupCommit(write)
    with pytest.raises(OperationalError):
        committer.record(Callback("st", PRODUCT, (1,), "a"))
    assert committer.record(Callback("st", PRODUCT, (1,), "a")) is True  # nothing was written the first time


def test_a_deadlocked_group_is_rerun(db_url: str) -> None:
    class Deadlock(Exception):
        sqlstate = "40P01"

    calls = []

    def write(callbacks: Sequence[Callback]) -> list[bool]:
        calls.append(len(callbacks))
        if len(calls) == 1:
            raise OperationalError("INSERT", {}, Deadlock("deadlock detected"))
        return record_callbacks(db_url, callbacks)

    assert GroupCommit(write).record(Callback("st", PRODUCT, (3,), "d")) is True
    assert calls == [1, 1]
