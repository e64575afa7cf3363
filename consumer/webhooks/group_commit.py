"""Group commit: under load, concurrent requests of a web process share one transaction.

A request adds its change to the process's queue. If no commit is in progress it becomes the leader:
it takes everything queued (its own change and whatever arrived meanwhile) and commits it in its own
thread; otherwise it waits, and the requests that queued during a commit form the next group. Every
200 still means "on disk", a storm costs one commit per group instead of one per callback, and a lone
callback pays no hand-off to another thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from workers.store.engine import DatabaseError, is_rerunnable
from workers.store.intake import Callback, Recorder

GROUP_MAX = 200  # callbacks per transaction at the most
WAIT_SECONDS = 10.0  # a request waits this long for its commit (then the receiver answers 503)


class _Slot:
    __slots__ = ("callback", "done", "fresh", "error")

    def __init__(self, callback: Callback) -> None:
        self.callback = callback
        self.done = False
        self.fresh = False
        self.error: BaseException | None = None


class GroupCommit:
    def __init__(self, write: Callable[[Sequence[Callback]], list[bool]]) -> None:
        self._write = write
        self._cond = threading.Condition()
        self._pending: deque[_Slot] = deque()
        self._writing = False

    def record(self, callback: Callback) -> bool:
        """True once durable, False for a replayed webhook id; raises what the database raised
        (TimeoutError when no commit took it within WAIT_SECONDS)."""
        slot = _Slot(callback)
        deadline = time.monotonic() + WAIT_SECONDS
        with self._cond:
            self._pending.append(slot)
            while not slot.done:
                if not self._writing:
                    self._lead()  # releases the lock while it writes
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    if slot in self._pending:  # not taken: withdraw it, nothing was written for it
                        self._pending.remove(slot)
                    raise TimeoutError("no commit within the wait")
                self._cond.wait(left)
        if slot.error is not None:
            raise slot.error
        return slot.fresh

    def _lead(self) -> None:
        """Commit what is queued (up to GROUP_MAX); called and returns with the lock held."""
        group = [self._pending.popleft() for _ in range(min(GROUP_MAX, len(self._pending)))]
        self._writing = True
        self._cond.release()
        try:
            results = self._write_retrying([slot.callback for slot in group])
            for slot, fresh in zip(group, results, strict=True):
                slot.fresh = fresh
        except BaseException as exc:  # every request of the group learns of it
            for slot in group:
                slot.error = exc
        finally:
            self._cond.acquire()
            for slot in group:
                slot.done = True
            self._writing = False
            self._cond.notify_all()

    def _write_retrying(self, callbacks: list[Callback]) -> list[bool]:
        for attempt in range(3):
            try:
                return self._write(callbacks)
            except DatabaseError as exc:
                if attempt == 2 or not is_rerunnable(exc):
                    raise
        raise AssertionError("unreachable")


def group_commit_for(database_url: str) -> GroupCommit:
    """One Recorder (one database connection) per process: only the leader of a commit uses it."""
    return GroupCommit(Recorder(database_url))
