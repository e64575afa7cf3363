"""`bcsync pause [STORE] [--reason TEXT]`, `bcsync resume [STORE]`: stop and restart a store's pushes.

While paused the receiver still records every callback; flushes wait. A pause lasts until resumed;
`bcsync status` says why a store is paused and how the pause lifts.
"""

from __future__ import annotations

import click
from rich.markup import escape

from workers.cli.base import JSON_OPTION, Env, cli, pass_env, redact_env
from workers.cli.flushing import wake
from workers.cli.render import print_json


@cli.command()
@click.argument("store_hash", metavar="[STORE]", required=False)
@click.option("--reason", default="", help="Why (shown by status and the admin page).")
@JSON_OPTION
@pass_env
def pause(env: Env, store_hash: str | None, reason: str, as_json: bool) -> None:
    """Pause a store's sync until `bcsync resume` (callbacks are still recorded)."""
    from workers.sync.pausing import pause_store

    store = env.store(store_hash)
    env.db()
    status = pause_store(env.settings, store.store_hash, reason or "paused by an operator (bcsync pause)")
    if as_json:
        print_json(env, status.to_dict())
        return
    env.out.print(escape(redact_env(env, status.sentence())))


@cli.command()
@click.argument("store_hash", metavar="[STORE]", required=False)
@JSON_OPTION
@pass_env
def resume(env: Env, store_hash: str | None, as_json: bool) -> None:
    """Lift a store's pause (an operator's, or one after a configuration error) and wake its flush."""
    from workers.sync.pausing import resume_store

    store = env.store(store_hash)
    env.db()
    status = resume_store(env.settings, store.store_hash)
    if as_json:
        print_json(env, status.to_dict())
    elif status.changed:
        env.out.print(f"store {escape(store.store_hash)} resumed")
    else:
        env.out.print(f"store {escape(store.store_hash)} was not paused: nothing to resume")
    if status.changed:
        wake(env, store.store_hash)
