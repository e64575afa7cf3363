"""`bcsync db upgrade`: bring the database to the latest migration."""

from __future__ import annotations

from rich.markup import escape

from workers.cli.base import Env, cli, pass_env


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_env
def db_upgrade(env: Env) -> None:
    """Bring the database to the latest migration (idempotent)."""
    from workers.ops.doctor import safe_db_url
    from workers.store.migrate import upgrade

    upgrade(env.settings.database_url)
    env.out.print(f"database {escape(safe_db_url(env.settings.database_url))} is at the latest migration")
