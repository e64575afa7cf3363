"""The one retry policy: how long to wait before trying again, and how often to try (pure).

One rule for every wait: exponential back-off with jitter — after attempt n, a random time in
[b/2, b] where b = min(cap, base · 2**n) — and never less than the server's wait hint
(`Retry-After`, `X-Rate-Limit-Time-Reset-Ms`): a hint is honoured in full, whatever the cap.

The numbers, one `Policy` per kind of work:
- `ROWS`: a batch's dirty rows after a failed flush (and a failed category fan-out): 8 attempts,
  then the failed list; waits of 2-4 s, 4-8 s, … up to 10 minutes.
- `FETCH`: one BigCommerce call inside a flush (the flush holds its claim meanwhile): 3 attempts,
  at most 30 s between them; a hint longer than that gives the batch back to `ROWS` instead.
- `PUSH`: one Ometria push inside a flush: 4 attempts, at most 8 s between them (likewise).
- `TASK`: a Celery task that failed unexpectedly (database or broker away): 20 retries, waits up to
  5 minutes (`workers.tasks.jobs.SyncTask`, through Celery's autoretry; after r earlier retries it
  waits `delay(r)`: 1-2 s, 2-4 s, …).
And what a wait is when the server gives no hint, or must not be shorter:
- `PLATFORM_BACKOFF`: a BigCommerce 429 without rate-limit headers (platform load);
- `OMETRIA_RETRY_AFTER`: an Ometria 429 without `Retry-After`;
- `RATE_LIMITED_MIN`: rows refused by a 429 come back after at least this (no attempt counted);
- `CONFIG_PAUSE`: a configuration error (bad key, missing scope) pauses the store this long.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

PLATFORM_BACKOFF = 5.0
OMETRIA_RETRY_AFTER = 1.0
RATE_LIMITED_MIN = 1.0
CONFIG_PAUSE = 300.0


@dataclass(frozen=True)
class Policy:
    """`attempts` tries in all; the wait after attempt n (1-based) is `delay(n, hint)`."""

    base: float
    cap: float
    attempts: int

    def ceiling(self, attempt: int) -> float:
        """The longest jittered wait after `attempt` (before any hint)."""
        return min(self.cap, self.base * 2.0 ** max(attempt, 0))

    def delay(
        self,
        attempt: int,
        hint: float | None = None,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> float:
        """Seconds to wait after `attempt`: jittered in [ceiling/2, ceiling], never less than `hint`."""
        top = self.ceiling(attempt)
        return max(hint or 0.0, uniform(top / 2, top))

    def fits(self, hint: float | None) -> bool:
        """Whether a wait of `hint` is short enough to retry in place (else: hand the work back)."""
        return hint is None or hint <= self.cap


ROWS = Policy(base=2.0, cap=600.0, attempts=8)
FETCH = Policy(base=0.5, cap=30.0, attempts=3)
PUSH = Policy(base=0.5, cap=8.0, attempts=4)
TASK = Policy(base=2.0, cap=300.0, attempts=20)


def backoff(attempt: int, hint: float | None = None) -> float:
    """The wait of a batch's rows after their `attempt`-th failure (`ROWS`)."""
    return ROWS.delay(attempt, hint)


def rate_limit_wait(reset_ms: float | None, retry_after: float | None, default: float) -> float:
    """What a 429 asks to wait: the window's reset (ms) if given, else `Retry-After`, else `default`."""
    if reset_ms is not None:
        return max(reset_ms / 1000.0, 0.0)
    if retry_after is not None:
        return max(retry_after, 0.0)
    return default
