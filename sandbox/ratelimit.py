"""BigCommerce's API rate limiting, simulated: a request quota per store per window, and a per-endpoint
concurrency cap, with the four X-Rate-Limit-* headers on every response.

Plans (FACTS.md): Standard/Plus 150 requests per 30 s, Pro 450 per 30 s, Enterprise by contract
("unlimited" here: never 429 for quota, headers still sent with a large quota). The window length is
configurable so tests can compress time (e.g. 3 s). The window is fixed: it starts with the first
request after the previous one ended, and `X-Rate-Limit-Time-Reset-Ms` counts down to its end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

PLAN_QUOTAS: dict[str, int | None] = {"standard": 150, "plus": 150, "pro": 450, "unlimited": None}
UNLIMITED_QUOTA = 10_000_000  # what the headers say on an unlimited plan
DEFAULT_CONCURRENCY = 3


@dataclass
class Ticket:
    """One request's admission: whether it may run, why not, and the headers to send back."""

    store_hash: str
    endpoint: str
    allowed: bool
    reason: str = ""  # "quota" | "concurrency" when refused
    headers: dict[str, str] = field(default_factory=dict)
    holds_slot: bool = False


@dataclass
class _Window:
    started: float = 0.0
    used: int = 0


class RateLimiter:
    """Thread-safe quota + concurrency limiter shared by every request to one sandbox store."""

    def __init__(
        self,
        plan: str = "standard",
        window_seconds: float = 30.0,
        concurrency: int = DEFAULT_CONCURRENCY,
        quota: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._lock = threading.Lock()
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._in_flight: dict[tuple[str, str], int] = {}
        self.refused = {"quota": 0, "concurrency": 0}
        self.plan = "standard"
        self.window_seconds = 30.0
        self.concurrency = DEFAULT_CONCURRENCY
        self.quota: int | None = 150
        self.configure(plan=plan, window_seconds=window_seconds, concurrency=concurrency, quota=quota)

    def configure(
        self,
        plan: str | None = None,
        window_seconds: float | None = None,
        concurrency: int | None = None,
        quota: int | None = None,
        reset: bool = True,
    ) -> dict:
        """Change the plan (or an explicit quota), window length, concurrency cap; restarts windows."""
        with self._lock:
            if plan is not None:
                if plan not in PLAN_QUOTAS:
                    raise ValueError(f"plan must be one of {sorted(PLAN_QUOTAS)}")
                self.plan = plan
                self.quota = PLAN_QUOTAS[plan]
            if quota is not None:
                self.quota = int(quota)
            if window_seconds is not None:
                if window_seconds <= 0:
                    raise ValueError("window_seconds must be > 0")
                self.window_seconds = float(window_seconds)
            if concurrency is not None:
                if concurrency < 1:
                    raise ValueError("concurrency must be >= 1")
                self.concurrency = int(concurrency)
            if reset:
                self._windows.clear()
                self.refused = {"quota": 0, "concurrency": 0}
        return self.state()

    def state(self, store_hash: str | None = None) -> dict:
        with self._lock:
            out = {
                "plan": self.plan,
                "quota": self.quota,
                "window_seconds": self.window_seconds,
                "concurrency": self.concurrency,
                "refused": dict(self.refused),
            }
            if store_hash is not None:
                window = self._current(store_hash, self._clock())
                out["used"] = window.used
            return out

    def _current(self, store_hash: str, now: float) -> _Window:
        window = self._windows.get(store_hash)
        if window is None or now - window.started >= self.window_seconds:
            window = self._windows[store_hash] = _Window(started=now)
        return window

    def _headers(self, window: _Window, now: float) -> dict[str, str]:
        quota = self.quota if self.quota is not None else UNLIMITED_QUOTA
        reset_ms = max(0, int((window.started + self.window_seconds - now) * 1000))
        return {
            "X-Rate-Limit-Time-Window-Ms": str(int(self.window_seconds * 1000)),
            "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
            "X-Rate-Limit-Requests-Quota": str(quota),
            "X-Rate-Limit-Requests-Left": str(max(0, quota - window.used)),
        }

    def enter(self, store_hash: str, endpoint: str) -> Ticket:
        """Admit (and count) a request, or refuse it with 429 headers. Call `leave` when it is done."""
        with self._lock:
            now = self._clock()
            window = self._current(store_hash, now)
            if self.quota is not None and window.used >= self.quota:
                self.refused["quota"] += 1
                return Ticket(store_hash, endpoint, False, "quota", self._headers(window, now))
            # BigCommerce also limits concurrent requests (about 3 per endpoint) and answers the excess
            # with 429 too: a client that fans out in parallel must cope with it like a quota 429.
            # A refused request does not consume quota.
            key = (store_hash, endpoint)
            if self._in_flight.get(key, 0) >= self.concurrency:
                self.refused["concurrency"] += 1
                return Ticket(store_hash, endpoint, False, "concurrency", self._headers(window, now))
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
            window.used += 1
            return Ticket(store_hash, endpoint, True, "", self._headers(window, now), holds_slot=True)

    def peek(self, store_hash: str) -> dict[str, str]:
        """Current headers without counting anything (for responses refused before admission)."""
        with self._lock:
            now = self._clock()
            return self._headers(self._current(store_hash, now), now)

    def leave(self, ticket: Ticket) -> None:
        if not ticket.holds_slot:
            return
        with self._lock:
            key = (ticket.store_hash, ticket.endpoint)
            left = self._in_flight.get(key, 0) - 1
            if left > 0:
                self._in_flight[key] = left
            else:
                self._in_flight.pop(key, None)
            ticket.holds_slot = False
