"""`bcsync`, the console script for ops and support (click + rich).

    bcsync resync product|category ID… [--async]      bcsync resync all [--dry-run]
    bcsync failed list|show ID|replay ID…|replay --all|discard ID…
    bcsync hooks register|list|check                   bcsync storefront-token create …
    bcsync verify [--product ID…|--all] [--fix]        bcsync doctor | status | db upgrade | sandbox

Commands that touch the database bring it to the latest migration first, so a fresh database just
works. Expected problems (bad configuration, unknown ids, API errors, an unreachable database) end
with a one-line message and exit code 1, never a traceback; no secret is ever printed (the one
exception is the storefront token that `storefront-token create` exists to print).
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from workers import failures, storage
from workers.errors import SyncError, redact
from workers.settings import ConfigError, Settings, StoreConfig, load_settings
from workers.storage import CATEGORY, PRODUCT, session_scope

FLUSH_DEADLINE = 900.0  # an in-process flush gives up after this long; the worker finishes the rest
SHOW_PUSHED = 50


# --- plumbing --------------------------------------------------------------------------------


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
        url = self.settings.database_url
        if url not in self._migrated:
            from workers.migrate import upgrade

            upgrade(url)
            self._migrated.add(url)
        return url

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

    def syncer(self, store: StoreConfig):  # type: ignore[no-untyped-def]
        from workers.flush import Syncer

        self.db()
        return Syncer(self.settings, store)


def fail(message: str) -> NoReturn:
    raise click.ClickException(message)


class BcsyncGroup(click.Group):
    """Turns the expected failures into one-line errors (exit 1), redacting configured secrets."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, SyncError, ValueError) as exc:
            raise click.ClickException(_redact(ctx, str(exc))) from None
        except SQLAlchemyError as exc:
            detail = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
            message = f"database error ({type(exc).__name__}): {detail}"
            raise click.ClickException(_redact(ctx, message)) from None


def _redact(ctx: click.Context, text: str) -> str:
    env = ctx.find_object(Env)
    secrets = env._settings.secrets if env and env._settings else []
    return redact(text, secrets)


