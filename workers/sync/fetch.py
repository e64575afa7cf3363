"""Fetching a batch's products from BigCommerce: ≤250 ids a call, each call retried a few times."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workers.domain import retry
from workers.domain.errors import TransientError
from workers.sync.retrying import call_with_retries

if TYPE_CHECKING:
    from workers.sync.syncer import Syncer

log = logging.getLogger("workers.sync.flush")

FETCH_BATCH = 250  # BigCommerce's page limit: products per `id:in` call
FETCH_ATTEMPTS = retry.FETCH.attempts


def fetch(sync: Syncer, ids: Sequence[int]) -> list[dict]:
    """One catalogue call (≤250 ids), retried in place by `retry.FETCH` on 5xx/timeouts/garbage
    (a 429 waits in the shared budget first) before the batch is given back for a later retry."""

    def say(exc: TransientError, pause: float) -> None:
        log.info("store %s: fetch failed (%s), again in %.1fs", sync.store.store_hash, exc, pause)

    products, _tries = call_with_retries(retry.FETCH, lambda: sync.bc.products_by_ids(ids), before_sleep=say)
    return products


def fetch_all(sync: Syncer, ids: Sequence[int]) -> list[dict]:
    """The products among `ids` that exist, fetched FETCH_BATCH a call."""
    return [p for i in range(0, len(ids), FETCH_BATCH) for p in fetch(sync, ids[i : i + FETCH_BATCH])]
