"""The failure policy of a flush: what happens to a batch's rows when it fails.

- a configuration error (bad key, missing scope) pauses the store for CONFIG_PAUSE;
- a 429 is flow control: rows come back when the API says, no attempt counted;
- a permanent error, or the MAX_ATTEMPTS-th transient one, sends the rows to the failed list;
- any other transient error: back-off with jitter, one more attempt counted.
The numbers are `workers.domain.retry`'s (`ROWS`, `CONFIG_PAUSE`, `RATE_LIMITED_MIN`)."""

from __future__ import annotations

import logging
import time
import traceback
from typing import TYPE_CHECKING

from workers.domain import retry
from workers.domain.errors import ConfigurationError, PermanentError, SyncError, TransientError
from workers.store.flushes import Verdict

if TYPE_CHECKING:
    from workers.sync.batch import FlushReport
    from workers.sync.syncer import Syncer

log = logging.getLogger("workers.sync.flush")

MAX_ATTEMPTS = retry.ROWS.attempts
CONFIG_PAUSE = retry.CONFIG_PAUSE
backoff = retry.backoff


def verdict(exc: SyncError, attempts: int, now: float, tb: str = "") -> Verdict:
    """What to do with the rows of a batch that failed with `exc` on its `attempts`-th attempt."""
    error = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ConfigurationError):
        return Verdict(
            "pause", error, at=now + CONFIG_PAUSE, kind="configuration", traceback=tb, retry_in=CONFIG_PAUSE
        )
    if isinstance(exc, TransientError) and exc.status == 429:
        # flow control, not a failure of these products: back when the API says (the shared
        # budget already pauses every worker), without counting an attempt toward the
        # failed list or growing the back-off
        delay = max(exc.retry_after or 0.0, retry.RATE_LIMITED_MIN)
        return Verdict("defer", error, at=now + delay, retry_in=delay)
    if isinstance(exc, PermanentError) or attempts >= MAX_ATTEMPTS:
        return Verdict("drop", error, kind=exc.kind, traceback=tb, attempts=attempts)
    delay = backoff(attempts, exc.retry_after)
    return Verdict("retry", error, at=now + delay, attempts=attempts, retry_in=delay)


def fail(sync: Syncer, token: str, ids: list[int], exc: SyncError, report: FlushReport) -> None:
    """Give the rows back for a retry with back-off; after MAX_ATTEMPTS (or at once for a
    permanent error) they go to the failed list; a configuration error pauses the store."""
    sh, now = sync.store.store_hash, time.time()
    report.error = f"{type(exc).__name__}: {exc}"
    tb = traceback.format_exc()
    v = sync.rows.fail(token, ids, lambda attempts: verdict(exc, attempts, now, tb))
    if v.action == "pause":
        report.retry_in = v.retry_in
        log.error(
            "store %s paused for %.0fs: %s (the flush tries again by itself then; fix the configuration, "
            "or `bcsync resume %s` to retry now)",
            sh,
            CONFIG_PAUSE,
            report.error,
            sh,
        )
    elif v.action == "defer":
        report.retry_in = v.retry_in
        log.info(
            "flush of %d products of store %s rate-limited, retry in %.1fs: %s",
            len(ids),
            sh,
            report.retry_in,
            report.error,
        )
    elif v.action == "drop":
        report.failed = len(ids)
        log.error("flush of %d products of store %s failed for good: %s", len(ids), sh, report.error)
    else:
        report.retry_in = v.retry_in
        log.warning(
            "flush of %d products of store %s failed (attempt %d), retry in %.1fs: %s",
            len(ids),
            sh,
            v.attempts,
            report.retry_in,
            report.error,
        )


def unclaim(sync: Syncer, token: str, ids: list[int]) -> None:
    """Best effort (the lease covers a failure): give the rows back, claimable at once."""
    try:
        sync.rows.give_back(token, ids)
        log.warning(
            "flush of %d products of store %s interrupted: rows given back", len(ids), sync.store.store_hash
        )
    except Exception:
        log.exception("could not give back %d claimed rows; their lease will expire", len(ids))
