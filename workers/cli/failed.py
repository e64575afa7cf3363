"""`bcsync failed list|show ID|replay ID…|replay --all|discard ID…`: the failed-task list."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from workers.cli.base import (
    ASYNC_OPTION,
    JSON_OPTION,
    STORE_OPTION,
    TIME,
    Env,
    IdParam,
    cli,
    fail,
    pass_env,
    redact_env,
)
from workers.cli.flushing import flush_here, wake
from workers.cli.render import print_json, short
from workers.store import failures
from workers.store.storage import CATEGORY, PRODUCT


@cli.group()
def failed() -> None:
    """The failed-task list: list, show, replay, discard."""


@failed.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include replayed and discarded entries.")
@click.option(
    "--since", type=TIME, help="Only entries that last failed after T (ISO 8601, unix seconds, or 2h/30m/1d)."
)
@STORE_OPTION
@JSON_OPTION
@pass_env
def failed_list(env: Env, show_all: bool, since: float | None, store_hash: str | None, as_json: bool) -> None:
    """List the open failures (or all with --all)."""
    entries = failures.list_failed(env.db(), status=None if show_all else "failed", since=since, limit=10_000)
    if store_hash:
        entries = [e for e in entries if e.store_hash == store_hash]
    if as_json:
        print_json(env, [failures.to_dict(e) for e in entries])
        return
    if not entries:
        env.out.print("no failed tasks" + ("" if show_all else " open"))
        return
    table = Table(
        "id",
        "store",
        "task",
        "ids",
        "kind",
        "error",
        "attempts",
        "first failure",
        "last failure",
        *(("status",) if show_all else ()),
        title=f"{len(entries)} failed task(s)",
    )
    for e in entries:
        ids = ", ".join(map(str, e.entity_ids or [])) or "(store)"
        table.add_row(
            str(e.id),
            escape(e.store_hash),
            escape(e.task),
            escape(short(f"{e.entity} {ids}", 30)),
            escape(e.kind),
            escape(short(e.error, 60)),
            str(e.attempts),
            failures.iso(e.first_failed_at) or "—",
            failures.iso(e.last_failed_at) or "—",
            *((escape(e.status),) if show_all else ()),
        )
    env.out.print(table)


@failed.command("show")
@click.argument("entry_id", type=IdParam("entry id"))
@JSON_OPTION
@pass_env
def failed_show(env: Env, entry_id: int, as_json: bool) -> None:
    """Every field of one entry, traceback included."""
    entry = failures.get_failed(env.db(), entry_id)
    if entry is None:
        fail(f"no failed task with id {entry_id}")
    data = failures.to_dict(entry, traceback=True)
    if as_json:
        print_json(env, data)
        return
    for key, value in data.items():
        if key == "traceback":
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        shown = "—" if value is None else shown
        env.out.print(f"[bold]{key:>15}[/bold]  {escape(shown)}", soft_wrap=True)
    env.out.print("[bold]      traceback[/bold]")
    env.out.print(entry.traceback or "(none)", markup=False)


@failed.command("replay")
@click.argument("ids", nargs=-1, type=IdParam("entry id"))
@click.option("--all", "replay_all", is_flag=True, help="Replay every open entry.")
@click.option("--since", type=TIME, help="With --all: only entries that last failed after T.")
@ASYNC_OPTION
@pass_env
def failed_replay(
    env: Env, ids: tuple[int, ...], replay_all: bool, since: float | None, run_async: bool
) -> None:
    """Redo the work of these entries from the store's current state (harmless to repeat)."""
    if bool(ids) == replay_all:
        fail("give entry ids, or --all (not both)")
    if since is not None and not replay_all:
        fail("--since goes with --all")
    db = env.db()
    if ids:
        _check_known(env, db, ids, "replay")
    started = time.time()
    entries = failures.replay(db, None if replay_all else list(ids), since=since)
    if not entries:
        env.out.print("nothing to replay")
        return
    for e in entries:
        what = ", ".join(map(str, e.entity_ids)) or "store-wide (pause lifted)"
        env.out.print(
            f"replayed #{e.id} ({escape(e.task)}, store {escape(e.store_hash)}): "
            f"{escape(e.entity)} {escape(short(what, 80))} marked dirty"
        )
    ok = True
    for sh in failures.stores_of(entries):
        store = env.settings.store(sh)
        if store is None:
            env.err.print(
                f"[yellow]store {escape(sh)} is not configured here; its rows wait for a worker "
                "that has it.[/yellow]"
            )
            continue
        if run_async:
            wake(env, sh)
        else:
            pids = [i for e in entries if e.store_hash == sh and e.entity == PRODUCT for i in e.entity_ids]
            cats = sum(len(e.entity_ids) for e in entries if e.store_hash == sh and e.entity == CATEGORY)
            ok &= flush_here(env, store, pids, cats, quiet=True)
    if not run_async:
        ok &= _report_outcomes(env, db, entries, started)
    if not ok:
        sys.exit(1)


def _report_outcomes(env: Env, db: str, entries: list[Any], started: float) -> bool:
    """One line per replayed entry: what its replay did. False when one still fails."""
    ok = True
    for entry_id, outcome in failures.replay_outcomes(db, entries, started).items():
        if outcome["status"] == "still failing":
            ok = False
            env.out.print(
                f"[red]#{entry_id} still failing (attempt {outcome['attempts']}): "
                f"{escape(redact_env(env, short(outcome['error'], 300)))}[/red]"
            )
        elif outcome["status"] == "waiting":
            env.out.print(
                f"#{entry_id}: {outcome['records']} record(s) pushed so far, {outcome['dirty']} "
                "row(s) still waiting for the worker"
            )
        else:
            env.out.print(f"[green]#{entry_id} replayed: pushed {outcome['records']} record(s)[/green]")
    return ok


def _check_known(env: Env, db: str, ids: Iterable[int], verb: str) -> None:
    unknown, closed = [], []
    for i in ids:
        entry = failures.get_failed(db, i)
        if entry is None:
            unknown.append(i)
        elif entry.status != "failed":
            closed.append((i, entry.status))
    if unknown:
        fail(f"no failed task with id {', '.join(map(str, unknown))}")
    for i, status in closed:
        env.out.print(f"#{i} is already {status}: nothing to {verb}")


@failed.command("discard")
@click.argument("ids", nargs=-1, required=True, type=IdParam("entry id"))
@pass_env
def failed_discard(env: Env, ids: tuple[int, ...]) -> None:
    """Close these entries without redoing their work."""
    db = env.db()
    _check_known(env, db, ids, "discard")
    n = failures.discard(db, list(ids))
    env.out.print(f"discarded {n} entr{'y' if n == 1 else 'ies'}")
