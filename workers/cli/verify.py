"""`bcsync verify [--product ID…|--all] [--fix]`: read Ometria back and report drift from the store."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from workers.cli.base import JSON_OPTION, STORE_OPTION, Env, IdParam, cli, fail, pass_env
from workers.cli.flushing import flush_here
from workers.cli.render import print_json, short
from workers.domain.ids import parse_ids

if TYPE_CHECKING:
    from workers.sync.verify import VerifyReport


def split_ids(values: Iterable[str]) -> list[int]:
    """Product ids given as arguments, each possibly a comma-separated list (workers.domain.ids)."""
    try:
        return parse_ids(" ".join(values), "product id")
    except ValueError as exc:
        fail(str(exc))


@cli.command()
@click.option("--product", "by_product", is_flag=True, help="Verify the products given as arguments.")
@click.argument("ids", nargs=-1)
@click.option("--all", "verify_all", is_flag=True, help="Verify the whole catalogue (the default).")
@click.option("--fix", is_flag=True, help="Re-push drifting records, then check again.")
@STORE_OPTION
@JSON_OPTION
@click.option("--limit", default=50, type=IdParam("--limit"), show_default=True, help="Drift rows to show.")
@pass_env
def verify(
    env: Env,
    by_product: bool,
    ids: tuple[str, ...],
    verify_all: bool,
    fix: bool,
    store_hash: str | None,
    as_json: bool,
    limit: int,
) -> None:
    """Read Ometria back and report drift from the store; exit 1 when drift remains."""
    from workers.sync import verify as verifier

    product_ids = split_ids(ids) if ids else None
    if by_product and not product_ids:
        fail("--product needs at least one product id")
    if verify_all and product_ids:
        fail("give product ids or --all, not both")
    from workers.sync.repair import split_known

    store = env.store(store_hash)
    syncer = env.syncer(store)
    unknown: list[int] = []
    if product_ids:
        present, gone, unknown = split_known(syncer, product_ids)
        for i in unknown:
            env.err.print(
                f"[red]product {i} not found: store {escape(store.store_hash)} does not have it and "
                "nothing of it was ever pushed to Ometria[/red]"
            )
        product_ids = [i for i in product_ids if i not in set(unknown)]
        if not product_ids:
            sys.exit(1)
    report = verifier.verify(syncer, product_ids)
    if as_json and not fix:
        print_json(env, report.as_dict())
        sys.exit(1 if report.drift or unknown else 0)
    _print_drift(env, report, limit)
    if not report.drift:
        if as_json:
            print_json(env, report.as_dict())
        if unknown:
            sys.exit(1)
        return
    if not fix:
        env.out.print("run with --fix to re-push the drifting records")
        sys.exit(1)
    marked = verifier.fix(syncer, report)
    env.out.print(f"--fix: {marked} product(s) marked dirty, their ledger entries reset; flushing")
    flush_here(env, store, report.drifting_products)
    after = verifier.verify(syncer, report.drifting_products)
    if as_json:
        print_json(env, after.as_dict())
    if after.drift:
        env.out.print(f"[red]still drifting after --fix: {len(after.drift)} record(s)[/red]")
        _print_drift(env, after, limit)
        sys.exit(1)
    env.out.print(f"[green]repaired: {len(report.drift)} record(s) now match the store[/green]")
    if unknown:
        sys.exit(1)


def _print_drift(env: Env, report: VerifyReport, limit: int) -> None:
    counts = report.counts()
    summary = (
        f"store {escape(report.store)}: {report.products} product(s), "
        f"{report.records} record(s) checked against {report.ometria_records} in Ometria"
    )
    if report.pending:
        env.out.print(
            f"pending, not drift: {len(report.pending)} product(s) have changes still waiting to be "
            f"flushed ({report.pending_records} record(s) differ meanwhile): "
            + short(", ".join(map(str, report.pending)), 200)
        )
    if not report.drift:
        env.out.print(f"[green]{summary}: no drift[/green]")
        return
    env.out.print(
        f"[red]{summary}: {len(report.drift)} drifting record(s)[/red] — "
        + ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    )
    table = Table("record", "product", "drift", "fields (store → Ometria)")
    for d in report.drift[:limit]:
        fields = "; ".join(
            f"{k}: {short(json.dumps(a), 30)} → {short(json.dumps(b), 30)}"
            for k, (a, b) in list(d.fields.items())[:4]
        )
        table.add_row(escape(d.record_id), str(d.product_id), d.kind, escape(fields) or "—")
    env.out.print(table)
    if len(report.drift) > limit:
        env.out.print(f"… and {len(report.drift) - limit} more (--limit, or --json for all)")
