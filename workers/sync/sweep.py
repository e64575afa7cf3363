"""The date_modified sweep: catches changes whose webhook never came."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from workers.sync import storefronts

if TYPE_CHECKING:
    from workers.sync.syncer import Syncer


def sweep_modified(sync: Syncer, overlap: float = 120.0) -> int:
    """Mark dirty whatever the store modified since the last sweep (minus an overlap): catches
    callbacks that never came (deactivated hooks, image changes). Returns products marked."""
    started = time.time()
    since = sync.rows.sweep_watermark()
    if since <= 0:  # first sweep: start the watermark; the initial load is `bcsync resync all`
        sync.rows.set_sweep_watermark(started)
        return 0
    stamp = datetime.fromtimestamp(since - overlap, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    marked = 0
    for page in sync.bc.iter_product_pages(date_modified_min=stamp, include="", include_fields="id"):
        marked += sync.rows.mark([int(p["id"]) for p in page], "sweep")
    marked += storefronts.sweep_metafields(sync, stamp)  # metafields fire no product callback either
    sync.rows.set_sweep_watermark(started)
    return marked
