"""The full resync: stream the whole catalogue, push only what changed, mark what vanished."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workers.store.models import PRODUCT
from workers.sync import storefronts
from workers.sync.push import record_refused

if TYPE_CHECKING:
    from workers.sync.syncer import Syncer

SAMPLES = 20  # records a dry run shows


@dataclass
class ResyncReport:
    products: int = 0
    records: int = 0
    changed: int = 0
    pushed: int = 0
    gone: int = 0
    pages: int = 0
    dry_run: bool = False
    samples: list[dict] = field(default_factory=list)


def resync_all(
    sync: Syncer, dry_run: bool = False, progress: Callable[[ResyncReport], None] | None = None
) -> ResyncReport:
    """Stream the whole catalogue in pages of 250 and push only what changed; memory stays
    bounded by one page. Products Ometria has (per the ledger) that the pages did not show are
    marked dirty, so a flush confirms with `id:in` before deactivating them (pages can shift
    while products are deleted mid-resync).

    Race with a concurrent flush: each page's products are claimed as dirty rows before being
    pushed. A product that already has a dirty row, or whose ledger row was written after the
    page was fetched, is left to the flush, which fetches it fresh."""
    report = ResyncReport(dry_run=dry_run)
    started = time.time()
    seen: set[int] = set()
    storefronts.load_metafields(sync)  # the metafields table is what the pages are mapped with
    for page in sync.bc.iter_product_pages():
        fetched_at = time.time()
        report.pages += 1
        sync.names_for(page)
        ids = [int(p["id"]) for p in page]
        seen.update(ids)
        token = uuid.uuid4().hex
        ledger, owned = sync.rows.claim_page(ids, fetched_at, token, sync.lease, dry_run)
        if owned is not None:
            page = [p for p in page if int(p["id"]) in owned]
        planned = sync.plan(page, [], ledger)
        report.products += len(page)
        report.changed += len(planned)
        if dry_run:
            report.samples += [r for r, _fp, _pid in planned[: max(0, SAMPLES - len(report.samples))]]
        else:
            pushed, _requests, bad = sync.push(planned, token)
            report.pushed += pushed
            record_refused(sync, bad)
            sync.rows.release(PRODUCT, token, [int(p["id"]) for p in page])
        if progress:
            progress(report)
    report.gone = sync.rows.mark_gone(started, seen, dry_run)
    return report
