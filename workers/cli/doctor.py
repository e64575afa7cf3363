"""`bcsync doctor`: the preflight checks of workers.ops.doctor as a table."""

from __future__ import annotations

import sys

from rich.markup import escape
from rich.table import Table

from workers.cli.base import Env, cli, pass_env, redact_env


@cli.command()
@pass_env
def doctor(env: Env) -> None:
    """Preflight: configuration, database, broker, BigCommerce token + scopes + hooks, Ometria key."""
    from workers.ops.doctor import FAIL, OK, run_checks

    checks = run_checks(env.settings)
    table = Table("", "check", "store", "detail", title="bcsync doctor")
    for c in checks:
        mark = {OK: "[green]✔[/green]", FAIL: "[red]✘[/red]"}.get(c.status, "[yellow]![/yellow]")
        table.add_row(mark, escape(c.name), escape(c.store), escape(redact_env(env, c.detail)))
    env.out.print(table)
    failed_checks = [c for c in checks if c.status == FAIL]
    if failed_checks:
        env.out.print(f"[red]{len(failed_checks)} check(s) failed[/red]")
        sys.exit(1)
    env.out.print("[green]all checks passed[/green]")
