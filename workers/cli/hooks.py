"""`bcsync hooks register|list|check`: BigCommerce webhooks."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from workers.cli.base import JSON_OPTION, STORE_OPTION, Env, bigcommerce_client, cli, fail, pass_env
from workers.cli.render import print_json


@cli.group()
def hooks() -> None:
    """BigCommerce webhooks: register, list, check."""


@hooks.command("register")
@click.option(
    "--destination", metavar="URL", help="Callback URL (default: $PUBLIC_URL/webhooks/bigcommerce)."
)
@STORE_OPTION
@pass_env
def hooks_register(env: Env, destination: str | None, store_hash: str | None) -> None:
    """Create (or update / re-activate) a hook for every handled scope. Idempotent."""
    from workers.sync.hooks import default_destination, register_hooks

    dest = destination.strip() if destination else default_destination(env.settings.public_url)
    if not dest.startswith(("https://", "http://")):
        fail(f"--destination must be an http(s) URL, got {dest!r}")
    if not dest.startswith("https://"):
        env.err.print(
            "[yellow]BigCommerce only delivers to https on port 443; http works with the sandbox "
            "only.[/yellow]"
        )
    for store in env.stores(store_hash):
        actions = register_hooks(bigcommerce_client(store), store, dest)
        title = f"store {escape(store.store_hash)} → {escape(dest)}"
        table = Table("scope", "hook id", "action", title=title)
        for a in actions:
            table.add_row(a.scope, str(a.hook_id or "—"), a.action)
        env.out.print(table)
        secret = "with" if store.webhook_secret else "without (WEBHOOK_SECRET unset)"
        env.out.print(f"{len(actions)} scope(s) registered {secret} the X-Webhook-Secret header")


@hooks.command("list")
@STORE_OPTION
@JSON_OPTION
@pass_env
def hooks_list(env: Env, store_hash: str | None, as_json: bool) -> None:
    """The store's hooks, with is_active (header values are never shown)."""
    rows: list[dict[str, Any]] = []
    for store in env.stores(store_hash):
        for h in bigcommerce_client(store).list_hooks():
            rows.append(
                {
                    "store": store.store_hash,
                    "id": h.get("id"),
                    "scope": h.get("scope"),
                    "destination": h.get("destination"),
                    "is_active": h.get("is_active"),
                    "headers": sorted((h.get("headers") or {}).keys()),
                }
            )
    if as_json:
        print_json(env, rows)
        return
    table = Table("store", "id", "scope", "destination", "is_active", "headers", title=f"{len(rows)} hook(s)")
    for r in rows:
        active = "[green]yes[/green]" if r["is_active"] else "[red]NO[/red]"
        table.add_row(
            escape(r["store"]),
            str(r["id"]),
            escape(str(r["scope"])),
            escape(str(r["destination"])),
            active,
            escape(", ".join(r["headers"])) or "—",
        )
    env.out.print(table)


@hooks.command("check")
@STORE_OPTION
@pass_env
def hooks_check(env: Env, store_hash: str | None) -> None:
    """Re-activate hooks BigCommerce deactivated, and report coverage of the handled scopes."""
    from workers.sync.hooks import hook_coverage, revive_hooks

    for store in env.stores(store_hash):
        client = bigcommerce_client(store)
        revived = revive_hooks(client, store.store_hash)
        for h in revived:
            env.out.print(
                f"store {escape(store.store_hash)}: re-activated hook {h.get('id')} "
                f"({escape(str(h.get('scope')))})"
            )
        if not revived:
            env.out.print(f"store {escape(store.store_hash)}: no deactivated hooks")
        missing = [c.scope for c in hook_coverage(client.list_hooks(), store=store) if c.action != "ok"]
        if missing:
            env.err.print(
                f"[yellow]no active hook for: {', '.join(missing)} — run bcsync hooks register[/yellow]"
            )
