"""Group commit: concurrent callbacks share a transaction, each still answered only once durable."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from sqlalchemy.exc import OperationalError

from consumer.webhooks.group_commit import GroupCommit
from workers.store import storage
from workers.store.intake import Callback, Recorder
from workers.store.storage import PRODUCT, session_scope


def record_callbacks(url: str, callbacks: Sequence[Callback]) -> list[bool]:
    """A group recorded as the receiver records it (a Recorder), with a connection of its own."""
    recorder = Recorder(url)
    try:
        return recorder(callbacks)
    finally:
        recorder.close()


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


def test_one_group_mixing_new_replayed_and_unsigned_callbacks(db_url: str) -> None:
    record_callbacks(db_url, [Callback("st", PRODUCT, (9,), "seen-before")])
    results = record_callbacks(
        db_url,
        [
            Callback("st", PRODUCT, (1, 2, 2), None),  # X-Webhook-Secret only: no id, always recorded
            Callback("st", PRODUCT, (2, 3), "a"),
            Callback("st", PRODUCT, (4,), "a"),  # the same webhook id again in the group
            Callback("st", PRODUCT, (5,), "seen-before"),  # replayed from an earlier commit
            Callback("other", PRODUCT, (1,), "b"),
        ],
    )
    assert results == [True, True, False, False, True]
    with session_scope(db_url) as s:
        rows = {(r.store_hash, r.entity_id): r.version for r in s.query(storage.Dirty)}
    # each key once per group (version 1), nothing for the replays (4, 5), 9 from the first group
    assert rows == {("st", 1): 1, ("st", 2): 1, ("st", 3): 1, ("st", 9): 1, ("other", 1): 1}
    record_callbacks(db_url, [Callback("st", PRODUCT, (2,), "c")])
    with session_scope(db_url) as s:
        assert s.get(storage.Dirty, ("st", PRODUCT, 2)).version == 2  # a later change bumps it


def test_the_recorder_replaces_a_connection_the_server_dropped(pg_url: str) -> None:
    from sqlalchemy import text

    from workers.store.intake import Recorder

    others = text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    recorder = Recorder(pg_url)
    try:
        assert recorder([Callback("st", PRODUCT, (1,), "before")]) == [True]
        with session_scope(pg_url) as s:  # what a PostgreSQL restart does to every open connection
            dropped = set(s.scalars(others))
            s.execute(
                text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) AS pid"),
                {"pids": sorted(dropped)},
            )
        assert dropped  # the recorder's connection among them
        assert recorder([Callback("st", PRODUCT, (2,), "after")]) == [True]  # no error reaches the caller
        with session_scope(pg_url) as s:  # ... because it wrote on a new connection
            assert set(s.scalars(others)) - dropped
    finally:
        recorder.close()
    with session_scope(pg_url) as s:
        assert {r.entity_id for r in s.query(storage.Dirty).filter_by(store_hash="st")} >= {1, 2}


def test_a_database_that_is_down_surfaces_as_an_operational_error() -> None:
    from workers.store.intake import Recorder

    recorder = Recorder("postgresql://postgres@127.0.0.1:9/nowhere")
    with pytest.raises(OperationalError):
        recorder([Callback("st", PRODUCT, (1,), "x")])


def test_a_request_whose_commit_never_comes_times_out_and_leaves_nothing_queued(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from consumer.webhooks import group_commit

    writing, release = threading.Event(), threading.Event()
    written: list[list[str | None]] = []  # the webhook ids of each group the database was handed

    def slow_write(callbacks: Sequence[Callback]) -> list[bool]:
        written.append([cb.webhook_id for cb in callbacks])
        writing.set()
        release.wait(10)
        return [True] * len(callbacks)

    monkeypatch.setattr(group_commit, "WAIT_SECONDS", 0.3)
    committer = GroupCommit(slow_write)
    leader = threading.Thread(target=committer.record, args=(Callback("st", PRODUCT, (1,), "l"),))
    leader.start()
    assert writing.wait(10)  # the leader is writing, so the next request waits behind it
    with pytest.raises(TimeoutError):
        committer.record(Callback("st", PRODUCT, (2,), "f"))
    release.set()
    leader.join(5)
    # the timed-out callback was withdrawn: the next group is only the next request's, never "f"
    assert committer.record(Callback("st", PRODUCT, (3,), "n")) is True
    assert written == [["l"], ["n"]]
