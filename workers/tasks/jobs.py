"""Celery tasks: short glue around workers.sync.flush. The database holds the work; these only run it.

A task base class does the cross-cutting part once: retry on unexpected errors (the database or
broker being away) with exponential back-off and jitter, and a log line for what it did.
"""

from __future__ import annotations

import logging
import mmap
import time
from typing import Any

from celery import Task
from celery.signals import beat_init, task_postrun, worker_process_init, worker_shutting_down

from workers.clients.bigcommerce import BigCommerceClient
from workers.domain import retry
from workers.domain.errors import SyncError
from workers.domain.ids import product_of
from workers.domain.text import clean
from workers.ops.observability import record_flush
from workers.settings import get_settings
from workers.store import pauses, queries, support
from workers.store.migrate import upgrade
from workers.sync.flush import Syncer, backoff, drain
from workers.sync.hooks import revive_hooks
from workers.tasks import heartbeat as _heartbeat  # noqa: F401 — connects the worker's heartbeat thread
from workers.tasks.app import app

log = logging.getLogger(__name__)

DRAIN_SECONDS = 20.0  # a warm shutdown waits at most this (plus one batch) for a running flush
_shutting_down = False
_syncers: dict[str, Syncer] = {}


# One byte shared with the pool children forked after this import. Celery runs
# `worker_shutting_down` in the main process only, so on a SIGTERM to the main process alone
# (docker stop, Kubernetes) the children would drain on for up to DRAIN_SECONDS: this tells them
# to stop after the batch in hand. (A SIGTERM to the whole process group ends a child at once;
# `Syncer.flush_batch` then gives its rows back.)
_STOP = mmap.mmap(-1, 1)


@worker_shutting_down.connect
def _stop_between_batches(**_kw: object) -> None:
    global _shutting_down  # noqa: PLW0603 — a process-wide flag set by a signal
    _shutting_down = True
    _STOP[0] = 1


def _stopping() -> bool:
    return _shutting_down or _STOP[0] == 1


@task_postrun.connect
def _save_metrics(**_kw: object) -> None:
    """After every task: this process's metric increments into the database totals (/metrics)."""
    from workers.ops.observability import persist_tally

    persist_tally(get_settings().database_url)


@worker_process_init.connect
@beat_init.connect
def _prepare(**_kw: object) -> None:
    from workers.ops.observability import init_observability

    settings = get_settings()
    init_observability(settings, "worker")
    upgrade(settings.database_url)


def syncer(store_hash: str) -> Syncer:
    if store_hash not in _syncers:
        settings = get_settings()
        store = settings.store(store_hash)
        if store is None:
            raise KeyError(f"store {store_hash} is not configured")
        _syncers[store_hash] = Syncer(settings, store)
    return _syncers[store_hash]


class SyncTask(Task):
    """Retries on anything unexpected (database down, broker hiccup) with back-off and jitter —
    `workers.domain.retry.TASK`, through Celery's autoretry, a server's hint honoured in full; the
    work itself is safe in the database meanwhile, so giving up loses nothing either."""

    autoretry_for = (Exception,)
    dont_autoretry_for = (KeyError,)
    max_retries = retry.TASK.attempts
    retry_backoff = False  # the countdown is the policy's (below), not Celery's own formula
    acks_late = True

    def retry(
        self, *args: Any, exc: BaseException | None = None, countdown: float | None = None, **kw: Any
    ) -> Any:
        """Celery's retry, with the policy's countdown when none is given (autoretry gives none):
        after `request.retries` earlier retries, never less than a SyncError's `retry_after`."""
        if countdown is None and kw.get("eta") is None:
            hint = exc.retry_after if isinstance(exc, SyncError) else None
            countdown = retry.TASK.delay(self.request.retries, hint)
        return super().retry(*args, exc=exc, countdown=countdown, **kw)


@app.task(base=SyncTask, name="workers.tasks.flush_store")
def flush_store(store_hash: str) -> dict:
    sync = syncer(store_hash)
    state = support.pause_state(sync.db, store_hash)
    if (
        state["pause_kind"] == pauses.OPERATOR and state["paused_until"] > 0
    ):  # until `bcsync resume`, which wakes a flush; the sweep leaves the store alone
        return {"paused": "until resumed"}
    paused = sync.paused()
    if paused > 0:  # a configuration pause: one flush when it lifts, not one per wake-up meanwhile
        due = queries.schedule_flush(sync.db, store_hash, time.time() + paused)
        if due:
            flush_store.apply_async(args=[store_hash], countdown=paused)
        return {"paused": paused}
    if _defer_while_settling(sync, store_hash):
        return {"settling": True}
    deadline = time.time() + DRAIN_SECONDS
    totals = {"batches": 0, "claimed": 0, "pushed": 0, "requests": 0, "failed": 0}
    more = False
    started = time.monotonic()
    for report in drain(sync, deadline, settle=True):
        record_flush(
            store_hash,
            ok=report.error is None,
            products=report.claimed,
            records=report.pushed,
            seconds=time.monotonic() - started,
        )
        totals["batches"] += 1
        for key in ("claimed", "pushed", "requests", "failed"):
            totals[key] += getattr(report, key)
        log.info("flushed store %s: %s", store_hash, report)
        if report.retry_in is not None:
            flush_store.apply_async(args=[store_hash], countdown=report.retry_in)
        if _stopping():
            break
        more = True
        started = time.monotonic()
    if _stopping() or _defer_while_settling(sync, store_hash):
        return totals
    if more and time.time() >= deadline:
        flush_store.delay(store_hash)  # a long backlog: hand over to the next task, keep the queue fair
    return totals


