"""The `bcsync` group and what every command shares: settings loaded on first use, the consoles,
the migrated database, one-line errors for expected failures, and the common options."""

from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import click
from rich.console import Console
from rich.logging import RichHandler

from workers.cli.render import console
from workers.domain.errors import SyncError, redact
from workers.domain.ids import is_id, parse_id
from workers.domain.text import clean
from workers.settings import ConfigError, Settings, StoreConfig, load_settings
from workers.store import failures
from workers.store.engine import DatabaseError
from workers.store.storage import sqlite_path

if TYPE_CHECKING:  # imported where used: `bcsync --help` loads no client or use case
    from workers.clients.bigcommerce import BigCommerceClient
    from workers.sync.flush import Syncer


@dataclass
class Env:
    """What every command shares: settings (loaded on first use), consoles, the migrated database."""

    out: Console
    err: Console
    _settings: Settings | None = None
    _migrated: set[str] = field(default_factory=set)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
            if self._settings.sandbox:
                self.err.print(
                    "[dim]No BIGCOMMERCE_STORE_HASH set: using the SANDBOX store "
                    "(run `bcsync sandbox` to serve it).[/dim]"
                )
        return self._settings

    def db(self) -> str:
        """The database URL, migrated. A SQLite file DATABASE_URL names that does not exist is an
        error (nothing is created: `bcsync db upgrade` creates it); the embedded default under
        BCSYNC_VAR_DIR is created on first use."""
        url = self.settings.database_url
        path = sqlite_path(url)
        if self.settings.database_url_named and path is not None and not path.is_file():
            fail(
                f"no database at {path} (DATABASE_URL): check the path, or run `bcsync db upgrade` "
                "to create it there"
            )
        if url not in self._migrated:
            from workers.store.migrate import upgrade

            upgrade(url)
            self._migrated.add(url)
        return url

    def save_metrics(self) -> None:
        """At the command's end: the API requests and flushes it made into the /metrics totals
        (only where the command used the database already)."""
        if self._settings is not None and self._settings.database_url in self._migrated:
            from workers.ops.observability import persist_tally

            persist_tally(self._settings.database_url)

    def stores(self, store_hash: str | None) -> list[StoreConfig]:
        stores = self.settings.stores
        if store_hash:
            if store_hash not in stores:
                fail(f"store {store_hash!r} is not configured (configured: {', '.join(stores) or 'none'})")
            return [stores[store_hash]]
        return list(stores.values())

    def store(self, store_hash: str | None) -> StoreConfig:
        stores = self.stores(store_hash)
        if len(stores) != 1:
            names = ", ".join(s.store_hash for s in stores)
            fail(f"several stores are configured ({names}): pass --store HASH")
        return stores[0]

    def syncer(self, store: StoreConfig) -> Syncer:
        from workers.sync.flush import Syncer

        self.db()
        return Syncer(self.settings, store)


def fail(message: str) -> NoReturn:
    raise click.ClickException(clean(message))


class BcsyncGroup(click.Group):
    """Turns the expected failures into one-line errors (exit 1), redacting configured secrets; every
    error message is cleaned of escape sequences and control characters (they may quote upstream text)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            exc.message = clean(exc.message)
            raise
        except (ConfigError, SyncError, ValueError) as exc:
            raise click.ClickException(_redact(ctx, str(exc))) from None
        except DatabaseError as exc:
            detail = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
            message = f"database error ({type(exc).__name__}): {detail}"
            raise click.ClickException(_redact(ctx, message)) from None


def _redact(ctx: click.Context, text: str) -> str:
    env = ctx.find_object(Env)
    secrets = env._settings.secrets if env and env._settings else []
    return redact(clean(text), secrets)


class IdParam(click.ParamType):
    """An id typed on the command line: ASCII digits, 1..2^63-1 (workers.domain.ids.parse_id). Anything
    else ("²", "-1", 2^63, 1e400) is a usage error (exit 2) saying why, never a traceback."""

    name = "ID"

    def __init__(self, what: str = "id") -> None:
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and is_id(value):
            return value  # a default
        try:
            return parse_id(value if isinstance(value, str) else str(value), self.what)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


# The latest time a command takes: 9999-12-31T23:59:59Z (datetime's limit).
MAX_TIME = 253402300799.0


class TimeParam(click.ParamType):
    """A time (failures.parse_time) written in ASCII, between 1970 and 9999: "1e400", "nan", "inf",
    "١٢٣" or "99999999999d" are usage errors, not an overflow later."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        text = str(value)
        try:
            if not text.isascii():
                raise ValueError(f"not a time: {text[:40]!r} (write it in ASCII)")
            when = failures.parse_time(text)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if not (math.isfinite(when) and 0 <= when <= MAX_TIME):
            self.fail(f"not a time: {text[:40]!r} (out of range: 1970 to 9999)", param, ctx)
        return when


TIME = TimeParam()
STORE_OPTION = click.option(
    "--store", "store_hash", metavar="HASH", help="Store hash (default: the only one)."
)
ASYNC_OPTION = click.option(
    "--async", "run_async", is_flag=True, help="Only mark dirty and wake the worker; do not flush here."
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")


@click.group(cls=BcsyncGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Ops and support for bigcommerce-ometria-sync."""
    ctx.obj = Env(out=console(sys.stdout), err=console(sys.stderr))
    ctx.call_on_close(ctx.obj.save_metrics)
    root = logging.getLogger()
    if not any(isinstance(h, RichHandler) for h in root.handlers):
        handler = RichHandler(console=ctx.obj.err, show_time=False, show_path=False)
        handler.setLevel(logging.WARNING)
        root.addHandler(handler)


pass_env = click.make_pass_decorator(Env)


def bigcommerce_client(store: StoreConfig) -> BigCommerceClient:
    from workers.clients.bigcommerce import BigCommerceClient

    return BigCommerceClient(store)


def redact_env(env: Env, text: str) -> str:
    return redact(text, env.settings.secrets)
