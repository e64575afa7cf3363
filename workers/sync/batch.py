"""One flush of a batch: claim ≤1000 dirty products, fetch them 250 a call, plan, push, release.

claim ≤1000 dirty rows → GET products?id:in=… (≤250 a call) → map (pure) → fingerprint, keep the
changed records → push ≤100 a request → record fingerprints → release the rows whose version
did not move meanwhile."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workers.domain.errors import SyncError
from workers.store.engine import DatabaseError
from workers.store.models import PRODUCT
from workers.sync import journal
from workers.sync.failure import fail, unclaim
from workers.sync.fetch import FETCH_BATCH, fetch_all
from workers.sync.push import record_refused

if TYPE_CHECKING:
    from workers.sync.syncer import Syncer

BATCH = 1000  # products claimed by one flush: 4 catalogue calls, and pushes of 100 across all of them


@dataclass
class FlushReport:
    claimed: int = 0
    fetched: int = 0
    gone: int = 0
    records: int = 0
    pushed: int = 0
    requests: int = 0
    released: int = 0
    failed: int = 0
    error: str | None = None
    retry_in: float | None = None

    def __str__(self) -> str:
        text = (
            f"{self.claimed} dirty, {self.fetched} fetched, {self.gone} gone, "
            f"{self.pushed} record(s) pushed in {self.requests} request(s)"
        )
        if self.failed:
            text += f", {self.failed} failed"
        if self.error:
            text += f"; error: {self.error} (retry in {self.retry_in or 0:.0f}s)"
        return text


def settle_time(sync: Syncer, now: float | None = None) -> float:
    """Seconds to let the store's backlog settle before a flush (0: flush now).

    A storm (a bulk import fires a callback per product, often several) is flushed once it
    goes quiet — no new change for SYNC_DEBOUNCE_SECONDS — so that each product is fetched
    once and batches are full; a store that never goes quiet is flushed anyway once its
    oldest change has waited SYNC_MAX_WAIT_SECONDS. An isolated change goes after the debounce."""
    now = time.time() if now is None else now
    count, oldest, newest = sync.rows.backlog(PRODUCT, now)
    if not count:
        return 0.0
    quiet_at = newest + sync.settings.debounce_seconds
    overdue_at = oldest + sync.settings.max_wait_seconds
    return max(0.0, min(quiet_at, overdue_at) - now)


def paused(sync: Syncer) -> float:
    return max(0.0, sync.rows.paused_until() - time.time())


def flush_batch(sync: Syncer) -> FlushReport | None:
    """Flush one batch of dirty products. None when there was nothing to claim."""
    token = uuid.uuid4().hex
    claimed = sync.rows.claim(PRODUCT, token, BATCH, sync.lease)
    if not claimed:
        return None
    ids = sorted(claimed)
    report = FlushReport(claimed=len(ids))
    try:
        products = fetch_all(sync, ids)
        report.fetched = len(products)
        sync.names_for(products)
        present = {int(p["id"]) for p in products}
        gone = [i for i in ids if i not in present]
        report.gone = len(gone)
        ledger = sync.rows.ledger_for(ids)
        planned = sync.plan(products, gone, ledger)
        report.records = len(planned)
        journal.batch_fetched(
            sync.db, sync.store.store_hash, token, ids, present, planned, ledger, FETCH_BATCH
        )
        report.pushed, report.requests, bad = sync.push(planned, token)
        report.failed = len(bad)
        record_refused(sync, bad)
    except SyncError as exc:
        fail(sync, token, ids, exc, report)
        return report
    except (SystemExit, KeyboardInterrupt, DatabaseError):
        # SIGTERM to a Celery pool child (billiard raises SystemExit there), Ctrl-C, or the database
        # failing a statement (a deadlock with the receiver's upserts; the task retries): give the
        # rows back now instead of leaving them claimed until the lease ends
        unclaim(sync, token, ids)
        raise
    # it went through: a row that changed meanwhile stays dirty, but no longer as a failure
    # (its past attempts must not push it toward the failed list or grow its back-off)
    try:
        report.released = sync.rows.finish(token, ids)
    except DatabaseError:
        unclaim(sync, token, ids)  # pushed and recorded: the next flush finds nothing to push
        raise
    return report
