"""Category fan-out: a changed category makes its products, and its descendants', dirty."""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING

from workers.domain.categories import descendants
from workers.domain.errors import SyncError
from workers.domain.retry import backoff
from workers.store.models import CATEGORY

if TYPE_CHECKING:
    from workers.sync.syncer import Syncer

log = logging.getLogger("workers.sync.flush")

CATEGORY_BATCH = 50


def expand_categories(sync: Syncer) -> int:
    """Turn dirty categories into dirty products: those BigCommerce lists in the category and
    all its descendants, and those whose record in Ometria is in one of them (per the ledger: a
    deleted category's products, or products moved out of it). Returns how many were marked."""
    token = uuid.uuid4().hex
    sh = sync.store.store_hash
    claimed = sync.rows.claim(CATEGORY, token, CATEGORY_BATCH, sync.lease)
    if not claimed:
        return 0
    try:
        seen = descendants(sync.children(refresh=True), claimed)  # names and the tree may have changed
        marked = sync.rows.mark_held_in(seen, "category")  # as Ometria has them: also a deleted category's
        for cid in sorted(seen):  # one category per query: safe whatever categories:in means
            for page in sync.bc.iter_product_pages(category_id=cid, include="", include_fields="id"):
                ids = [int(p["id"]) for p in page]
                sync.rows.mark(ids, "category")
                marked.update(ids)
    except SyncError as exc:
        retry = time.time() + backoff(1, exc.retry_after)
        sync.rows.release_failed(CATEGORY, token, list(claimed), str(exc), retry)
        log.warning("category fan-out for store %s failed, will retry: %s", sh, exc)
        return 0
    sync.rows.release(CATEGORY, token, list(claimed))
    return len(marked)
