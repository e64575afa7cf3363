"""What the commands that mark rows dirty share: flush them here, printing each batch and what was
pushed, or wake the worker."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from workers.cli.base import Env
from workers.cli.render import short
from workers.settings import StoreConfig
from workers.store import queries

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


def flush_here(env: Env, store: StoreConfig, product_ids: Sequence[int] = (), categories: int = 0) -> bool:
    """Flush the store's dirty rows in this process, printing each batch and what was pushed.
    Returns False when a batch failed (its rows stay dirty for the worker to retry)."""
    from workers.sync.flush import drain

    syncer = env.syncer(store)
    db, sh = env.db(), store.store_hash
    if syncer.paused() > 0:
        env.err.print(
            f"[yellow]store {escape(sh)} is paused after a configuration error; "
            "flushing anyway (see bcsync status).[/yellow]"
        )
    started = time.time()
    for _ in range(math.ceil(categories / 50)):  # drain() expands one claim of ≤50 categories itself
        syncer.expand_categories()
    ok = True
    batches = 0
    for report in drain(syncer, started + FLUSH_DEADLINE):
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
            env.err.print(f"[red]flush failed: {escape(report.error)}{retry}[/red]")
    if not batches:
        env.out.print("nothing to flush")
    pushed, left = queries.pushed_since(db, sh, started)
    if pushed:
        table = Table("record", "product", "active", title=f"pushed to Ometria ({len(pushed)} record(s))")
        for rid, pid, active in pushed[:SHOW_PUSHED]:
            table.add_row(escape(rid), str(pid), "yes" if active else "no")
        env.out.print(table)
        if len(pushed) > SHOW_PUSHED:
            env.out.print(f"… and {len(pushed) - SHOW_PUSHED} more")
    quiet = sorted(set(product_ids) - {int(pid) for _rid, pid, _a in pushed})
    if quiet:
        env.out.print(
            f"no change to push for product(s) {short(', '.join(map(str, quiet)), 200)} "
            "(already equal in Ometria, or not in the store)"
        )
    if left and ok:
        env.out.print(f"{left} product(s) still dirty: waking the worker for the rest")
        wake(env, sh)
    return ok