def _defer_while_settling(sync: Syncer, store_hash: str) -> bool:
    """A storm is still arriving: schedule one deferred flush for the store (not one per wake-up)."""
    settle = sync.settle_time()
    if settle <= 0:
        return False
    due = queries.schedule_flush(sync.db, store_hash, time.time() + settle)
    if due:
        flush_store.apply_async(args=[store_hash], countdown=settle)
    return True


@app.task(base=SyncTask, name="workers.tasks.sweep_dirty")
def sweep_dirty() -> list[str]:
    """Flush every store that has claimable dirty rows (wake-ups lost or delayed land here)."""
    held = support.operator_paused(get_settings().database_url)
    stores = [
        h
        for h in queries.stores_with_work(get_settings().database_url)
        if h in get_settings().stores and h not in held
    ]
    for store_hash in stores:
        flush_store.delay(store_hash)
    return stores


@app.task(base=SyncTask, name="workers.tasks.reconcile_modified")
def reconcile_modified() -> dict[str, int]:
    out = {}
    for store_hash in get_settings().stores:
        try:
            out[store_hash] = syncer(store_hash).sweep_modified()
        except SyncError as exc:
            log.warning("date_modified sweep of store %s failed: %s", store_hash, exc)
            continue
        if out[store_hash]:
            flush_store.delay(store_hash)
    return out


@app.task(base=SyncTask, name="workers.tasks.rolling_resync")
def rolling_resync() -> dict[str, int]:
    """One tick of every store's rolling resync (workers.sync.rolling); a paused store waits."""
    out = {}
    for store_hash in get_settings().stores:
        sync = syncer(store_hash)
        if sync.paused():
            continue
        try:
            out[store_hash] = sync.rolling_step().products
        except SyncError as exc:
            log.warning("rolling resync of store %s failed: %s", store_hash, exc)
    return out


@app.task(base=SyncTask, name="workers.tasks.resync_all")
def resync_all(store_hash: str | None = None, dry_run: bool = False, force: bool = False) -> dict[str, dict]:
    from workers.sync.repair import force_all, preview_all

    out = {}
    for sh in [store_hash] if store_hash else list(get_settings().stores):
        if dry_run:  # what would be pushed, field by field, in the worker's log; nothing is pushed
            preview = preview_all(syncer(sh), force=force, limit=20)
            for change in preview.changes:
                log.info(
                    "dry run, store %s: would push %s (%s): %s",
                    sh,
                    change.record_id,
                    change.change,
                    {k: {"old": a, "new": b} for k, (a, b) in change.fields.items()},
                )
            out[sh] = {"dry_run": True, "products": preview.products, "records": preview.total}
            continue
        if force:
            force_all(syncer(sh))
        report = syncer(sh).resync_all(dry_run=dry_run)
        out[sh] = {k: v for k, v in vars(report).items() if k != "samples"}
        if report.gone and not dry_run:
            flush_store.delay(sh)
    return out


@app.task(base=SyncTask, name="workers.tasks.check_hooks")
def check_hooks() -> dict[str, list[int]]:
    """Re-activate hooks BigCommerce deactivated (after 48 h of failures, or 90 days unused)."""
    out: dict[str, list[int]] = {}
    for sh, store in get_settings().stores.items():
        try:
            revived = [int(h["id"]) for h in revive_hooks(BigCommerceClient(store), sh)]
        except SyncError as exc:
            log.warning("hook check of store %s failed: %s", sh, exc)
            out[sh] = []
            continue
        queries.record_hook_check(get_settings().database_url, sh, inactive=len(revived))
        out[sh] = revived
    return out


@app.task(base=SyncTask, name="workers.tasks.collect_ometria_errors")
def collect_ometria_errors() -> dict[str, int]:
    """File Ometria's asynchronous validation errors in the failed list, once each, and forget the
    records' fingerprints so that a replay (after the store is fixed) pushes them again."""
    settings = get_settings()
    out = {}
    for sh in settings.stores:
        try:
            errors = syncer(sh).ometria.errors()
        except SyncError as exc:
            log.warning("reading Ometria errors for store %s failed: %s", sh, exc)
            continue
        out[sh] = queries.file_validation_errors(
            settings.database_url, sh, [validation_error(e) for e in errors]
        )
    return out


def validation_error(err: dict) -> queries.ValidationError:
    """One entry of Ometria's `_errors` as the failed list files it (under the record's product)."""
    record_id = str(err.get("record_id") or "")
    product = product_of(record_id)
    return queries.ValidationError(
        key=f"{err.get('request_id')}|{err.get('record_id')}|{err.get('error_path')}",
        record_id=record_id,
        product_ids=[] if product is None else [product],
        error=clean(f"Ometria rejected {record_id} at {err.get('error_path')}: {err.get('error_message')}"),
        filed_record_id=clean(record_id)[:128],
    )


@app.task(base=SyncTask, name="workers.tasks.prune")
def prune() -> int:
    """Forget webhook ids after an hour, and events after EVENTS_RETENTION_DAYS."""
    settings = get_settings()
    return queries.prune(settings.database_url, time.time(), settings.events_retention_days * 86400)


__all__ = [
    "backoff",
    "flush_store",
    "sweep_dirty",
    "reconcile_modified",
    "resync_all",
    "check_hooks",
    "collect_ometria_errors",
    "prune",
]
