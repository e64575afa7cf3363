"""A flush: take up to 1000 dirty products of a store, fetch them 250 a call, push what changed.

    claim ≤1000 dirty rows → GET products?id:in=… (≤250 a call) → map (pure) → fingerprint, keep the
    changed records → push ≤100 a request → record fingerprints → release the rows whose version
    did not move meanwhile.

Also here: category fan-out (a changed category marks its products and its descendants' dirty),
the streaming full resync, and the date_modified sweep. Celery tasks (workers.tasks.jobs) are glue
around these; nothing here knows about Celery.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from workers.clients.bigcommerce import BigCommerceClient
from workers.clients.budget import bigcommerce_budget, ometria_budget
from workers.clients.ometria import OmetriaClient, RecordTooLargeError
from workers.domain.errors import ConfigurationError, PermanentError, SyncError, TransientError
from workers.domain.fingerprint import changed
from workers.domain.mapping import MappingContext, deactivation, default_store_id, map_product, missing_names
from workers.settings import Settings, StoreConfig
from workers.store import storage
from workers.store.storage import CATEGORY, PRODUCT, session_scope

log = logging.getLogger(__name__)

BATCH = 1000  # products claimed by one flush: 4 catalogue calls, and pushes of 100 across all of them
FETCH_BATCH = 250  # BigCommerce's page limit: products per `id:in` call
PUSH_BATCH = 100  # Ometria's limit: records per push
LOOKUP_TTL = 900.0
MAX_ATTEMPTS = 8
PUSH_ATTEMPTS = 4
FETCH_ATTEMPTS = 3
CONFIG_PAUSE = 300.0


def backoff(attempt: int, hint: float | None = None) -> float:
    """Exponential back-off with full jitter, at least the server's hint, at most 10 minutes."""
    base = min(600.0, 2.0 * 2**attempt)
    return min(600.0, max(hint or 0.0, random.uniform(base / 2, base)))  # noqa: S311


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


