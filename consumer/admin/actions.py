"""What the JSON API and the HTML page share: settings, the migrated database, wake-ups, the parsing
of what people type (ids and times: ASCII digits, 1..2^63-1, workers.domain.ids), the resync, replay
and verify actions, and a failed task's text made safe to show (secrets redacted, control
characters stripped)."""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import current_app

from consumer.admin.blueprint import ERRORS, MAX_IDS, VERIFY_MAX_IDS
from workers.domain import ids as id_rules
from workers.domain.errors import SyncError, redact
from workers.domain.text import clean
from workers.settings import Settings, StoreConfig, get_settings
from workers.store import failures, queries

log = logging.getLogger(__name__)


class BadRequest(ValueError):
    """A request the API refuses with 400 and this message."""


def app_runtime() -> Any:
    return current_app.extensions.get("bcsync")


def settings() -> Settings:
    runtime = app_runtime()
    return runtime.settings if runtime is not None else get_settings()


def db() -> str:
    runtime = app_runtime()
    if runtime is not None:
        runtime.ensure_schema()
    else:
        from workers.store.migrate import upgrade

        upgrade(settings().database_url)
    return settings().database_url


def wake(store_hash: str) -> None:
    """Ask for a flush soon; if the broker is away the beat's sweep flushes the dirty rows anyway."""
    runtime = app_runtime()
    try:
        if runtime is not None:
            runtime.waker.note(store_hash)
        else:
            from workers.tasks.wake import publish_flush

            publish_flush(store_hash)
    except Exception as exc:
        log.warning("admin: could not wake a flush for store %s (%s)", store_hash, type(exc).__name__)


def enqueue_resync_all(store_hash: str, dry_run: bool) -> None:
    from workers.tasks.jobs import resync_all

    resync_all.apply_async(args=[store_hash, dry_run], retry=False)


def parse_ids(value: Any, name: str, limit: int = MAX_IDS) -> list[int]:
    """A JSON list of ids (integers 1..2^63-1, workers.domain.ids.is_id), de-duplicated in order."""
    if not isinstance(value, list) or not value:
        raise BadRequest(f"{name} must be a non-empty list of ids")
    if len(value) > limit:
        raise BadRequest(f"at most {limit} {name} at once")
    for v in value:
        if not id_rules.is_id(v):
            shown = repr(v) if len(repr(v)) <= 40 else repr(v)[:40] + "…"
            raise BadRequest(f"{name} must be whole numbers from 1 to {id_rules.MAX_ID}, got {shown}")
    return list(dict.fromkeys(value))


def ids_from_text(text: Any, limit: int = MAX_IDS) -> list[int]:
    """Ids typed in a form or a query string (ASCII digits, spaces or commas between)."""
    if not isinstance(text, str) or len(text) > limit * 21:
        raise BadRequest(ERRORS["ids"])
    try:
        found = id_rules.parse_ids(text)
    except ValueError:
        raise BadRequest(ERRORS["ids"]) from None
    if len(found) > limit:
        raise BadRequest(f"at most {limit} ids at once")
    return found


def id_from_text(text: Any, what: str = "id") -> int:
    try:
        return id_rules.parse_id(text if isinstance(text, str) else "", what)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def count_from_text(text: Any) -> int:
    """A count shown back on the page (?n=…): ASCII digits, else 0."""
    try:
        return id_rules.parse_id(text if isinstance(text, str) else "", "n")
    except ValueError:
        return 0


