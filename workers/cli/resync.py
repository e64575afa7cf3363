"""`bcsync resync product|category ID… [--dry-run] [--async]`, `bcsync resync all [--dry-run] [--force]`.

`resync product|category` is support's repair: the records are pushed whole whatever the ledger
says, then their fingerprints recorded (workers.sync.repair); an id the store does not have is
pushed as gone if we ever pushed it, and reported not found (exit 1) if we never did. `resync all`
pushes only what differs from the ledger; `--force` everything. `--dry-run` shows each record's
fields old (Ometria's copy) → new and pushes nothing."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from workers.cli.base import ASYNC_OPTION, STORE_OPTION, Env, IdParam, cli, fail, pass_env
from workers.cli.flushing import flush_here, wake
from workers.cli.render import short
from workers.settings import StoreConfig
from workers.store.storage import CATEGORY, PRODUCT

if TYPE_CHECKING:
    from workers.sync.flush import ResyncReport


@cli.group()
def resync() -> None:
    """Resync products, categories or the whole store to Ometria."""


def _not_found_lines(env: Env, ids: Sequence[int], what: str, store_hash: str) -> None:
    for i in ids:
        env.err.print(
            f"[red]{what} {i} not found: store {escape(store_hash)} does not have it and nothing "
            "of it was ever pushed to Ometria (nothing done for it)[/red]"
        )


def _resync_ids(
    env: Env, entity: str, ids: Sequence[int], store_hash: str | None, run_async: bool, dry_run: bool
) -> None:
    from workers.sync import repair

    store = env.store(store_hash)
    syncer = env.syncer(store)
    sh = store.store_hash
    if dry_run:
        if entity == PRODUCT:
            preview = repair.preview_products(syncer, ids)
        else:
            preview = repair.preview_categories(syncer, ids)
        print_preview(env, preview, whole=True)
        _not_found_lines(env, preview.not_found, "product", sh)
        _not_found_lines(env, preview.categories_not_found, "category", sh)
        if preview.not_found or preview.categories_not_found:
            sys.exit(1)
        return
    plan = repair.repair_products(syncer, ids) if entity == PRODUCT else repair.repair_categories(syncer, ids)
    _not_found_lines(env, plan.not_found, "product", sh)
    _not_found_lines(env, plan.categories_not_found, "category", sh)
    missing = bool(plan.not_found or plan.categories_not_found)
    if not plan.marked:
        if entity == CATEGORY and not missing:
            env.out.print("no product in these categories: nothing to push")
            return
        sys.exit(1)
    env.out.print(
        f"store {escape(sh)}: {len(plan.products)} product(s) to push whole (whatever the ledger says)"
        + (f", {len(plan.gone)} gone from the store to push as inactive" if plan.gone else "")
        + f": {short(', '.join(map(str, plan.marked)), 200)}"
    )
    if run_async:
        wake(env, sh)
    elif not flush_here(env, store, plan.marked):
        sys.exit(1)
    if missing:
        sys.exit(1)


@resync.command("product")
@click.argument("ids", nargs=-1, required=True, type=IdParam("product id"))
@click.option("--dry-run", is_flag=True, help="Push nothing; show each record's fields old → new.")
@STORE_OPTION
@ASYNC_OPTION
@pass_env
def resync_product(
    env: Env, ids: tuple[int, ...], dry_run: bool, store_hash: str | None, run_async: bool
) -> None:
    """Push these products' current records whole (repair Ometria's copy); exit 1 for an id never known."""
    _resync_ids(env, PRODUCT, ids, store_hash, run_async, dry_run)


@resync.command("category")
@click.argument("ids", nargs=-1, required=True, type=IdParam("category id"))
@click.option("--dry-run", is_flag=True, help="Push nothing; show each record's fields old → new.")
@STORE_OPTION
@ASYNC_OPTION
@pass_env
def resync_category(
    env: Env, ids: tuple[int, ...], dry_run: bool, store_hash: str | None, run_async: bool
) -> None:
    """Push every product of these categories (and sub-categories) whole; exit 1 for an unknown one."""
    _resync_ids(env, CATEGORY, ids, store_hash, run_async, dry_run)


@resync.command("all")
@click.option("--dry-run", is_flag=True, help="Push nothing; show each record's fields old → new.")
@click.option("--force", is_flag=True, help="Push every record, not only those that differ from the ledger.")
@STORE_OPTION
@click.option("--async", "run_async", is_flag=True, help="Enqueue the resync for the worker instead.")
@pass_env
def resync_all(env: Env, dry_run: bool, force: bool, store_hash: str | None, run_async: bool) -> None:
    """Walk the whole catalogue and push what differs from the ledger (everything with --force)."""
    from workers.sync import repair

    stores = env.stores(store_hash)
    env.db()
    if run_async:
        from workers.tasks.jobs import resync_all as resync_task

        for store in stores:
            try:
                resync_task.apply_async(args=[store.store_hash, dry_run, force], retry=False)
            except Exception as exc:
                fail(f"could not enqueue the resync ({type(exc).__name__}): is the broker reachable?")
            kind = "dry-run resync" if dry_run else "forced resync" if force else "resync"
            env.out.print(f"enqueued a {kind} of store {escape(store.store_hash)}")
        return
    failed = False
    for store in stores:
        if dry_run:
            print_preview(env, repair.preview_all(env.syncer(store), force=force), whole=force)
            continue
        if force:
            n = repair.force_all(env.syncer(store))
            env.out.print(f"--force: {n} ledger record(s) of store {escape(store.store_hash)} to push again")
        report = _resync_store(env, store, dry_run)
        env.out.print(
            f"store {escape(store.store_hash)}: {report.products} product(s) seen, "
            f"{report.changed} record(s) changed, {report.pushed} pushed, {report.gone} look gone"
        )
        if report.gone:
            env.out.print("confirming the products that look gone:")
            failed |= not flush_here(env, store)
    if failed:
        sys.exit(1)


def _resync_store(env: Env, store: StoreConfig, dry_run: bool) -> ResyncReport:
    syncer = env.syncer(store)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=env.err, transient=False) as progress:
        label = f"{'dry run ' if dry_run else ''}store {escape(store.store_hash)}"
        task = progress.add_task(f"{label}: starting", total=None)

        def on_page(rep: ResyncReport) -> None:
            pushed = "" if dry_run else f" · pushed {rep.pushed}"
            progress.update(
                task,
                description=f"{label}: pages {rep.pages} · products seen {rep.products} · "
                f"records changed {rep.changed}{pushed}",
            )

        report = syncer.resync_all(dry_run=dry_run, progress=on_page)
        on_page(report)
    return report


def _cell(value: Any) -> str:
    return "—" if value is None else short(json.dumps(value, ensure_ascii=False, default=str), 60)


def print_preview(env: Env, preview: Any, whole: bool, limit: int = 200) -> None:
    """A dry run's records, field by field: Ometria's value now → the value that would be pushed."""
    table = Table(
        "record",
        "product",
        "change",
        "field",
        "old (Ometria now)",
        "new (would be pushed)",
        title=f"dry run, store {escape(preview.store)}: {min(len(preview.changes), limit)} of "
        f"{preview.total} record(s) that would be pushed",
    )
    for c in preview.changes[:limit]:
        rows = list(c.fields.items()) or [("(no field differs)", (None, None))]
        for n, (name, (old, new)) in enumerate(rows):
            first = n == 0
            table.add_row(
                escape(c.record_id) if first else "",
                str(c.product_id) if first else "",
                c.change if first else "",
                escape(name),
                escape(_cell(old)) if c.fields else "",
                escape(_cell(new)) if c.fields else "",
            )
    if preview.changes:
        env.out.print(table)
    what = "pushed whole" if whole else "pushed (they differ from the ledger)"
    gone = f", {len(preview.gone)} product(s) gone from the store would go inactive" if preview.gone else ""
    env.out.print(
        f"dry run: {preview.products} product(s) seen, {preview.total} record(s) would be {what}{gone}. "
        "Nothing was pushed."
    )
