"""The rolling resync (issue 12): what fires no webhook (image changes) or whose callback was lost (a
price-list record: no date_modified sweep finds it) still arrives within `SYNC_ROLLING_HOURS`.

Every product is refetched at least once per period, spread evenly over it: at each tick (beat, every
minute) the lap should have covered the share of the catalogue that the share of the period gone by
says (the catalogue's size estimated from the ledger), so it walks pages of 250 by id (`id:min`)
until it has caught up, pushing only deltas, like `resync all`. It spends at most `SYNC_ROLLING_SHARE`
of the hour's BigCommerce quota left after the reserve (a page costs 1 + a call per price list in
use); a tick that would go over waits for the next hour. When a page comes back short the lap is
over and the next begins. Gone products are still the nightly full resync's (a rolling walk cannot
tell a deletion from a product it has not reached yet).
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workers.clients.bigcommerce import MAX_PAGE
from workers.store import storefronts as table
from workers.store.models import PRODUCT
from workers.sync import storefronts
from workers.sync.push import record_refused

if TYPE_CHECKING:
    from workers.sync.syncer import Syncer

WINDOW = 30.0  # BigCommerce's quota window (seconds)
HOUR = 3600.0


@dataclass
class RollingReport:
    pages: int = 0
    products: int = 0
    pushed: int = 0
    calls: int = 0
    laps_done: int = 0
    waiting_for_quota: bool = False


def hourly_allowance(quota: int, reserve: int, share: float) -> int:
    """Calls an hour the rolling resync may spend: `share` of the quota left after the reserve."""
    return int(share * max(0, quota - reserve) * (HOUR / WINDOW))


def rolling_step(sync: Syncer, now: float | None = None) -> RollingReport:
    """One tick: walk pages until the lap is where the schedule says, within the hour's allowance."""
    now = time.time() if now is None else now
    sh = sync.store.store_hash
    period = max(60.0, sync.settings.rolling_hours * HOUR)
    report = RollingReport()
    state, known, quota = table.rolling_place(sync.db, sh)
    total = max(1, known)
    if state["lap_started_at"] <= 0:
        state.update(cursor=0, lap_started_at=now, done=0)
    if now - state["hour_started_at"] >= HOUR:
        state.update(hour_started_at=now, hour_calls=0)
    allowance = hourly_allowance(quota, sync.store.rate_reserve, sync.settings.rolling_share)
    page_calls = 1 + len(storefronts.price_lists_in_use(sync.context()))
    due = min(total, math.ceil(total * (now - state["lap_started_at"]) / period))
    while state["done"] < due:
        if state["hour_calls"] + page_calls > allowance:
            report.waiting_for_quota = True
            break
        page = next(iter(sync.bc.iter_product_pages(id_min=int(state["cursor"]) + 1)), [])
        state["hour_calls"] += page_calls
        report.calls += page_calls
        if page:
            report.pages += 1
            report.products += len(page)
            report.pushed += _push_page(sync, page)
            state["cursor"] = max(int(p["id"]) for p in page)
            state["done"] += len(page)
        if len(page) < MAX_PAGE:  # the end of the catalogue: this lap is over, the next begins now
            report.laps_done += 1
            state.update(cursor=0, lap_started_at=now, done=0)
            break
    table.keep_rolling_place(sync.db, sh, state)
    return report


def _push_page(sync: Syncer, page: list[dict]) -> int:
    """A page as `resync all` handles it: products a flush holds are left to it; deltas only."""
    fetched_at = time.time()
    sync.names_for(page)
    ids = [int(p["id"]) for p in page]
    token = uuid.uuid4().hex
    ledger, owned = sync.rows.claim_page(ids, fetched_at, token, sync.lease, False)
    if owned is not None:
        page = [p for p in page if int(p["id"]) in owned]
    planned = sync.plan(page, [], ledger)
    pushed, _requests, bad = sync.push(planned, token)
    record_refused(sync, bad)
    sync.rows.release(PRODUCT, token, [int(p["id"]) for p in page])
    return pushed
