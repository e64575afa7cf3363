"""`bcsync status [--json]`: per store, dirty rows, claims, failures, pauses, last sweep, ledger;
and liveness: every part's last sign of life against its threshold (workers.domain.health)."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from workers.cli.base import JSON_OPTION, Env, cli, pass_env, redact_env
from workers.cli.render import duration, print_json
from workers.domain.health import UNHEALTHY, Health
from workers.store import failures
from workers.store.storage import CATEGORY, PRODUCT


@cli.command()
@JSON_OPTION
@pass_env
def status(env: Env, as_json: bool) -> None:
    """Dirty rows, claims, oldest change, failures, pauses, last sweep, ledger size — per store."""
    from workers.ops.liveness import read_health

    data = failures.ops_status(env.db(), list(env.settings.stores))
    health = read_health(env.settings)
    data["health"] = health.as_dict()
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
    print_health(env, health)


def print_health(env: Env, health: Health) -> None:
    table = Table("", "part", "store", "last", "threshold", "detail", title="liveness")
    rows = [("", c) for c in health.parts] + [(s.store, c) for s in health.stores for c in s.checks]
    for store, c in rows:
        mark = {UNHEALTHY: "[red]unhealthy[/red]", "ok": "[green]ok[/green]"}.get(c.state, c.state)
        last = f"{duration(health.now - c.last)} ago" if c.last else "—"
        threshold = duration(c.threshold) if c.threshold is not None and c.name != "quota" else "—"
        table.add_row(mark, c.name, escape(store), last, threshold, escape(redact_env(env, c.detail)))
    env.out.print(table)
    verdict = "[green]healthy[/green]" if health.healthy else "[red]unhealthy[/red]"
    env.out.print(f"liveness: {verdict}")
