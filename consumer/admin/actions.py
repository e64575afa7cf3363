"""What the JSON API and the HTML page share: settings, the migrated database, wake-ups, and the
resync and replay actions over workers.store.failures and storage."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app

from consumer.admin.blueprint import ERRORS, MAX_IDS
from workers.domain import ids
from workers.settings import Settings, get_settings
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


def parse_ids(value: Any, name: str) -> list[int]:
    if not isinstance(value, list) or not value:
        raise BadRequest(f"{name} must be a non-empty list of ids")
    if len(value) > MAX_IDS:
        raise BadRequest(f"at most {MAX_IDS} {name} at once")
    for v in value:
        if not ids.is_id(v):
            raise BadRequest(f"{name} must be positive integers, got {v!r}")
    return list(dict.fromkeys(value))


def ids_from_text(text: str) -> list[int]:
    try:
        return ids.parse_ids(text)
    except ValueError:
        raise BadRequest(ERRORS["ids"]) from None


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
