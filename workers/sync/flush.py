"""A flush: take up to 1000 dirty products of a store, fetch them 250 a call, push what changed.

    claim ≤1000 dirty rows → GET products?id:in=… (≤250 a call) → map (pure) → fingerprint, keep the
    changed records → push ≤100 a request → record fingerprints → release the rows whose version
    did not move meanwhile.

`drain` runs batch after batch; each step is a module of `workers.sync` (the entry point, with the
names other code imports from here, is `Syncer`):
- `syncer.py`: `Syncer` — a store's config, clients, rows (`workers.store.flushes`) and lookups;
- `batch.py`: one batch (claim, fetch, plan, push, release) and the debounce (`settle_time`);
- `fetch.py`, `plan.py`, `push.py`: the three steps of a batch;
- `failure.py`: the failure policy (back-off, the failed list, a store's pause);
- `categories.py`: category fan-out; `resync.py`: the full resync; `sweep.py`: the date_modified sweep.
Celery tasks (workers.tasks.jobs) are glue around these; nothing here knows about Celery.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from workers.sync import storefronts
from workers.sync.batch import BATCH, FlushReport
from workers.sync.failure import CONFIG_PAUSE, MAX_ATTEMPTS, backoff
from workers.sync.fetch import FETCH_ATTEMPTS, FETCH_BATCH
from workers.sync.push import PUSH_ATTEMPTS, PUSH_BATCH
from workers.sync.resync import ResyncReport
from workers.sync.syncer import LOOKUP_TTL, Syncer


def drain(syncer: Syncer, deadline: float, settle: bool = False) -> Iterator[FlushReport]:
    """Flush batch after batch until nothing is claimable or the deadline passes; with `settle`,
    also stop when what is left is still settling (the rest of a storm arriving meanwhile)."""
    storefronts.expand(syncer)  # storefront callbacks; may mark categories (a tree changed), so first
    syncer.expand_categories()
    while time.time() < deadline:
        if settle and syncer.settle_time() > 0:
            return
        report = syncer.flush_batch()
        if report is None:
            return
        yield report
        if report.error:
            return


__all__ = [
    "BATCH",
    "CONFIG_PAUSE",
    "FETCH_ATTEMPTS",
    "FETCH_BATCH",
    "LOOKUP_TTL",
    "MAX_ATTEMPTS",
    "PUSH_ATTEMPTS",
    "PUSH_BATCH",
    "FlushReport",
    "ResyncReport",
    "Syncer",
    "backoff",
    "drain",
]