class TimeParam(click.ParamType):
    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        try:
            return failures.parse_time(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


TIME = TimeParam()
STORE_OPTION = click.option(
    "--store", "store_hash", metavar="HASH", help="Store hash (default: the only one)."
)
ASYNC_OPTION = click.option(
    "--async", "run_async", is_flag=True, help="Only mark dirty and wake the worker; do not flush here."
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")


def _console(stream: Any) -> Console:
    tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(file=stream, width=None if tty else 160, highlight=False, soft_wrap=not tty)


def _print_json(env: Env, data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _ago(ts: float | None) -> str:
    if not ts:
        return "—"
    return f"{_duration(time.time() - ts)} ago"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _short(text: str | None, limit: int = 70) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _split_ids(values: Iterable[str]) -> list[int]:
    out = []
    for value in values:
        for part in str(value).replace(",", " ").split():
            if not part.isdigit() or int(part) <= 0:
                fail(f"not a positive id: {part!r}")
            out.append(int(part))
    return out


def _wake(env: Env, store_hash: str) -> bool:
    """Publish one flush_store wake-up; if the broker is away, the worker's sweep catches up."""
    try:
        from workers.tasks import flush_store

        flush_store.apply_async(args=[store_hash], retry=False)
    except Exception as exc:
        env.err.print(
            f"[yellow]could not reach the broker ({escape(type(exc).__name__)}); the rows are "
            "dirty in the database and the worker's periodic sweep will flush them.[/yellow]"
        )
        return False
    env.out.print(f"woke the worker for store {escape(store_hash)}")
    return True


def _flush_here(env: Env, store: StoreConfig, product_ids: Sequence[int] = (), categories: int = 0) -> bool:
    """Flush the store's dirty rows in this process, printing each batch and what was pushed.
    Returns False when a batch failed (its rows stay dirty for the worker to retry)."""
    from workers.flush import drain

    syncer = env.syncer(store)
    db, sh = env.db(), store.store_hash
    if syncer.paused() > 0:
        env.err.print(
            f"[yellow]store {escape(sh)} is paused after a configuration error; "
            "flushing anyway (see bcsync status).[/yellow]"
        )
    started = time.time()
    for _ in range(math.ceil(categories / 50)):  # drain() expands one claim of ≤50 categories itself
        syncer.expand_categories()
    ok = True
    batches = 0
    for report in drain(syncer, started + FLUSH_DEADLINE):
        batches += 1
        line = (
            f"batch {batches}: {report.claimed} claimed, {report.fetched} fetched, {report.gone} gone, "
            f"{report.records} changed record(s), {report.pushed} pushed in {report.requests} request(s)"
        )
        if report.failed:
            line += f", [red]{report.failed} failed (see bcsync failed list)[/red]"
        env.out.print(line)
        if report.error:
            ok = False
            retry = f"; retry in {report.retry_in:.0f}s by the worker" if report.retry_in else ""
            env.err.print(f"[red]flush failed: {escape(report.error)}{retry}[/red]")
    if not batches:
        env.out.print("nothing to flush")
    with session_scope(db) as s:
        q = select(storage.Ledger.record_id, storage.Ledger.product_id, storage.Ledger.is_active).where(
            storage.Ledger.store_hash == sh, storage.Ledger.pushed_at >= started
        )
        pushed = list(s.execute(q.order_by(storage.Ledger.product_id, storage.Ledger.record_id)))
        left = storage.dirty_counts(s).get((sh, PRODUCT), 0)
    if pushed:
        table = Table("record", "product", "active", title=f"pushed to Ometria ({len(pushed)} record(s))")
        for rid, pid, active in pushed[:SHOW_PUSHED]:
            table.add_row(escape(rid), str(pid), "yes" if active else "no")
        env.out.print(table)
        if len(pushed) > SHOW_PUSHED:
            env.out.print(f"… and {len(pushed) - SHOW_PUSHED} more")
    quiet = sorted(set(product_ids) - {int(pid) for _rid, pid, _a in pushed})
    if quiet:
        env.out.print(
            f"no change to push for product(s) {_short(', '.join(map(str, quiet)), 200)} "
            "(already equal in Ometria, or not in the store)"
        )
    if left and ok:
        env.out.print(f"{left} product(s) still dirty: waking the worker for the rest")
        _wake(env, sh)
    return ok


# --- the group -------------------------------------------------------------------------------


@click.group(cls=BcsyncGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Ops and support for bigcommerce-ometria-sync."""
    ctx.obj = Env(out=_console(sys.stdout), err=_console(sys.stderr))
    root = logging.getLogger()
    if not any(isinstance(h, RichHandler) for h in root.handlers):
        handler = RichHandler(console=ctx.obj.err, show_time=False, show_path=False)
        handler.setLevel(logging.WARNING)
        root.addHandler(handler)


pass_env = click.make_pass_decorator(Env)


# --- resync ----------------------------------------------------------------------------------


@cli.group()
def resync() -> None:
    """Resync products, categories or the whole store to Ometria."""


def _resync_ids(env: Env, entity: str, ids: Sequence[int], store_hash: str | None, run_async: bool) -> None:
    store = env.store(store_hash)
    with session_scope(env.db()) as s:
        n = storage.mark_dirty(s, store.store_hash, entity, ids, "resync")
    env.out.print(f"marked {n} {entity}(s) dirty in store {escape(store.store_hash)}")
    if run_async:
        _wake(env, store.store_hash)
        return
    ok = _flush_here(env, store, ids if entity == PRODUCT else (), len(ids) if entity == CATEGORY else 0)
    if not ok:
        sys.exit(1)


@resync.command("product")
@click.argument("ids", nargs=-1, required=True, type=click.IntRange(min=1))
@STORE_OPTION
@ASYNC_OPTION
@pass_env
def resync_product(env: Env, ids: tuple[int, ...], store_hash: str | None, run_async: bool) -> None:
    """Push these products (and their variants) again if they differ from what Ometria has."""
    _resync_ids(env, PRODUCT, ids, store_hash, run_async)


@resync.command("category")
@click.argument("ids", nargs=-1, required=True, type=click.IntRange(min=1))
@STORE_OPTION
@ASYNC_OPTION
@pass_env
def resync_category(env: Env, ids: tuple[int, ...], store_hash: str | None, run_async: bool) -> None:
    """Resync every product in these categories and their sub-categories."""
    _resync_ids(env, CATEGORY, ids, store_hash, run_async)


@resync.command("all")
@click.option("--dry-run", is_flag=True, help="Push nothing; show what would change.")
@STORE_OPTION
@click.option("--async", "run_async", is_flag=True, help="Enqueue the resync for the worker instead.")
@pass_env
def resync_all(env: Env, dry_run: bool, store_hash: str | None, run_async: bool) -> None:
    """Walk the whole catalogue and push what differs from Ometria (only that)."""
    stores = env.stores(store_hash)
    env.db()
    if run_async:
        from workers.tasks import resync_all as resync_task

        for store in stores:
            try:
                resync_task.apply_async(args=[store.store_hash, dry_run], retry=False)
            except Exception as exc:
                fail(f"could not enqueue the resync ({type(exc).__name__}): is the broker reachable?")
            kind = "dry-run resync" if dry_run else "resync"
            env.out.print(f"enqueued a {kind} of store {escape(store.store_hash)}")
        return
    failed = False
    for store in stores:
        report = _resync_store(env, store, dry_run)
        if dry_run:
            _print_dry_run(env, store, report)
            continue
        env.out.print(
            f"store {escape(store.store_hash)}: {report.products} product(s) seen, "
            f"{report.changed} record(s) changed, {report.pushed} pushed, {report.gone} look gone"
        )
        if report.gone:
            env.out.print("confirming the products that look gone:")
            failed |= not _flush_here(env, store)
    if failed:
        sys.exit(1)


def _resync_store(env: Env, store: StoreConfig, dry_run: bool):  # type: ignore[no-untyped-def]
    syncer = env.syncer(store)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=env.err, transient=False) as progress:
        label = f"{'dry run ' if dry_run else ''}store {escape(store.store_hash)}"
        task = progress.add_task(f"{label}: starting", total=None)

        def on_page(rep) -> None:  # type: ignore[no-untyped-def]
            pushed = "" if dry_run else f" · pushed {rep.pushed}"
            progress.update(
                task,
                description=f"{label}: pages {rep.pages} · products seen {rep.products} · "
                f"records changed {rep.changed}{pushed}",
            )

        report = syncer.resync_all(dry_run=dry_run, progress=on_page)
        on_page(report)
    return report


def _print_dry_run(env: Env, store: StoreConfig, report) -> None:  # type: ignore[no-untyped-def]
    with session_scope(env.db()) as s:
        pids = sorted({int(str(r["id"]).split("-")[0]) for r in report.samples})
        known = set(storage.ledger_for_products(s, store.store_hash, pids))
    table = Table(
        "record",
        "change",
        "title",
        "price",
        "special",
        "active",
        "in stock",
        title=f"dry run, store {escape(store.store_hash)}: first {len(report.samples)} of "
        f"{report.changed} record(s) that would be pushed",
    )
    for r in report.samples:
        change = "update" if r["id"] in known else "new"
        if r.get("@merge"):
            change = "deactivate"
        table.add_row(
            escape(str(r["id"])),
            change,
            escape(_short(r.get("title"), 40)),
            _num(r.get("price")),
            _num(r.get("special_price")),
            _yes(r.get("is_active")),
            _yes(r.get("is_in_stock")),
        )
    if report.samples:
        env.out.print(table)
    env.out.print(
        f"dry run: {report.products} product(s) seen in {report.pages} page(s), "
        f"{report.changed} record(s) would be pushed, {report.gone} product(s) look gone "
        "(would be confirmed and deactivated). Nothing was pushed."
    )


def _num(value: Any) -> str:
    return "—" if value is None else f"{value:g}" if isinstance(value, float | int) else escape(str(value))


def _yes(value: Any) -> str:
    return "—" if value is None else "yes" if value else "no"


# --- failed ----------------------------------------------------------------------------------


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
        _print_json(env, [failures.to_dict(e) for e in entries])
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
            escape(_short(f"{e.entity} {ids}", 30)),
            escape(e.kind),
            escape(_short(e.error, 60)),
            str(e.attempts),
            failures.iso(e.first_failed_at) or "—",
            failures.iso(e.last_failed_at) or "—",
            *((escape(e.status),) if show_all else ()),
        )
    env.out.print(table)


@failed.command("show")
@click.argument("entry_id", type=int)
@JSON_OPTION
@pass_env
def failed_show(env: Env, entry_id: int, as_json: bool) -> None:
    """Every field of one entry, traceback included."""
    entry = failures.get_failed(env.db(), entry_id)
    if entry is None:
        fail(f"no failed task with id {entry_id}")
    data = failures.to_dict(entry, traceback=True)
    if as_json:
        _print_json(env, data)
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
@click.argument("ids", nargs=-1, type=click.IntRange(min=1))
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
    entries = failures.replay(db, None if replay_all else list(ids), since=since)
    if not entries:
        env.out.print("nothing to replay")
        return
    for e in entries:
        what = ", ".join(map(str, e.entity_ids)) or "store-wide (pause lifted)"
        env.out.print(
            f"replayed #{e.id} ({escape(e.task)}, store {escape(e.store_hash)}): "
            f"{escape(e.entity)} {escape(_short(what, 80))} marked dirty"
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
            _wake(env, sh)
        else:
            pids = [i for e in entries if e.store_hash == sh and e.entity == PRODUCT for i in e.entity_ids]
            cats = sum(len(e.entity_ids) for e in entries if e.store_hash == sh and e.entity == CATEGORY)
            ok &= _flush_here(env, store, pids, cats)
    if not ok:
        sys.exit(1)


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
@click.argument("ids", nargs=-1, required=True, type=click.IntRange(min=1))
@pass_env
def failed_discard(env: Env, ids: tuple[int, ...]) -> None:
    """Close these entries without redoing their work."""
    db = env.db()
    _check_known(env, db, ids, "discard")
    n = failures.discard(db, list(ids))
    env.out.print(f"discarded {n} entr{'y' if n == 1 else 'ies'}")


# --- hooks -----------------------------------------------------------------------------------


@cli.group()
def hooks() -> None:
    """BigCommerce webhooks: register, list, check."""


def _client(store: StoreConfig):  # type: ignore[no-untyped-def]
    from workers.bigcommerce import BigCommerceClient

    return BigCommerceClient(store)


@hooks.command("register")
@click.option(
    "--destination", metavar="URL", help="Callback URL (default: $PUBLIC_URL/webhooks/bigcommerce)."
)
@STORE_OPTION
@pass_env
def hooks_register(env: Env, destination: str | None, store_hash: str | None) -> None:
    """Create (or update / re-activate) a hook for every handled scope. Idempotent."""
    from workers.hooks import default_destination, register_hooks

    dest = destination.strip() if destination else default_destination()
    if not dest.startswith(("https://", "http://")):
        fail(f"--destination must be an http(s) URL, got {dest!r}")
    if not dest.startswith("https://"):
        env.err.print(
            "[yellow]BigCommerce only delivers to https on port 443; http works with the sandbox "
            "only.[/yellow]"
        )
    for store in env.stores(store_hash):
        actions = register_hooks(_client(store), store, dest)
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
    rows = []
    for store in env.stores(store_hash):
        for h in _client(store).list_hooks():
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
        _print_json(env, rows)
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
    from workers.hooks import hook_coverage, revive_hooks

    for store in env.stores(store_hash):
        client = _client(store)
        revived = revive_hooks(client, store.store_hash)
        for h in revived:
            env.out.print(
                f"store {escape(store.store_hash)}: re-activated hook {h.get('id')} "
                f"({escape(str(h.get('scope')))})"
            )
        if not revived:
            env.out.print(f"store {escape(store.store_hash)}: no deactivated hooks")
        missing = [c.scope for c in hook_coverage(client.list_hooks()) if c.action != "ok"]
        if missing:
            env.err.print(
                f"[yellow]no active hook for: {', '.join(missing)} — run bcsync hooks register[/yellow]"
            )


# --- storefront token ------------------------------------------------------------------------


@cli.group("storefront-token")
def storefront_token() -> None:
    """Storefront API tokens."""


@storefront_token.command("create")
@click.option(
    "--channel-id", type=click.IntRange(min=1), required=True, help="Channel id (1: the default storefront)."
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
    token = _client(env.store(store_hash)).create_storefront_token(channel_id, int(expires_at), list(origins))
    env.err.print(f"storefront token for channel {channel_id}, expires {failures.iso(expires_at)}:")
    click.echo(token)


# --- verify ----------------------------------------------------------------------------------


@cli.command()
@click.option("--product", "by_product", is_flag=True, help="Verify the products given as arguments.")
@click.argument("ids", nargs=-1)
@click.option("--all", "verify_all", is_flag=True, help="Verify the whole catalogue (the default).")
@click.option("--fix", is_flag=True, help="Re-push drifting records, then check again.")
@STORE_OPTION
@JSON_OPTION
@click.option("--limit", default=50, show_default=True, help="Drift rows to show.")
@pass_env
def verify(
    env: Env,
    by_product: bool,
    ids: tuple[str, ...],
    verify_all: bool,
    fix: bool,
    store_hash: str | None,
    as_json: bool,
    limit: int,
) -> None:
    """Read Ometria back and report drift from the store; exit 1 when drift remains."""
    from workers import verify as verifier

    product_ids = _split_ids(ids) if ids else None
    if by_product and not product_ids:
        fail("--product needs at least one product id")
    if verify_all and product_ids:
        fail("give product ids or --all, not both")
    store = env.store(store_hash)
    syncer = env.syncer(store)
    report = verifier.verify(syncer, product_ids)
    if as_json and not fix:
        _print_json(env, _drift_json(report))
        sys.exit(1 if report.drift else 0)
    _print_drift(env, report, limit)
    if not report.drift:
        if as_json:
            _print_json(env, _drift_json(report))
        return
    if not fix:
        env.out.print("run with --fix to re-push the drifting records")
        sys.exit(1)
    marked = verifier.fix(syncer, report)
    env.out.print(f"--fix: {marked} product(s) marked dirty, their ledger entries reset; flushing")
    _flush_here(env, store, report.drifting_products)
    after = verifier.verify(syncer, report.drifting_products)
    if as_json:
        _print_json(env, _drift_json(after))
    if after.drift:
        env.out.print(f"[red]still drifting after --fix: {len(after.drift)} record(s)[/red]")
        _print_drift(env, after, limit)
        sys.exit(1)
    env.out.print(f"[green]repaired: {len(report.drift)} record(s) now match the store[/green]")


def _drift_json(report) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "store": report.store,
        "products": report.products,
        "records": report.records,
        "ometria_records": report.ometria_records,
        "counts": report.counts(),
        "drift": [
            {
                "record_id": d.record_id,
                "product_id": d.product_id,
                "kind": d.kind,
                "fields": {k: {"store": a, "ometria": b} for k, (a, b) in d.fields.items()},
            }
            for d in report.drift
        ],
    }


def _print_drift(env: Env, report, limit: int) -> None:  # type: ignore[no-untyped-def]
    counts = report.counts()
    summary = (
        f"store {escape(report.store)}: {report.products} product(s), "
        f"{report.records} record(s) checked against {report.ometria_records} in Ometria"
    )
    if not report.drift:
        env.out.print(f"[green]{summary}: no drift[/green]")
        return
    env.out.print(
        f"[red]{summary}: {len(report.drift)} drifting record(s)[/red] — "
        + ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    )
    table = Table("record", "product", "drift", "fields (store → Ometria)")
    for d in report.drift[:limit]:
        fields = "; ".join(
            f"{k}: {_short(json.dumps(a), 30)} → {_short(json.dumps(b), 30)}"
            for k, (a, b) in list(d.fields.items())[:4]
        )
        table.add_row(escape(d.record_id), str(d.product_id), d.kind, escape(fields) or "—")
    env.out.print(table)
    if len(report.drift) > limit:
        env.out.print(f"… and {len(report.drift) - limit} more (--limit, or --json for all)")


# --- doctor, status, db ----------------------------------------------------------------------


@cli.command()
@pass_env
def doctor(env: Env) -> None:
    """Preflight: configuration, database, broker, BigCommerce token + scopes + hooks, Ometria key."""
    from workers.doctor import FAIL, OK, run_checks

    checks = run_checks(env.settings)
    table = Table("", "check", "store", "detail", title="bcsync doctor")
    for c in checks:
        mark = {OK: "[green]✔[/green]", FAIL: "[red]✘[/red]"}.get(c.status, "[yellow]![/yellow]")
        table.add_row(mark, escape(c.name), escape(c.store), escape(_redact_env(env, c.detail)))
    env.out.print(table)
    failed_checks = [c for c in checks if c.status == FAIL]
    if failed_checks:
        env.out.print(f"[red]{len(failed_checks)} check(s) failed[/red]")
        sys.exit(1)
    env.out.print("[green]all checks passed[/green]")


def _redact_env(env: Env, text: str) -> str:
    return redact(text, env.settings.secrets)


@cli.command()
@JSON_OPTION
@pass_env
def status(env: Env, as_json: bool) -> None:
    """Dirty rows, claims, oldest change, failures, pauses, last sweep, ledger size — per store."""
    data = failures.ops_status(env.db(), list(env.settings.stores))
    if as_json:
        _print_json(env, data)
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
        paused = "[red]until " + r["paused_until"] + "[/red]" if r["paused"] else "no"
        if r["rate_limited"]:
            paused += " · rate-limited: " + ", ".join(r["rate_limited"])
        table.add_row(
            escape(r["store"]),
            f"{r['dirty'].get(PRODUCT, 0)} / {r['dirty'].get(CATEGORY, 0)}",
            str(r["claimed"]),
            str(r["waiting_retry"]),
            _duration(r["oldest_dirty_age_s"]),
            f"[red]{r['failed']}[/red]" if r["failed"] else "0",
            paused,
            r["last_sweep_at"] or "never",
            f"{r['ledger_records']} ({r['ledger_active']})",
        )
    env.out.print(table)
    for r in data["stores"]:
        if r["paused"] and r["pause_reason"]:
            env.out.print(f"store {escape(r['store'])} paused: {escape(_redact_env(env, r['pause_reason']))}")


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_env
def db_upgrade(env: Env) -> None:
    """Bring the database to the latest migration (idempotent)."""
    from workers.doctor import safe_db_url
    from workers.migrate import upgrade

    upgrade(env.settings.database_url)
    env.out.print(f"database {escape(safe_db_url(env.settings.database_url))} is at the latest migration")


# --- sandbox ---------------------------------------------------------------------------------


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


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="bcsync")


__all__ = ["cli", "main"]
