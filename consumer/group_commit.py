"""Group commit: under load, concurrent requests of a web process share one transaction.

Each request hands its change to the process's writer thread and waits for the commit that holds
it, so every 200 still means "on disk", while a storm costs one commit per group instead of one per
callback. With no concurrency a group is one callback and nothing waits longer than it would.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from sqlalchemy.exc import OperationalError

from workers.storage import Callback, record_callbacks

GROUP_MAX = 200  # callbacks per transaction at the most
WAIT_SECONDS = 10.0  # a request waits this long for its commit (then the receiver answers 503)


class GroupCommit:
    """One writer thread per process (started lazily: threads do not survive gunicorn's fork)."""

    def __init__(self, write: Callable[[Sequence[Callback]], list[bool]]) -> None:
        self._write = write
        self._queue: queue.SimpleQueue[tuple[Callback, Future[bool]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pid = 0

    def record(self, callback: Callback) -> bool:
        """True once durable, False for a replayed webhook id; raises what the database raised."""
        self._ensure_writer()
        done: Future[bool] = Future()
        self._queue.put((callback, done))
        return done.result(timeout=WAIT_SECONDS)

    def _write_retrying(self, callbacks: list[Callback]) -> list[bool]:
        for attempt in range(3):
            try:
                return self._write(callbacks)
            except OperationalError as exc:
                if attempt == 2 or not _is_retryable(exc):
                    raise
        raise AssertionError("unreachable")

    def _ensure_writer(self) -> None:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = queue.SimpleQueue()
                    threading.Thread(
                        target=self._run, args=(self._queue,), name="bcsync-group-commit", daemon=True
                    ).start()
                    self._pid = os.getpid()

    def _run(self, pending: queue.SimpleQueue[tuple[Callback, Future[bool]]]) -> None:
        while True:
            group = [pending.get()]
            while len(group) < GROUP_MAX:
                try:
                    group.append(pending.get_nowait())
                except queue.Empty:
                    break
            try:
                results = self._write_retrying([cb for cb, _ in group])
            except BaseException as exc:  # every waiter learns of it; the thread lives on
                for _, done in group:
                    done.set_exception(exc)
                continue
            for (_, done), fresh in zip(group, results, strict=True):
                done.set_result(fresh)


def _is_retryable(exc: BaseException) -> bool:
    """A deadlock or serialization failure: the transaction was rolled back and may simply be rerun."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return isinstance(exc, OperationalError) and code in ("40P01", "40001")


def group_commit_for(database_url: str) -> GroupCommit:
    return GroupCommit(lambda callbacks: record_callbacks(database_url, callbacks))
