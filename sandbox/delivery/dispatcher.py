"""`HookDispatcher`: delivers a store's callbacks to its hooks, with BigCommerce's retries and blocklist
(see the package docstring for the rules)."""

from __future__ import annotations

import base64
import heapq
import http.client
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

from sandbox.delivery.blocklist import Blocklist
from sandbox.delivery.envelope import (
    BC_RETRY_SCHEDULE,
    DEFAULT_WORKERS,
    data_hash,
    scope_matches,
    store_id_for,
)
from sandbox.delivery.transport import Transport


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    hook_id: int = field(compare=False)
    body: bytes = field(compare=False)
    message_id: str = field(compare=False)
    attempt: int = field(compare=False, default=0)  # 0 = first delivery, i = i-th retry
    hook: dict = field(compare=False, default_factory=dict)


class HookDispatcher:
    """Delivers a store's callbacks to its hooks on `workers` threads, however many are fired."""

    def __init__(
        self,
        store_hash: str,
        client_secret: str,
        get_hooks: Callable[[], list[dict]],
        deactivate: Callable[[int], None],
        time_scale: float = 1.0,
        timeout: float = 10.0,
        sign: bool = True,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self.store_hash = store_hash
        self.store_id = store_id_for(store_hash)
        self._webhook = Webhook(base64.b64encode(client_secret.encode()).decode()) if sign else None
        self._get_hooks = get_hooks
        self._deactivate = deactivate
        self.time_scale = float(time_scale)
        self.timeout = float(timeout)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # workers wait here for due jobs
        self._idle = threading.Condition(self._lock)  # wait_idle() waits here
        self._heap: list[_Job] = []
        self._seq = itertools.count()
        self._in_flight = 0
        self._stopped = False
        self._blocklist = Blocklist(self.time_scale)
        self._stats: dict[str, Any] = {
            "fired": 0,
            "enqueued": 0,
            "attempts": 0,
            "delivered": 0,
            "failed_attempts": 0,
            "retries_scheduled": 0,
            "deactivated": 0,
            "dropped": 0,
            "deferred": 0,
            "blocklisted": 0,
            "by_status": {},
        }
        self._transport = Transport(self.timeout)
        self._threads = [
            threading.Thread(target=self._work, name=f"hook-dispatcher-{i}", daemon=True)
            for i in range(max(1, workers))
        ]
        for thread in self._threads:
            thread.start()

    @property
    def _blocked_until(self) -> dict[str, float]:
        """Host -> monotonic time its block ends (read by /hooks/admin)."""
        return self._blocklist.blocked_until

    def __repr__(self) -> str:
        return f"HookDispatcher(store_hash={self.store_hash!r}, time_scale={self.time_scale})"

    # -- public ----------------------------------------------------------------------------------------
    def envelope(self, scope: str, data: dict) -> dict:
        return {
            "scope": scope,
            "store_id": self.store_id,
            "data": data,
            "hash": data_hash(data),
            "created_at": int(time.time()),
            "producer": f"stores/{self.store_hash}",
        }

    def fire(self, scope: str, data: dict) -> None:
        body = json.dumps(self.envelope(scope, data), separators=(",", ":")).encode()
        hooks = [
            hook
            for hook in self._get_hooks()
            if hook.get("is_active") and scope_matches(str(hook.get("scope")), scope)
        ]
        now = time.monotonic()
        with self._cond:
            self._stats["fired"] += 1
            if self._stopped:
                return
            for hook in hooks:
                job = _Job(
                    due=now,
                    seq=next(self._seq),
                    hook_id=int(hook["id"]),
                    body=body,
                    message_id=str(uuid.uuid4()),
                    hook=dict(hook),
                )
                heapq.heappush(self._heap, job)
                self._stats["enqueued"] += 1
                self._cond.notify()

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
            return True

    def stats(self) -> dict:
        now = time.monotonic()
        with self._cond:
            out = {
                key: (dict(value) if isinstance(value, dict) else value) for key, value in self._stats.items()
            }
            out["retries_pending"] = sum(1 for job in self._heap if job.attempt > 0)
            out["queued"] = len(self._heap)
            out["in_flight"] = self._in_flight
            out["blocked_hosts"] = self._blocklist.blocked_hosts(now)
        return out

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()
            self._idle.notify_all()
        deadline = time.monotonic() + self.timeout + 1.0  # an attempt in flight ends within its timeout
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))

    # -- workers ---------------------------------------------------------------------------------------
    def _next_job(self) -> _Job | None:
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                if self._heap and self._heap[0].due <= now:
                    job = heapq.heappop(self._heap)
                    self._in_flight += 1
                    return job
                self._cond.wait(self._heap[0].due - now if self._heap else None)
            return None

    def _work(self) -> None:
        while True:
            job = self._next_job()
            if job is None:
                self._transport.close_thread_connections()
                return
            try:
                self._attempt(job)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    if not self._heap and not self._in_flight:
                        self._idle.notify_all()

    def _current_hook(self, job: _Job) -> dict | None:
        if job.attempt == 0:
            return job.hook
        for hook in self._get_hooks():
            if int(hook.get("id", -1)) == job.hook_id:
                return hook if hook.get("is_active") else None
        return None

    def _schedule(self, job: _Job, due: float) -> None:
        with self._cond:
            if self._stopped:
                return
            job.due = due
            job.seq = next(self._seq)
            heapq.heappush(self._heap, job)
            self._cond.notify()

    def _headers(self, job: _Job, hook: dict) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        for key, value in (hook.get("headers") or {}).items():
            headers[str(key)] = str(value)
        if self._webhook is not None:
            now = datetime.now(UTC)
            headers["webhook-id"] = job.message_id
            headers["webhook-timestamp"] = str(int(now.timestamp()))
            headers["webhook-signature"] = self._webhook.sign(job.message_id, now, job.body.decode())
        return headers

    def _attempt(self, job: _Job) -> None:
        hook = self._current_hook(job)
        if hook is None:
            with self._cond:
                self._stats["dropped"] += 1
            return
        destination = str(hook.get("destination", ""))
        host = (urlsplit(destination).hostname or "").lower()
        now = time.monotonic()
        with self._cond:
            blocked_until = self._blocklist.until(host)
            if blocked_until > now:
                self._stats["deferred"] += 1
        if blocked_until > now:
            self._schedule(job, blocked_until)
            return

        outcome: str
        try:
            status = self._transport.post(destination, job.body, self._headers(job, hook))
            outcome, ok = str(status), 200 <= status < 300
        except TimeoutError:
            outcome, ok = "timeout", False
        except (OSError, http.client.HTTPException, ValueError):
            outcome, ok = "connection_error", False
        self._record(host, job, outcome, ok)

    def _record(self, host: str, job: _Job, outcome: str, ok: bool) -> None:
        now = time.monotonic()
        retry_due: float | None = None
        deactivate = False
        with self._cond:
            stats = self._stats
            stats["attempts"] += 1
            stats["by_status"][outcome] = stats["by_status"].get(outcome, 0) + 1
            if self._blocklist.record(host, ok, now):
                stats["blocklisted"] += 1
            if ok:
                stats["delivered"] += 1
            else:
                stats["failed_attempts"] += 1
                if job.attempt < len(BC_RETRY_SCHEDULE):
                    retry_due = now + BC_RETRY_SCHEDULE[job.attempt] * self.time_scale
                    stats["retries_scheduled"] += 1
                else:
                    deactivate = True
                    stats["deactivated"] += 1
        if retry_due is not None:
            job.attempt += 1
            self._schedule(job, retry_due)
        elif deactivate:
            self._deactivate(job.hook_id)
