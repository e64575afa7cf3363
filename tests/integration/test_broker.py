"""The embedded file broker (workers.tasks.broker.FilesystemTransport): a message file is visible only once
complete, and one that cannot be read (empty, truncated) is set aside instead of killing the worker.
The Redis side (a worker surviving Redis restarts) is in tests/reliability/test_reliability.py."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from queue import Empty

import pytest
from celery import Celery
from kombu import Connection
from kombu.simple import SimpleQueue

from tests.harness import Stack, service_env, wait_until
from workers.settings import Settings, broker_folder
from workers.tasks.app import make_celery
from workers.tasks.broker import PARTIAL_SUFFIX, FilesystemChannel


def _settings(tmp_path: Path) -> Settings:
    db = f"sqlite:///{tmp_path / 'bcsync.db'}"
    return Settings(stores={}, database_url=db, broker_url="filesystem://", var_dir=tmp_path)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Celery]:
    app = make_celery(_settings(tmp_path))
    yield app
    app.close()


@pytest.fixture
def conn(app: Celery) -> Iterator[Connection]:
    with app.connection_for_write() as conn:
        yield conn


def _folder(tmp_path: Path, sub: str) -> Path:
    return broker_folder(_settings(tmp_path)) / sub


def _drop(tmp_path: Path, queue: str, content: bytes, suffix: str = "") -> Path:
    """A message file as another writer left it (one millisecond 'older' than anything sent now)."""
    name = f"{round(time.monotonic() * 1000) - 1}_{uuid.uuid4()}.{queue}.msg{suffix}"
    path = _folder(tmp_path, "queue") / name
    path.write_bytes(content)
    return path


def test_the_celery_app_uses_the_hardened_transport(conn: Connection) -> None:
    assert isinstance(conn.default_channel, FilesystemChannel)


def test_unreadable_message_files_are_set_aside_and_the_next_message_is_read(
    tmp_path: Path, conn: Connection
) -> None:
    queue = SimpleQueue(conn, "q1")
    queue.put({"n": 1})
    empty = _drop(tmp_path, "q1", b"")
    truncated = _drop(tmp_path, "q1", b'{"body": "eyJ')
    not_an_object = _drop(tmp_path, "q1", b"[1, 2]")
    message = queue.get(block=False)
    assert message.payload == {"n": 1}
    message.ack()
    with pytest.raises(Empty):
        queue.get(block=False)
    bad = _folder(tmp_path, "bad")
    assert sorted(p.name for p in bad.iterdir()) == sorted(p.name for p in (empty, truncated, not_an_object))
    assert (bad / truncated.name).read_bytes() == b'{"body": "eyJ'  # kept as it was, for a look
    assert not list(_folder(tmp_path, "queue").iterdir())
    assert not list(_folder(tmp_path, "processed").iterdir())  # store_processed=False: read, then removed
    queue.close()


def test_a_message_file_is_visible_only_once_complete(tmp_path: Path, conn: Connection) -> None:
    queue = SimpleQueue(conn, "q2")
    in_progress = _drop(tmp_path, "q2", b'{"body": "eyJ', suffix=PARTIAL_SUFFIX)  # a writer mid-write
    with pytest.raises(Empty):
        queue.get(block=False)
    assert in_progress.exists(), "a file still being written must be left to its writer"
    queue.put({"n": 2})
    names = [p.name for p in _folder(tmp_path, "queue").iterdir()]
    assert len(names) == 2 and sum(n.endswith(".q2.msg") for n in names) == 1, names
    message = queue.get(block=False)
    assert message.payload == {"n": 2}
    message.ack()
    # a .part file its writer never finished is set aside once it is old
    old = time.time() - 3600
    os.utime(in_progress, (old, old))
    with pytest.raises(Empty):
        queue.get(block=False)
    assert not in_progress.exists()
    assert (_folder(tmp_path, "bad") / in_progress.name).exists()
    queue.close()


def test_an_empty_exchange_file_binds_nothing_yet(tmp_path: Path, conn: Connection) -> None:
    """kombu created an exchange file before writing it, so a reader or binder could find it empty."""
    channel = conn.default_channel
    (_folder(tmp_path, "control") / "ex1.exchange").write_bytes(b"")
    assert channel.get_table("ex1") == []
    channel._queue_bind("ex1", "rk", None, "q3")
    assert [tuple(q) for q in channel.get_table("ex1")] == [("rk", "", "q3")]
    channel._queue_bind("ex1", "rk", None, "q3")  # bound once only
    channel._queue_bind("ex1", "rk2", None, "q4")
    assert [q.queue for q in channel.get_table("ex1")] == ["q4", "q3"]


def test_a_real_worker_survives_unreadable_message_files(tmp_path: Path) -> None:
    """An empty and a truncated message file in the queue used to end the worker with
    "Unrecoverable error: JSONDecodeError"; it must set them aside and go on consuming."""
    db = f"sqlite:///{tmp_path / 'bcsync.db'}"
    stack = Stack(
        env=service_env(
            bc_url="http://127.0.0.1:9",  # not called: the tasks here only touch the database
            ometria_url="http://127.0.0.1:9",
            db_url=db,
            broker_url="filesystem://",
            var_dir=tmp_path,
        ),
        var_dir=tmp_path,
    )
    app = make_celery(_settings(tmp_path))
    queue = stack.env["BCSYNC_QUEUE"]
    try:
        worker = stack.start_worker(concurrency=1)
        bad = [_drop(tmp_path, queue, b""), _drop(tmp_path, queue, b'{"body": "eyJ')]
        task_id = app.send_task("workers.tasks.prune").id
        wait_until(
            lambda: worker.poll() is not None or f"[{task_id}] succeeded" in stack.logs("worker"),
            30,
            what="a task sent after the unreadable files to succeed",
        )
        assert worker.poll() is None, f"the worker exited:\n{stack.logs('worker')[-4000:]}"
        log = stack.logs("worker")
        assert "Unrecoverable error" not in log, log[-4000:]
        assert log.count("skipped an unreadable broker message") == 2, log[-4000:]
        assert sorted(p.name for p in _folder(tmp_path, "bad").iterdir()) == sorted(p.name for p in bad)
    finally:
        stack.stop()
        app.close()
