"""Request budgets shared by every worker process, kept in the database (`rate_budget` rows).

BigCommerce: one quota per store per window, fed by the X-Rate-Limit-* headers of every answer.
Workers pace themselves as Requests-Left falls, keep a reserve for the store's other apps, and all
pause until the window resets after a 429. Ometria: `OMETRIA_PUSH_RATE` requests per second per
store, pausing on 429 and when its queue (X-QueueSize-Remaining) runs low.

The budget lives in the database so it works on every configuration (SQLite, PostgreSQL) and
across processes; each request costs two tiny transactions, negligible next to the HTTP call.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager

from workers.clients.ratelimit import RateHeaders
from workers.domain import retry
from workers.store.models import RateBudget
from workers.store.state import locked_budget

log = logging.getLogger(__name__)

PLATFORM_BACKOFF = retry.PLATFORM_BACKOFF  # a 429 without rate headers means platform load
SLOT_EXPIRY = 40.0  # longer than any request's connect + read timeout: a slot this old was leaked


class SharedBudget:
    """A window quota shared through the database. `acquire()` blocks until a request may go."""

    def __init__(
        self,
        db_url: str,
        store_hash: str,
        api: str,
        *,
        quota: int,
        window: float,
        reserve: int = 0,
        concurrency: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db_url, self.store_hash, self.api = db_url, store_hash, api
        self.default_quota, self.window, self.reserve = quota, window, reserve
        self._sleep, self._clock = sleep, clock
        self.concurrency = concurrency
        self._local = threading.local()

    def _locked(self) -> AbstractContextManager[RateBudget]:
        """The budget row, locked for one transaction; created on first use (race-free)."""
        return locked_budget(self.db_url, self.store_hash, self.api, self.default_quota)

    def _delay(self, row: RateBudget, now: float) -> float:
        """Seconds to wait before the next request (0 = go now, having taken one from `left`)."""
        if row.paused_until > now:
            return row.paused_until - now
        if row.window_reset_at <= now:  # a new window: the quota is whole again
            row.window_reset_at = now + self.window
            row.left = row.quota
        usable = row.left - self.reserve
        if usable <= 0:
            return max(row.window_reset_at - now, 0.01)
        row.left -= 1
        # pace: once half the quota is gone, spread what is left over the rest of the window
        if row.left < row.quota / 2:
            return -((row.window_reset_at - now) / max(usable, 1))
        return 0.0

    def _take_slot(self, row: RateBudget, now: float) -> bool:
        """At most `concurrency` requests in flight across every process (slots expire if leaked)."""
        if not self.concurrency:
            return True
        slots = [s for s in (row.slots or []) if now - float(s[1]) < SLOT_EXPIRY]
        if len(slots) >= self.concurrency:
            row.slots = slots
            return False
        self._local.token = uuid.uuid4().hex
        row.slots = [*slots, [self._local.token, now]]
        return True

    def _free_slot(self, row: RateBudget) -> None:
        token = getattr(self._local, "token", None)
        if self.concurrency and token:
            row.slots = [s for s in (row.slots or []) if s[0] != token]
            self._local.token = None

    def acquire(self) -> None:
        while True:
            now = self._clock()
            with self._locked() as row:
                delay = self._delay(row, now)
                if delay <= 0 and not self._take_slot(row, now):
                    row.left += 1  # not sent after all
                    delay = 0.05
            if delay <= 0:
                if delay < 0:  # taken, but pace before sending
                    self._sleep(-delay)
                return
            self._sleep(min(delay, 5.0))

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Fed every answer (status 0 when the request failed without one: frees its slot)."""
        now = self._clock()
        rate = RateHeaders.of(headers)
        left, quota, reset_ms = rate.left, rate.quota, rate.reset_ms
        queue_left, queue_limit = rate.queue_left, rate.queue_limit
        if status != 429 and left is None and queue_left is None and not self.concurrency:
            return
        with self._locked() as row:
            self._free_slot(row)
            if quota is not None and quota > 0:
                row.quota = int(quota)
            if left is not None and reset_ms is not None:
                row.left = int(left)
                row.window_reset_at = now + reset_ms / 1000.0
                row.observed_at = now  # the quota as last seen (liveness: workers.domain.health)
            if status == 429:
                default = PLATFORM_BACKOFF if self.api == "bigcommerce" else retry.OMETRIA_RETRY_AFTER
                pause = rate.wait_429(default)
                row.paused_until = max(row.paused_until, now + pause)
                row.left = 0
                log.warning(
                    "%s answered 429 for store %s: every worker pauses %.1fs",
                    self.api,
                    self.store_hash,
                    pause,
                )
            elif queue_left is not None and queue_limit:
                # Ometria's queue is filling: slow down in proportion, up to 2 s between pushes
                share = queue_left / queue_limit
                if share < 0.2:
                    row.paused_until = max(row.paused_until, now + 2.0 * (1 - share / 0.2))


def bigcommerce_budget(db_url: str, store_hash: str, reserve: int, concurrency: int = 3) -> SharedBudget:
    # Standard plan until the first answer tells the real quota and window
    # about 3 concurrent requests per endpoint (FACTS.md): one cap for all workers, 3 by default
    return SharedBudget(
        db_url, store_hash, "bigcommerce", quota=150, window=30.0, reserve=reserve, concurrency=concurrency
    )


def ometria_budget(
    db_url: str,
    store_hash: str,
    rate: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> SharedBudget:
    # `rate` requests per 1-second window (a fractional rate becomes 1 per 1/rate seconds)
    if rate >= 1:
        return SharedBudget(
            db_url, store_hash, "ometria", quota=int(rate), window=1.0, sleep=sleep, clock=clock
        )
    return SharedBudget(db_url, store_hash, "ometria", quota=1, window=1.0 / rate, sleep=sleep, clock=clock)
