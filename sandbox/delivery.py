"""Webhook delivery the way BigCommerce does it, for the sandbox store.

`HookDispatcher.fire(scope, data)` builds the callback envelope of BigCommerce's published samples
(`scope`, `store_id` as a string, `data`, `hash` = SHA-1 hex of `data`, `created_at` in unix seconds,
`producer` = "stores/<hash>") and POSTs it, asynchronously on a small fixed pool of threads, to every
active hook whose scope matches (exactly, or by a wildcard such as "store/product/*"), with the hook's
custom `headers` and Standard Webhooks signature headers (`webhook-id`, `webhook-timestamp`,
`webhook-signature`; key = base64 of the client secret, so `Webhook(base64(secret)).verify(body, headers)`
succeeds).

Only a 2xx counts. A failure (other status, timeout, connection error) is retried after
`BC_RETRY_SCHEDULE[i] * time_scale` seconds with the same body (same `created_at`) and the same
`webhook-id`, but a fresh `webhook-timestamp` and signature. When the last retry fails, the hook is
deactivated through `deactivate(hook_id)`. A retry whose hook has meanwhile gone or been deactivated is
dropped.

Domain blocklist: per destination host, once a sliding window of `BLOCKLIST_WINDOW * time_scale`
seconds holds at least `BLOCKLIST_MIN_REQUESTS` results and under `BLOCKLIST_MIN_SUCCESS` of them
succeeded, the host is blocked for `BLOCKLIST_SECONDS * time_scale`; deliveries due meanwhile are deferred
to the end of the block (counted as `deferred`; deferral does not use up a retry).
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import http.client
import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

BC_RETRY_SCHEDULE = (60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400)
BLOCKLIST_WINDOW = 120.0
BLOCKLIST_MIN_REQUESTS = 100
BLOCKLIST_MIN_SUCCESS = 0.9
BLOCKLIST_SECONDS = 180.0
DEFAULT_WORKERS = 8
USER_AGENT = "bcsync-sandbox-webhooks/1.0"


def scope_matches(hook_scope: str, scope: str) -> bool:
    """Exact match, or a hook scope ending in "/*" that covers the event scope's sub-scopes."""
    if hook_scope == scope:
        return True
    if hook_scope.endswith("/*"):
        return scope.startswith(hook_scope[:-1])
    return False


def store_id_for(store_hash: str) -> str:
    """A stable numeric store id (BigCommerce sends it as a string) derived from the store hash."""
    digest = hashlib.sha1(store_hash.encode(), usedforsecurity=False).hexdigest()
    return str(1_000_000 + int(digest[:8], 16) % 9_000_000)


def data_hash(data: dict) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha1(canonical, usedforsecurity=False).hexdigest()


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
        self._results: dict[str, deque[tuple[float, bool]]] = {}  # per host: (time, success) in the window
        self._successes: dict[str, int] = {}  # per host: successes among those
        self._blocked_until: dict[str, float] = {}
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
        self._local = threading.local()
        self._threads = [
            threading.Thread(target=self._work, name=f"hook-dispatcher-{i}", daemon=True)
            for i in range(max(1, workers))
        ]
        for thread in self._threads:
            thread.start()

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
            out["blocked_hosts"] = sorted(h for h, until in self._blocked_until.items() if until > now)
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
    def _post(self, destination: str, body: bytes, headers: dict[str, str]) -> int:
        """POST on this thread's kept-alive connection to the destination; the HTTP status.

        http.client rather than requests: a storm of thousands of callbacks is CPU-bound in the sandbox
        process, and proxies from the environment must never see loopback traffic.
        """
        parts = urlsplit(destination)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"unsupported destination {destination!r}")
        key = (parts.scheme, parts.hostname, parts.port)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connections: dict[tuple, http.client.HTTPConnection] = self._local.__dict__.setdefault(
            "connections", {}
        )
        for _ in range(2):
            conn = connections.pop(key, None)
            reused = conn is not None
            if conn is None:
                if parts.scheme == "https":
                    conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self.timeout)
                else:
                    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
            try:
                conn.request("POST", path, body=body, headers={"User-Agent": USER_AGENT, **headers})
                response = conn.getresponse()
                response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                if reused:  # a kept-alive connection the destination had closed: once more, afresh
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if response.will_close:
                conn.close()
            else:
                connections[key] = conn
            return response.status
        raise ConnectionError("destination closed the connection")

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
                for conn in self._local.__dict__.pop("connections", {}).values():
                    conn.close()
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
            blocked_until = self._blocked_until.get(host, 0.0)
            if blocked_until > now:
                self._stats["deferred"] += 1
        if blocked_until > now:
            self._schedule(job, blocked_until)
            return

        outcome: str
        try:
            status = self._post(destination, job.body, self._headers(job, hook))
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
            results = self._results.setdefault(host, deque())
            results.append((now, ok))
            successes = self._successes.get(host, 0) + ok
            window = BLOCKLIST_WINDOW * self.time_scale
            while results and results[0][0] < now - window:
                successes -= results.popleft()[1]
            if (
                len(results) >= BLOCKLIST_MIN_REQUESTS
                and self._blocked_until.get(host, 0.0) <= now
                and successes < BLOCKLIST_MIN_SUCCESS * len(results)
            ):
                self._blocked_until[host] = now + BLOCKLIST_SECONDS * self.time_scale
                stats["blocklisted"] += 1
                results.clear()
                successes = 0
            self._successes[host] = successes
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
