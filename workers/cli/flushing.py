"""What the commands that mark rows dirty share: flush them here, printing each batch and what was
pushed, or wake the worker."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from workers.cli.base import Env, redact_env
from workers.cli.render import short
from workers.settings import StoreConfig
from workers.store import failures, support
from workers.store.models import PRODUCT

FLUSH_DEADLINE = 900.0  # an in-process flush gives up after this long; the worker finishes the rest
SHOW_PUSHED = 50


def wake(env: Env, store_hash: str) -> bool:
    """Publish one flush_store wake-up; if the broker is away, the worker's sweep catches up."""
    try:
        from workers.tasks.jobs import flush_store

        flush_store.apply_async(args=[store_hash], retry=False)
    except Exception as exc:
        env.err.print(
            f"[yellow]could not reach the broker ({escape(type(exc).__name__)}); the rows are "
            "dirty in the database and the worker's periodic sweep will flush them.[/yellow]"
        )
        return False
    env.out.print(f"woke the worker for store {escape(store_hash)}")
    return True


def flush_here(
    env: Env, store: StoreConfig, product_ids: Sequence[int] = (), categories: int = 0, quiet: bool = False
) -> bool:
    """Flush the store's dirty rows in this process, printing each batch, what was pushed and, for
    each of `product_ids` that was not, why (failed, still waiting, or equal to what Ometria last
    accepted). Returns False when a batch or one of those products failed, or when an operator
    paused the store (then nothing is flushed: the pause says how it lifts). `quiet`: no line for
    products that pushed nothing (the caller reports them)."""
    from workers.ops.observability import record_flush
    from workers.sync.flush import drain
    from workers.sync.pausing import pause_status

    syncer = env.syncer(store)
    db, sh = env.db(), store.store_hash
    pause = pause_status(env.settings, sh)
    if pause.paused and pause.kind == "operator":
        env.err.print(f"[yellow]{escape(redact_env(env, pause.sentence()))}; nothing flushed[/yellow]")
        return False
    if pause.paused:
        env.err.print(f"[yellow]{escape(redact_env(env, pause.sentence()))}; flushing here anyway[/yellow]")
    started = time.time()
    for _ in range(math.ceil(categories / 50)):  # drain() expands one claim of ≤50 categories itself
        syncer.expand_categories()
    ok = True
    batches = 0
    batch_started = time.monotonic()
    for report in drain(syncer, started + FLUSH_DEADLINE):
        record_flush(
            sh,
            ok=report.error is None,
            products=report.claimed,
            records=report.pushed,
            seconds=time.monotonic() - batch_started,
        )
        batches += 1
        line = (
            f"batch {batches}: {report.claimed} claimed, {report.fetched} fetched, {report.gone} gone, "
            f"{report.records} changed record(s), {report.pushed} pushed in {report.requests} request(s)"
        )
        if report.failed:
            line += f", [red]{report.failed} failed (see bcsync failed list)[/red]"
        env.out.print(line)
        if report.error:
            ok = False
            retry = f"; retry in {report.retry_in:.0f}s by the worker" if report.retry_in else ""
            env.err.print(f"[red]flush failed: {escape(redact_env(env, report.error))}{retry}[/red]")
        batch_started = time.monotonic()
    if not batches:
        env.out.print("nothing to flush")
    pushed, left, waiting = support.flush_outcome(db, sh, started, product_ids)
    if pushed:
        table = Table("record", "product", "active", title=f"pushed to Ometria ({len(pushed)} record(s))")
        for rid, pid, active in pushed[:SHOW_PUSHED]:
            table.add_row(escape(rid), str(pid), "yes" if active else "no")
        env.out.print(table)
        if len(pushed) > SHOW_PUSHED:
            env.out.print(f"… and {len(pushed) - SHOW_PUSHED} more")
    failed_now = failures.failed_since(db, sh, started)
    failed_pids = {i for e in failed_now if e.entity == PRODUCT for i in e.entity_ids or ()}
    for entry in failed_now:
        mine = sorted(set(entry.entity_ids or ()) & set(product_ids)) if product_ids else entry.entity_ids
        if mine:
            ok = False
            what = ", ".join(map(str, mine))
            env.err.print(
                f"[red]product {short(what, 80)} not pushed (failed task #{entry.id}, "
                f"bcsync failed show {entry.id}): {escape(redact_env(env, short(entry.error, 300)))}[/red]"
            )
    done = {int(pid) for _rid, pid, _a in pushed}
    quiet_ids = sorted(set(product_ids) - done - failed_pids - waiting)
    if waiting:
        env.out.print(
            f"product(s) {short(', '.join(map(str, sorted(waiting))), 200)} still waiting to be flushed"
        )
    if quiet_ids and not quiet:
        env.out.print(
            f"no change to push for product(s) {short(', '.join(map(str, quiet_ids)), 200)} "
            "(equal to what Ometria last accepted, per the ledger)"
        )
    if left and ok:
        env.out.print(f"{left} product(s) still dirty: waking the worker for the rest")
        wake(env, sh)
    return ok