def since_value(value: Any) -> float | None:
    """A `since` time (unix seconds, ISO 8601 or an age like 2h), finite and within 0..2^63-1 s."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadRequest("since: not a time")
    if isinstance(value, str) and len(value) > 64:
        raise BadRequest("since: not a time")
    if isinstance(value, int) and not 0 <= value <= id_rules.MAX_ID:
        raise BadRequest(f"since: out of range (0 to {id_rules.MAX_ID})")
    try:
        when = failures.parse_time(value)
    except (ValueError, OverflowError) as exc:
        raise BadRequest(f"since: {exc}") from None
    if not math.isfinite(when) or not 0 <= when <= id_rules.MAX_ID:
        raise BadRequest(f"since: out of range (0 to {id_rules.MAX_ID})")
    return when


def store_config(store_hash: str) -> StoreConfig:
    store = settings().stores.get(store_hash)
    if store is None:
        raise BadRequest("unknown store")
    return store


def pick_store(value: Any) -> str:
    stores = settings().stores
    if value in (None, ""):
        if len(stores) != 1:
            raise BadRequest(f'several stores are configured: give "store" (one of {sorted(stores)})')
        return next(iter(stores))
    if not isinstance(value, str) or value not in stores:
        raise BadRequest("unknown store")
    return value


def mark(store_hash: str, entity: str, ids: list[int]) -> int:
    n = queries.mark(db(), store_hash, entity, ids, "resync")
    wake(store_hash)
    return n


def replay(ids: list[int] | None, since: float | None = None) -> list[int]:
    entries = failures.replay(db(), ids, since=since)
    for sh in failures.stores_of(entries):
        if sh in settings().stores:
            wake(sh)
    return [e.id for e in entries]


def failed_detail(entry: Any) -> dict[str, Any]:
    """A failed task with its full error and traceback, secrets redacted, control characters stripped."""
    out = failures.to_dict(entry, traceback=True)
    secrets = settings().secrets
    for key in ("error", "traceback"):
        out[key] = clean(redact(str(out.get(key) or ""), secrets))
    return out


class UpstreamError(RuntimeError):
    """BigCommerce or Ometria could not be read: the message is safe to show (502)."""


def verify(store_hash: str, product_ids: list[int] | None, fix: bool) -> dict[str, Any]:
    """`bcsync verify [--product …] [--fix]` for the admin: the drift, and with `fix` the drifting
    products marked dirty (their ledger entries reset) and a flush woken."""
    from workers.sync import verify as verifier
    from workers.sync.flush import Syncer

    if product_ids is not None and len(product_ids) > VERIFY_MAX_IDS:
        raise BadRequest(f"at most {VERIFY_MAX_IDS} products at once")
    db()
    syncer = Syncer(settings(), store_config(store_hash))
    try:
        report = verifier.verify(syncer, product_ids)
        marked = verifier.fix(syncer, report) if fix and report.drift else 0
    except SyncError as exc:
        message = clean(redact(str(exc), settings().secrets))[:500]
        log.warning("admin: verify of store %s failed (%s)", store_hash, type(exc).__name__)
        raise UpstreamError(f"could not verify: {message}") from None
    if marked:
        wake(store_hash)
    return {
        **report.as_dict(),
        "fixed": bool(fix),
        "marked": marked,
    }


# --- pause and resume, events, dry-run preview (workers.sync.pausing, .events, .repair) -----------


def pause_status(store_hash: str) -> dict[str, Any]:
    from workers.sync import pausing

    return pausing.pause_status(settings(), store_hash).to_dict()


def pause(store_hash: str, reason: Any) -> dict[str, Any]:
    """`bcsync pause STORE`: no flush pushes anything until a resume. NotFoundError for a store that
    is not configured (nothing changed)."""
    from workers.sync import pausing

    text = clean(reason)[:500] if isinstance(reason, str) else ""
    status = pausing.pause_store(settings(), store_hash, text or "paused from the admin page")
    log.info("admin: store %s paused from the admin", store_hash)
    return status.to_dict()


def resume(store_hash: str) -> dict[str, Any]:
    """`bcsync resume STORE`: lift the pause (operator's or configuration's) and wake a flush."""
    from workers.sync import pausing

    status = pausing.resume_store(settings(), store_hash)
    if status.changed:
        log.info("admin: store %s resumed from the admin", store_hash)
        wake(store_hash)
    return status.to_dict()


def events(store_hash: str, product_id: int, since: float | None, limit: int = 1000) -> list[dict[str, Any]]:
    """`bcsync events --product ID`: the product's timeline, oldest first; NotFoundError for a
    product nothing is known of."""
    from workers.domain.errors import NotFoundError
    from workers.sync import events as timeline

    found = timeline.events_for_product(settings(), store_hash, product_id, since=since, limit=limit)
    if not found and not timeline.known_product(settings(), store_hash, product_id):
        raise NotFoundError(f"no event and no record of product {product_id} in store {store_hash}")
    secrets = settings().secrets
    out = []
    for event in found:
        item = event.to_dict()
        item["summary"] = clean(redact(str(item["summary"]), secrets))
        out.append(item)
    return out


def preview(store_hash: str, kind: str, ids: list[int] | None, force: bool = False) -> dict[str, Any]:
    """`bcsync resync product|category ID… --dry-run` / `resync all [--force] --dry-run`: each record
    that would be pushed, field by field old (Ometria's copy) → new; pushes nothing."""
    from workers.sync import repair
    from workers.sync.flush import Syncer

    db()
    syncer = Syncer(settings(), store_config(store_hash))
    try:
        if kind == "products":
            result = repair.preview_products(syncer, ids or [], limit=500)
        elif kind == "categories":
            result = repair.preview_categories(syncer, ids or [], limit=500)
        else:
            result = repair.preview_all(syncer, force=force, limit=100)
    except SyncError as exc:
        message = clean(redact(str(exc), settings().secrets))[:500]
        log.warning("admin: dry run of store %s failed (%s)", store_hash, type(exc).__name__)
        raise UpstreamError(f"could not preview: {message}") from None
    out = result.to_dict()
    out["kind"], out["force"] = kind, bool(force)
    return out
