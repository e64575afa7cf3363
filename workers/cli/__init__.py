"""`bcsync`, the console script for ops and support (click + rich).

    bcsync resync product|category ID… [--async]      bcsync resync all [--dry-run]
    bcsync failed list|show ID|replay ID…|replay --all|discard ID…
    bcsync hooks register|list|check                   bcsync storefront-token create …
    bcsync verify [--product ID…|--all] [--fix]        bcsync doctor | status | db upgrade | sandbox
    bcsync events [--product ID] [--since T]           bcsync pause|resume [STORE]

Commands that touch the database bring it to the latest migration first, so a fresh database just
works. Expected problems (bad configuration, unknown ids, API errors, an unreachable database) end
with a one-line message and exit code 1, never a traceback; no secret is ever printed (the one
exception is the storefront token that `storefront-token create` exists to print).

One module per command group (resync, failed, hooks, storefront_token, verify, events, pause, doctor,
status, db, sandbox), each adding its commands to the group in `base`; rendering helpers in `render`, the
in-process flush that several commands share in `flushing`.
"""

from __future__ import annotations

from collections.abc import Sequence

from workers.cli import (  # noqa: F401 — importing a command module registers its commands
    db,
    doctor,
    events,
    failed,
    hooks,
    pause,
    resync,
    sandbox,
    status,
    storefront_token,
    verify,
)
from workers.cli.base import cli


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="bcsync")


__all__ = ["cli", "main"]
