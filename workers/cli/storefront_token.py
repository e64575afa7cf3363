"""`bcsync storefront-token create --channel-id N --expires-at T --cors-origin URL`."""

from __future__ import annotations

import time

import click

from workers.cli.base import STORE_OPTION, TIME, Env, IdParam, bigcommerce_client, cli, fail, pass_env
from workers.cli.render import echo
from workers.store import failures


@cli.group("storefront-token")
def storefront_token() -> None:
    """Storefront API tokens."""


@storefront_token.command("create")
@click.option(
    "--channel-id", type=IdParam("channel id"), required=True, help="Channel id (1: the default storefront)."
)
@click.option("--expires-at", type=TIME, required=True, help="Expiry: unix seconds or ISO 8601.")
@click.option(
    "--cors-origin",
    "origins",
    multiple=True,
    required=True,
    metavar="URL",
    help="Allowed CORS origin (once or twice).",
)
@STORE_OPTION
@pass_env
def storefront_token_create(
    env: Env, channel_id: int, expires_at: float, origins: tuple[str, ...], store_hash: str | None
) -> None:
    """Create a storefront API token and print it."""
    if not 1 <= len(origins) <= 2:
        fail("give one or two --cors-origin")
    for origin in origins:
        if not origin.startswith(("https://", "http://")):
            fail(f"--cors-origin must be an origin like https://www.example.com, got {origin!r}")
    if expires_at <= time.time():
        fail(f"--expires-at is in the past ({failures.iso(expires_at)})")
    token = bigcommerce_client(env.store(store_hash)).create_storefront_token(
        channel_id, int(expires_at), list(origins)
    )
    env.err.print(f"storefront token for channel {channel_id}, expires {failures.iso(expires_at)}:")
    echo(token)
