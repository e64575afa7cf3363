"""`bcsync resync product|category ID… [--async]`, `bcsync resync all [--dry-run] [--async]`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from workers.cli.base import ASYNC_OPTION, STORE_OPTION, Env, IdParam, cli, fail, pass_env
from workers.cli.flushing import flush_here, wake
from workers.cli.render import num, short, yes
from workers.domain.ids import product_of
from workers.settings import StoreConfig
from workers.store import queries
from workers.store.models import CATEGORY, PRODUCT

if TYPE_CHECKING:
    from workers.sync.flush import ResyncReport


@cli.group()
def resync() -> None:
    """Resync products, categories or the whole store to Ometria."""


def _resync_ids(env: Env, entity: str, ids: Sequence[int], store_hash: str | None, run_async: bool) -> None:
    store = env.store(store_hash)
    n = queries.mark(env.db(), store.store_hash, entity, ids, "resync")
    env.out.print(f"marked {n} {entity}(s) dirty in store {escape(store.store_hash)}")
    if run_async:
        wake(env, store.store_hash)
        return
    ok = flush_here(env, store, ids if entity == PRODUCT else (), len(ids) if entity == CATEGORY else 0)
    if not ok:
        sys.exit(1)


@resync.command("product")
@click.argument("ids", nargs=-1, required=True, type=IdParam("product id"))
@STORE_OPTION
@ASYNC_OPTION
@pass_env
def resync_product(env: Env, ids: tuple[int, ...], store_hash: str | None, run_async: bool) -> None:
    """Push these products (and their variants) again if they differ from what Ometria has."""
    _resync_ids(env, PRODUCT, ids, store_hash, run_async)


@resync.command("category")
@click.argument("ids", nargs=-1, required=True, type=IdParam("category id"))
@STORE_OPTION
@ASYNC_OPTION
@pass_env
def resync_category(env: Env, ids: tuple[int, ...], store_hash: str | None, run_async: bool) -> None:
    """Resync every product in these categories and their sub-categories."""
    _resync_ids(env, CATEGORY, ids, store_hash, run_async)


@resync.command("all")
@click.option("--dry-run", is_flag=True, help="Push nothing; show what would change.")
@STORE_OPTION
@click.option("--async", "run_async", is_flag=True, help="Enqueue the resync for the worker instead.")
@pass_env
def resync_all(env: Env, dry_run: bool, store_hash: str | None, run_async: bool) -> None:
    """Walk the whole catalogue and push what differs from Ometria (only that)."""
    stores = env.stores(store_hash)
    env.db()
    if run_async:
        from workers.tasks.jobs import resync_all as resync_task

        for store in stores:
            try:
                resync_task.apply_async(args=[store.store_hash, dry_run], retry=False)
            except Exception as exc:
                fail(f"could not enqueue the resync ({type(exc).__name__}): is the broker reachable?")
            kind = "dry-run resync" if dry_run else "resync"
            env.out.print(f"enqueued a {kind} of store {escape(store.store_hash)}")
        return
    failed = False
    for store in stores:
        report = _resync_store(env, store, dry_run)
        if dry_run:
            _print_dry_run(env, store, report)
            continue
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


def _print_dry_run(env: Env, store: StoreConfig, report: ResyncReport) -> None:
    pids = sorted({p for r in report.samples if (p := product_of(r["id"])) is not None})
    known = queries.known_records(env.db(), store.store_hash, pids)
    table = Table(
        "record",
        "change",
        "title",
        "price",
        "special",
        "active",
        "in stock",
        title=f"dry run, store {escape(store.store_hash)}: first {len(report.samples)} of "
        f"{report.changed} record(s) that would be pushed",
    )
    for r in report.samples:
        change = "update" if r["id"] in known else "new"
        if r.get("@merge"):
            change = "deactivate"
        table.add_row(
            escape(str(r["id"])),
            change,
            escape(short(r.get("title"), 40)),
            num(r.get("price")),
            num(r.get("special_price")),
            yes(r.get("is_active")),
            yes(r.get("is_in_stock")),
        )
    if report.samples:
        env.out.print(table)
    env.out.print(
        f"dry run: {report.products} product(s) seen in {report.pages} page(s), "
        f"{report.changed} record(s) would be pushed, {report.gone} product(s) look gone "
        "(would be confirmed and deactivated). Nothing was pushed."
    )
