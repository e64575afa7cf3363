"""Fetching a batch's products from BigCommerce: ≤250 ids a call, each call retried a few times."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workers.domain.errors import TransientError

if TYPE_CHECKING:
    from workers.sync.syncer import Syncer

log = logging.getLogger("workers.sync.flush")

FETCH_BATCH = 250  # BigCommerce's page limit: products per `id:in` call
FETCH_ATTEMPTS = 3


def fetch(sync: Syncer, ids: Sequence[int]) -> list[dict]:
    """One catalogue call (≤250 ids), retried a few times on 5xx/timeouts/garbage (a 429
    waits in the shared budget first) before the batch is given back for a later retry."""
    for attempt in range(1, FETCH_ATTEMPTS + 1):
        try:
            return sync.bc.products_by_ids(ids)
        except TransientError as exc:
            if attempt == FETCH_ATTEMPTS:
                raise
            pause = min(30.0, exc.retry_after or 0.5 * 2**attempt) * random.uniform(0.5, 1.0)  # noqa: S311
            log.info("store %s: fetch failed (%s), again in %.1fs", sync.store.store_hash, exc, pause)
            time.sleep(pause)
    raise AssertionError("unreachable")


def fetch_all(sync: Syncer, ids: Sequence[int]) -> list[dict]:
    """The products among `ids` that exist, fetched FETCH_BATCH a call."""
    return [p for i in range(0, len(ids), FETCH_BATCH) for p in fetch(sync, ids[i : i + FETCH_BATCH])]