class Syncer:
    """Everything one store needs to sync: its config, the two clients, the cached lookups."""

    def __init__(
        self,
        settings: Settings,
        store: StoreConfig,
        *,
        bc: BigCommerceClient | None = None,
        ometria: OmetriaClient | None = None,
        lease_seconds: float | None = None,
    ) -> None:
        self.settings, self.store, self.db = settings, store, settings.database_url
        self.bc = bc or BigCommerceClient(
            store, budget=bigcommerce_budget(self.db, store.store_hash, store.rate_reserve)
        )
        self.ometria = ometria or OmetriaClient(
            store, budget=ometria_budget(self.db, store.store_hash, store.ometria_push_rate)
        )
        self.lease = lease_seconds if lease_seconds is not None else settings.lease_seconds
        self._ctx: MappingContext | None = None
        self._ctx_at = 0.0
        self._children: dict[int, list[int]] = {}

    # --- lookups ---------------------------------------------------------------------------

    def context(self, refresh: bool = False) -> MappingContext:
        """Category and brand names, site URL and currency, cached in the database for every
        process: refetched when stale (LOOKUP_TTL) or on `refresh` (a category changed); a process
        rebuilds its copy whenever another one refreshed the cache."""
        now = time.time()
        with session_scope(self.db) as s:
            state = storage.store_state(s, self.store.store_hash)
            cached, cached_at = state.lookups, state.lookups_at
        if refresh or not cached or now - cached_at > LOOKUP_TTL or "children" not in cached:
            tree = self.bc.category_tree()
            cached = {
                "categories": {str(k): v for k, v in tree.names.items()},
                "children": {str(k): v for k, v in tree.children.items()},
                "brands": {str(k): v for k, v in self.bc.brand_names().items()},
                "site_url": self.bc.site_url(self.store.channel_id),
                "currency": self.bc.currency(),
            }
            cached_at = now
            with session_scope(self.db) as s:
                state = storage.store_state(s, self.store.store_hash)
                state.lookups, state.lookups_at = cached, cached_at
        if self._ctx is None or cached_at != self._ctx_at:
            site_url = str(cached["site_url"]).rstrip("/")
            self._ctx = MappingContext(
                currency=cached["currency"],
                site_url=site_url,
                store_id=self.store.ometria_store_id or default_store_id(site_url),
                category_names={int(k): v for k, v in cached["categories"].items()},
                brand_names={int(k): v for k, v in cached["brands"].items()},
            )
            self._children = {int(k): [int(c) for c in v] for k, v in cached["children"].items()}
            self._ctx_at = cached_at
        return self._ctx

    def _names_for(self, products: Sequence[dict]) -> None:
        """A product in a category or of a brand we have no name for (created since the last
        refresh): refresh the lookups first, at most once a minute."""
        categories, brands = missing_names(products, self.context())
        if (categories or brands) and time.time() - self._ctx_at > 60:
            self.context(refresh=True)

    # --- pushing ---------------------------------------------------------------------------

    def plan(
        self, products: Sequence[dict], gone_ids: Iterable[int], ledger: dict[str, tuple[int, str]]
    ) -> list[tuple[dict, str, int]]:
        """The records to push (record, fingerprint, product id): changed ones, plus deactivations
        of gone products and of variants that vanished from a product that remains."""
        ctx = self.context()
        fps = {rid: fp for rid, (_pid, fp) in ledger.items()}
        by_product: dict[int, list[str]] = {}
        for rid, (pid, _fp) in ledger.items():
            by_product.setdefault(pid, []).append(rid)
        out: list[tuple[dict, str, int]] = []
        for product in products:
            pid = int(product["id"])
            records = map_product(product, ctx)
            live = {r["id"] for r in records}
            stale = [deactivation(rid) for rid in by_product.get(pid, ()) if rid not in live]
            out += [(r, fp, pid) for r, fp in changed([*records, *stale], fps)]
        for pid in gone_ids:
            out += [
                (r, fp, pid) for r, fp in changed([deactivation(rid) for rid in by_product.get(pid, ())], fps)
            ]
        return out

    def push(
        self, planned: Sequence[tuple[dict, str, int]], token: str | None = None
    ) -> tuple[int, int, list]:
        """Push in requests of ≤100, recording each accepted request's fingerprints at once.
        Records Ometria refuses (too large; a 400, bisected down to the record) come back as
        (record, product id, error) for the failed list; the rest of the batch still goes.
        With the claim `token`, each request first renews the lease of its products and leaves out
        those the claim no longer holds (a flush slower than its lease: another one has claimed
        them and fetched them afresh — pushing ours would overwrite newer data with older).
        Returns (records pushed, requests, refused)."""
        pushed = requests = 0
        bad: list[tuple[dict, int, str]] = []
        pending = [list(planned[i : i + PUSH_BATCH]) for i in range(0, len(planned), PUSH_BATCH)]
        while pending:
            chunk = pending.pop(0)
            if token is not None:
                held = self._renew(token, {pid for _r, _fp, pid in chunk})
                if len(held) < len({pid for _r, _fp, pid in chunk}):
                    log.warning(
                        "store %s: a flush outlived its lease; %d record(s) left to the flush "
                        "that claimed their products since",
                        self.store.store_hash,
                        sum(1 for c in chunk if c[2] not in held),
                    )
                    chunk = [c for c in chunk if c[2] in held]
                    if not chunk:
                        continue
            try:
                requests += self._send([r for r, _fp, _pid in chunk])
            except RecordTooLargeError as exc:  # refused before sending: set those records aside
                too_big = set(exc.record_ids)
                bad += [(r, pid, str(exc)) for r, _fp, pid in chunk if r["id"] in too_big]
                rest = [c for c in chunk if c[0]["id"] not in too_big]
                pending[:0] = [rest] if rest else []
                continue
            except PermanentError as exc:
                requests += 1
                if len(chunk) == 1:
                    bad.append((chunk[0][0], chunk[0][2], str(exc)))
                    continue
                half = len(chunk) // 2
                pending[:0] = [chunk[:half], chunk[half:]]
                continue
            pushed += len(chunk)
            self._record(chunk)
        return pushed, requests, bad

    def _renew(self, token: str, ids: set[int]) -> set[int]:
        """Extend the lease of the rows `token` still holds among `ids`; returns those ids."""
        with session_scope(self.db) as s:
            rows = s.execute(
                storage.update(storage.Dirty)
                .where(
                    storage.Dirty.store_hash == self.store.store_hash,
                    storage.Dirty.entity == PRODUCT,
                    storage.Dirty.entity_id.in_(sorted(ids)),
                    storage.Dirty.claimed_by == token,
                )
                .values(lease_until=time.time() + self.lease)
                .returning(storage.Dirty.entity_id)
            )
            return {int(i) for i in rows.scalars()}

    def _fetch(self, ids: Sequence[int]) -> list[dict]:
        """One catalogue call (≤250 ids), retried a few times on 5xx/timeouts/garbage (a 429
        waits in the shared budget first) before the batch is given back for a later retry."""
        for attempt in range(1, FETCH_ATTEMPTS + 1):
            try:
                return self.bc.products_by_ids(ids)
            except TransientError as exc:
                if attempt == FETCH_ATTEMPTS:
                    raise
                pause = min(30.0, exc.retry_after or 0.5 * 2**attempt) * random.uniform(0.5, 1.0)  # noqa: S311
                log.info("store %s: fetch failed (%s), again in %.1fs", self.store.store_hash, exc, pause)
                time.sleep(pause)
        raise AssertionError("unreachable")

    def _send(self, records: list[dict]) -> int:
        """One push, retried a few times on 429/5xx/timeouts so that Ometria's hiccups do not cost
        the batch (and a second BigCommerce fetch). Returns the requests made."""
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            try:
                self.ometria.push(records)
                return attempt
            except TransientError as exc:
                if attempt == PUSH_ATTEMPTS:
                    raise
                # a 429 also paused the shared budget: the next acquire() waits for that
                time.sleep(min(8.0, exc.retry_after or 0.5 * 2**attempt) * random.uniform(0.5, 1.0))  # noqa: S311
        raise AssertionError("unreachable")

    def _record(self, chunk: Sequence[tuple[dict, str, int]]) -> None:
        entries = [(r["id"], pid, fp, bool(r.get("is_active"))) for r, fp, pid in chunk]
        categories = {
            r["id"]: [int(a["id"]) for a in r.get("attributes") or () if a.get("type") == "category"]
            for r, _fp, _pid in chunk
            if not r.get("is_variant")
        }
        with session_scope(self.db) as s:
            storage.record_pushed(s, self.store.store_hash, entries, categories=categories)

    # --- the flush -------------------------------------------------------------------------

    def settle_time(self, now: float | None = None) -> float:
        """Seconds to let the store's backlog settle before a flush (0: flush now).

        A storm (a bulk import fires a callback per product, often several) is flushed once it
        goes quiet — no new change for SYNC_DEBOUNCE_SECONDS — so that each product is fetched
        once and batches are full; a store that never goes quiet is flushed anyway once its
        oldest change has waited SYNC_MAX_WAIT_SECONDS. An isolated change goes after the debounce."""
        now = time.time() if now is None else now
        with session_scope(self.db) as s:
            count, oldest, newest = storage.backlog(s, self.store.store_hash, PRODUCT, now)
        if not count:
            return 0.0
        quiet_at = newest + self.settings.debounce_seconds
        overdue_at = oldest + self.settings.max_wait_seconds
        return max(0.0, min(quiet_at, overdue_at) - now)

    def paused(self) -> float:
        with session_scope(self.db) as s:
            state = storage.store_state(s, self.store.store_hash)
            return max(0.0, state.paused_until - time.time())

    def flush_batch(self) -> FlushReport | None:
        """Flush one batch of dirty products. None when there was nothing to claim."""
        token = uuid.uuid4().hex
        sh = self.store.store_hash
        with session_scope(self.db) as s:
            claimed = storage.claim(s, sh, PRODUCT, token, BATCH, self.lease)
        if not claimed:
            return None
        ids = sorted(claimed)
        report = FlushReport(claimed=len(ids))
        try:
            products = [
                p for i in range(0, len(ids), FETCH_BATCH) for p in self._fetch(ids[i : i + FETCH_BATCH])
            ]
            report.fetched = len(products)
            self._names_for(products)
            present = {int(p["id"]) for p in products}
            gone = [i for i in ids if i not in present]
            report.gone = len(gone)
            with session_scope(self.db) as s:
                ledger = storage.ledger_for_products(s, sh, ids)
            planned = self.plan(products, gone, ledger)
            report.records = len(planned)
            report.pushed, report.requests, bad = self.push(planned, token)
            report.failed = len(bad)
            self._record_bad(bad)
        except SyncError as exc:
            self._fail(token, ids, exc, report)
            return report
        except (SystemExit, KeyboardInterrupt):
            # SIGTERM to a Celery pool child (billiard raises SystemExit there) or Ctrl-C: give the
            # rows back now instead of leaving them claimed until the lease ends
            self._unclaim(token, ids)
            raise
        with session_scope(self.db) as s:
            # it went through: a row that changed meanwhile stays dirty, but no longer as a failure
            # (its past attempts must not push it toward the failed list or grow its back-off)
            s.execute(
                storage.update(storage.Dirty)
                .where(
                    storage.Dirty.store_hash == sh,
                    storage.Dirty.entity == PRODUCT,
                    storage.Dirty.entity_id.in_(ids),
                    storage.Dirty.claimed_by == token,
                    storage.Dirty.attempts > 0,
                )
                .values(attempts=0, last_error=None)
            )
            report.released = storage.release_done(s, sh, PRODUCT, token, ids)
        return report

    def _give_back(
        self,
        s: storage.Session,
        token: str,
        ids: list[int],
        not_before: float = 0.0,
        error: str | None = None,
    ) -> None:
        """Rows claimed by `token` claimable again from `not_before`, no attempt counted."""
        values: dict[str, object] = {
            "claimed_by": None,
            "claimed_version": None,
            "lease_until": None,
            "not_before": not_before,
        }
        if error is not None:
            values["last_error"] = error[:2000]
        s.execute(
            storage.update(storage.Dirty)
            .where(
                storage.Dirty.store_hash == self.store.store_hash,
                storage.Dirty.entity == PRODUCT,
                storage.Dirty.entity_id.in_(ids),
                storage.Dirty.claimed_by == token,
            )
            .values(**values)
        )

    def _unclaim(self, token: str, ids: list[int]) -> None:
        """Best effort (the lease covers a failure): give the rows back, claimable at once."""
        try:
            with session_scope(self.db) as s:
                self._give_back(s, token, ids)
            log.warning(
                "flush of %d products of store %s interrupted: rows given back",
                len(ids),
                self.store.store_hash,
            )
        except Exception:
            log.exception("could not give back %d claimed rows; their lease will expire", len(ids))

    def _fail(self, token: str, ids: list[int], exc: SyncError, report: FlushReport) -> None:
        """Give the rows back for a retry with back-off; after MAX_ATTEMPTS (or at once for a
        permanent error) they go to the failed list; a configuration error pauses the store."""
        sh, now = self.store.store_hash, time.time()
        report.error = f"{type(exc).__name__}: {exc}"
        tb = traceback.format_exc()
        with session_scope(self.db) as s:
            attempts = (
                max(
                    (
                        r.attempts
                        for r in s.query(storage.Dirty).filter(
                            storage.Dirty.store_hash == sh,
                            storage.Dirty.entity == PRODUCT,
                            storage.Dirty.entity_id.in_(ids),
                            storage.Dirty.claimed_by == token,
                        )
                    ),
                    default=0,
                )
                + 1
            )
            if isinstance(exc, ConfigurationError):
                state = storage.store_state(s, sh)
                state.paused_until, state.pause_reason = now + CONFIG_PAUSE, report.error
                storage.release_failed(s, sh, PRODUCT, token, ids, report.error, now + CONFIG_PAUSE)
                storage.record_failure(
                    s,
                    store_hash=sh,
                    task="flush",
                    entity=PRODUCT,
                    entity_ids=[],
                    kind="configuration",
                    error=report.error,
                    traceback=tb,
                )
                report.retry_in = CONFIG_PAUSE
                log.error("store %s paused for %.0fs: %s", sh, CONFIG_PAUSE, report.error)
            elif isinstance(exc, TransientError) and exc.status == 429:
                # flow control, not a failure of these products: back when the API says (the shared
                # budget already pauses every worker), without counting an attempt toward the
                # failed list or growing the back-off
                report.retry_in = max(exc.retry_after or 0.0, 1.0)
                self._give_back(s, token, ids, not_before=now + report.retry_in, error=report.error)
                log.info(
                    "flush of %d products of store %s rate-limited, retry in %.1fs: %s",
                    len(ids),
                    sh,
                    report.retry_in,
                    report.error,
                )
            elif isinstance(exc, PermanentError) or attempts >= MAX_ATTEMPTS:
                storage.record_failure(
                    s,
                    store_hash=sh,
                    task="flush",
                    entity=PRODUCT,
                    entity_ids=ids,
                    kind=exc.kind,
                    error=report.error,
                    traceback=tb,
                    attempts=attempts,
                )
                storage.drop_dirty(s, sh, PRODUCT, ids)
                report.failed = len(ids)
                log.error("flush of %d products of store %s failed for good: %s", len(ids), sh, report.error)
            else:
                report.retry_in = backoff(attempts, exc.retry_after)
                storage.release_failed(s, sh, PRODUCT, token, ids, report.error, now + report.retry_in)
                log.warning(
                    "flush of %d products of store %s failed (attempt %d), retry in %.1fs: %s",
                    len(ids),
                    sh,
                    attempts,
                    report.retry_in,
                    report.error,
                )

    # --- categories ------------------------------------------------------------------------

    def expand_categories(self) -> int:
        """Turn dirty categories into dirty products: those BigCommerce lists in the category and
        all its descendants, and those whose record in Ometria is in one of them (per the ledger: a
        deleted category's products, or products moved out of it). Returns how many were marked."""
        token = uuid.uuid4().hex
        sh = self.store.store_hash
        with session_scope(self.db) as s:
            claimed = storage.claim(s, sh, CATEGORY, token, 50, self.lease)
        if not claimed:
            return 0
        try:
            self.context(refresh=True)  # names and the tree may have changed
            children = self._children
            todo, seen = list(claimed), set()
            while todo:
                cid = todo.pop()
                if cid not in seen:
                    seen.add(cid)
                    todo += children.get(cid, [])
            with session_scope(self.db) as s:  # as Ometria has them: also a deleted category's products
                marked = storage.products_in_categories(s, sh, seen)
                storage.mark_dirty(s, sh, PRODUCT, sorted(marked), "category")
            for cid in sorted(seen):  # one category per query: safe whatever categories:in means
                for page in self.bc.iter_product_pages(category_id=cid, include="", include_fields="id"):
                    with session_scope(self.db) as s:
                        ids = [int(p["id"]) for p in page]
                        storage.mark_dirty(s, sh, PRODUCT, ids, "category")
                        marked.update(ids)
        except SyncError as exc:
            with session_scope(self.db) as s:
                retry = time.time() + backoff(1, exc.retry_after)
                storage.release_failed(s, sh, CATEGORY, token, list(claimed), str(exc), retry)
            log.warning("category fan-out for store %s failed, will retry: %s", sh, exc)
            return 0
        with session_scope(self.db) as s:
            storage.release_done(s, sh, CATEGORY, token, list(claimed))
        return len(marked)

    # --- resync and sweep -------------------------------------------------------------------

    def resync_all(
        self, dry_run: bool = False, progress: Callable[[ResyncReport], None] | None = None
    ) -> ResyncReport:
        """Stream the whole catalogue in pages of 250 and push only what changed; memory stays
        bounded by one page. Products Ometria has (per the ledger) that the pages did not show are
        marked dirty, so a flush confirms with `id:in` before deactivating them (pages can shift
        while products are deleted mid-resync).

        Race with a concurrent flush: each page's products are claimed as dirty rows before being
        pushed. A product that already has a dirty row, or whose ledger row was written after the
        page was fetched, is left to the flush, which fetches it fresh."""
        sh = self.store.store_hash
        report = ResyncReport(dry_run=dry_run)
        started = time.time()
        seen: set[int] = set()
        for page in self.bc.iter_product_pages():
            fetched_at = time.time()
            report.pages += 1
            self._names_for(page)
            ids = [int(p["id"]) for p in page]
            seen.update(ids)
            token = uuid.uuid4().hex
            with session_scope(self.db) as s:
                ledger = storage.ledger_for_products(s, sh, ids)
                if not dry_run:
                    recent = storage.pushed_since(s, sh, ids, fetched_at)
                    owned = storage.claim_new(
                        s, sh, PRODUCT, [i for i in ids if i not in recent], token, self.lease, "resync"
                    )
                    page = [p for p in page if int(p["id"]) in owned]
            planned = self.plan(page, [], ledger)
            report.products += len(page)
            report.changed += len(planned)
            if dry_run:
                report.samples += [r for r, _fp, _pid in planned[: max(0, 20 - len(report.samples))]]
            else:
                pushed, _requests, bad = self.push(planned, token)
                report.pushed += pushed
                self._record_bad(bad)
                with session_scope(self.db) as s:
                    storage.release_done(s, sh, PRODUCT, token, [int(p["id"]) for p in page])
            if progress:
                progress(report)
        with session_scope(self.db) as s:
            known = set(
                s.scalars(
                    storage.select(storage.Ledger.product_id)
                    .where(
                        storage.Ledger.store_hash == sh,
                        storage.Ledger.is_active.is_(True),
                        storage.Ledger.pushed_at < started,
                    )
                    .distinct()
                )
            )
            gone = sorted(known - seen)
            report.gone = len(gone)
            if gone and not dry_run:
                storage.mark_dirty(s, sh, PRODUCT, gone, "resync-gone")
        return report

    def _record_bad(self, bad: Sequence[tuple[dict, int, str]]) -> None:
        for record, pid, error in bad:
            with session_scope(self.db) as s:
                storage.record_failure(
                    s,
                    store_hash=self.store.store_hash,
                    task="flush",
                    entity=PRODUCT,
                    entity_ids=[pid],
                    kind="permanent",
                    error=f"Ometria refused record {record['id']}: {error}",
                    record_id=record["id"],
                )

    def sweep_modified(self, overlap: float = 120.0) -> int:
        """Mark dirty whatever the store modified since the last sweep (minus an overlap): catches
        callbacks that never came (deactivated hooks, image changes). Returns products marked."""
        sh = self.store.store_hash
        started = time.time()
        with session_scope(self.db) as s:
            state = storage.store_state(s, sh)
            since = state.last_sweep_at
        if since <= 0:  # first sweep: start the watermark; the initial load is `bcsync resync all`
            with session_scope(self.db) as s:
                storage.store_state(s, sh).last_sweep_at = started
            return 0
        stamp = datetime.fromtimestamp(since - overlap, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        marked = 0
        for page in self.bc.iter_product_pages(date_modified_min=stamp, include="", include_fields="id"):
            with session_scope(self.db) as s:
                marked += storage.mark_dirty(s, sh, PRODUCT, [int(p["id"]) for p in page], "sweep")
        with session_scope(self.db) as s:
            storage.store_state(s, sh).last_sweep_at = started
        return marked


def drain(syncer: Syncer, deadline: float, settle: bool = False) -> Iterator[FlushReport]:
    """Flush batch after batch until nothing is claimable or the deadline passes; with `settle`,
    also stop when what is left is still settling (the rest of a storm arriving meanwhile)."""
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
