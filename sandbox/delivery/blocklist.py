"""BigCommerce's domain blocklist: a destination host whose success ratio over a sliding window falls
under `BLOCKLIST_MIN_SUCCESS` (with at least `BLOCKLIST_MIN_REQUESTS` results) is blocked for a while.
Not thread-safe on its own: the dispatcher calls it under its lock."""

from __future__ import annotations

from collections import deque

from sandbox.delivery.envelope import (
    BLOCKLIST_MIN_REQUESTS,
    BLOCKLIST_MIN_SUCCESS,
    BLOCKLIST_SECONDS,
    BLOCKLIST_WINDOW,
)


class Blocklist:
    def __init__(self, time_scale: float) -> None:
        self.time_scale = time_scale
        self.results: dict[str, deque[tuple[float, bool]]] = {}  # per host: (time, success) in the window
        self.successes: dict[str, int] = {}  # per host: successes among those
        self.blocked_until: dict[str, float] = {}

    def until(self, host: str) -> float:
        return self.blocked_until.get(host, 0.0)

    def blocked_hosts(self, now: float) -> list[str]:
        return sorted(h for h, until in self.blocked_until.items() if until > now)

    def record(self, host: str, ok: bool, now: float) -> bool:
        """Count one result; True when it blocks the host (from now on, for BLOCKLIST_SECONDS)."""
        results = self.results.setdefault(host, deque())
        results.append((now, ok))
        successes = self.successes.get(host, 0) + ok
        window = BLOCKLIST_WINDOW * self.time_scale
        while results and results[0][0] < now - window:
            successes -= results.popleft()[1]
        blocked = (
            len(results) >= BLOCKLIST_MIN_REQUESTS
            and self.until(host) <= now
            and successes < BLOCKLIST_MIN_SUCCESS * len(results)
        )
        if blocked:
            self.blocked_until[host] = now + BLOCKLIST_SECONDS * self.time_scale
            results.clear()
            successes = 0
        self.successes[host] = successes
        return blocked
