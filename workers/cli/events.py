"""`bcsync events [--product ID] [--since T] [--json]`: what BigCommerce told us and what became of it.

With --product: that product's timeline, oldest first — every accepted callback (scope, webhook
id), every flush batch that fetched it (the BigCommerce call, records changed / unchanged), every
Ometria push that carried its records (Ometria's request id, accepted / rejected), its failures,
replays and resyncs, and the store's pauses and resumes. Without: the store's latest events.
"""

from __future__ import annotations

import sys

import click
from rich.markup import escape
from rich.table import Table

from workers.cli.base import JSON_OPTION, STORE_OPTION, TIME, Env, cli, fail, pass_env
from workers.cli.render import print_json


@cli.command()
@click.option(
    "--product", "product_id", type=click.IntRange(min=1, max=2**63 - 1), help="A product's timeline."
)
@click.option("--since", type=TIME, help="Only events after T (ISO 8601, unix seconds, or 2h/30m/1d).")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(min=1), help="Events at most.")
@STORE_OPTION
@JSON_OPTION
@pass_env
def events(
    env: Env, product_id: int | None, since: float | None, limit: int, store_hash: str | None, as_json: bool
) -> None:
    """A product's timeline (or the store's latest events); exit 1 for a product we know nothing of."""
    from workers.sync import events as timeline

    store = env.store(store_hash)
    env.db()
    if product_id is None:
        found = timeline.recent_events(env.settings, store.store_hash, since=since, limit=limit)
        title = f"latest events of store {escape(store.store_hash)}"
    else:
        found = timeline.events_for_product(env.settings, store.store_hash, product_id, since, limit)
        if not found and not timeline.known_product(env.settings, store.store_hash, product_id):
            fail(
                f"no product {product_id} known in store {store.store_hash}: no event in the log "
                f"(kept {env.settings.events_retention_days:g} days) and never pushed to Ometria"
            )
        title = f"product {product_id} of store {escape(store.store_hash)}"
    if as_json:
        print_json(env, [e.to_dict() for e in found])
        return
    if not found:
        env.out.print(f"{title}: no events" + (" in that time" if since is not None else ""))
        return
    table = Table("at (UTC)", "event", "product", "what", title=f"{title}: {len(found)} event(s)")
    for e in found:
        table.add_row(e.at_iso, e.kind, str(e.product_id) if e.product_id else "(store)", escape(e.summary))
    env.out.print(table)
    if len(found) >= limit:
        env.err.print(f"[dim]showing the latest {limit}; --limit for more, --since to narrow[/dim]")
    sys.stdout.flush()
