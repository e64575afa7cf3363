"""`bcsync sandbox`: the simulated store and Ometria, imported only when the command runs
(workers/ never imports sandbox/ at import time)."""

from __future__ import annotations

import click

from workers.cli.base import cli, fail


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, add_help_option=False
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def sandbox(args: tuple[str, ...]) -> None:
    """Run the simulated BigCommerce store and Ometria on loopback (--help for its options)."""
    try:
        from sandbox.server import sandbox_command
    except Exception as exc:  # the rest of the CLI must work even if the sandbox cannot load
        fail(f"the sandbox cannot start: {type(exc).__name__}: {exc}")
    sandbox_command.main(args=list(args), prog_name="bcsync sandbox", standalone_mode=True)
