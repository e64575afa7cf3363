"""Debounced wake-ups: many changes to a store within SYNC_DEBOUNCE_SECONDS become one flush task.

Used by the web process. `note(store)` is cheap and never blocks or fails the request: a
background thread publishes one `flush_store` per store once its first unflushed change is
`debounce` seconds old. If the broker is down the publish fails, is logged and forgotten: the
change is on disk and beat's sweep flushes it when the broker is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Waker:
    def __init__(self, publish: Callable[[str], None], debounce: float) -> None:
        self._publish = publish
        self._debounce = debounce
        self._due: dict[str, float] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def note(self, store_hash: str) -> None:
        with self._cond:
            self._ensure_thread()
            if store_hash not in self._due:
                self._due[store_hash] = time.monotonic() + self._debounce
                self._cond.notify()

    def _ensure_thread(self) -> None:
        import os

        # A thread does not survive fork (gunicorn forks workers after import): start one per process.
        if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="bcsync-waker", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                ready = [s for s, t in self._due.items() if t <= now]
                for s in ready:
                    del self._due[s]
                if not ready:
                    wait = min(self._due.values(), default=now + 60) - now
                    self._cond.wait(timeout=max(wait, 0.01))
                    continue
            for store_hash in ready:
                try:
                    self._publish(store_hash)
                except Exception as exc:  # broker down: the sweep will flush it
                    log.warning(
                        "could not publish a flush for store %s (%s); the sweep will catch it",
                        store_hash,
                        type(exc).__name__,
                    )


def publish_flush(store_hash: str) -> None:
    from workers.tasks.jobs import flush_store

    flush_store.apply_async(args=[store_hash], retry=False)
