"""`bcsync status [--json]`: per store, dirty rows, claims, failures, pauses, last sweep, ledger."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from workers.cli.base import JSON_OPTION, Env, cli, pass_env, redact_env
from workers.cli.render import duration, print_json
from workers.store import failures
from workers.store.storage import CATEGORY, PRODUCT


@cli.command()
@JSON_OPTION
@pass_env
def status(env: Env, as_json: bool) -> None:
    """Dirty rows, claims, oldest change, failures, pauses, last sweep, ledger size — per store."""
    data = failures.ops_status(env.db(), list(env.settings.stores))
    if as_json:
        print_json(env, data)
        return
    table = Table(
        "store",
        "dirty (products / categories)",
        "claimed",
        "waiting retry",
        "oldest dirty",
        "failed",
        "paused",
        "last sweep",
        "ledger (active)",
        title=f"bcsync status at {data['now']}",
    )
    for r in data["stores"]:
        until = f"until {r['paused_until']}" if r["paused_until"] else "until resumed"
        paused = f"[red]{until}[/red]" if r["paused"] else "no"
        if r["rate_limited"]:
            paused += " · rate-limited: " + ", ".join(r["rate_limited"])
        table.add_row(
            escape(r["store"]),
            f"{r['dirty'].get(PRODUCT, 0)} / {r['dirty'].get(CATEGORY, 0)}",
            str(r["claimed"]),
            str(r["waiting_retry"]),
            duration(r["oldest_dirty_age_s"]),
            f"[red]{r['failed']}[/red]" if r["failed"] else "0",
            paused,
            r["last_sweep_at"] or "never",
            f"{r['ledger_records']} ({r['ledger_active']})",
        )
    env.out.print(table)
    from workers.sync.pausing import pause_status

    for r in data["stores"]:
        if r["paused"] and r["store"] in env.settings.stores:
            sentence = pause_status(env.settings, r["store"]).sentence()
            env.out.print(escape(redact_env(env, sentence)))
