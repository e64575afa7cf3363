"""Logging, secret redaction and Sentry for every process (web, worker, beat, CLI): one call,
`init_observability(settings, component)`, early in the process's start.

Logging: when nobody has configured the root logger yet, one stderr handler at LOG_LEVEL (INFO).
Redaction: every secret the settings hold (tokens, client secrets and their base64 signing keys,
webhook secrets, Ometria keys, the admin token, passwords inside the database and broker URLs).
Sentry: only when SENTRY_DSN is set; events and breadcrumbs pass through `scrub_event`, no PII,
no local variables, no request bodies. Its Flask and Celery integrations enable themselves.
Worker-side metrics: `record_flush` counts a flush, `persist_tally` adds every increment the process
made (workers.domain.tally) to the database's totals; the Celery tasks call it after each task and
`bcsync` at the end of each command, and `GET /metrics` renders the totals (consumer/metrics.py).
"""

from __future__ import annotations

import base64
import logging
import sys
from urllib.parse import unquote, urlsplit

from workers.domain.tally import TALLY
from workers.ops.redact import install_log_redaction, scrub_breadcrumb, scrub_event
from workers.settings import Settings
from workers.store.totals import save_totals

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s [{component}] %(name)s: %(message)s"


def secrets_to_hide(settings: Settings) -> list[str]:
    """Every secret value the settings hold, plus the forms they take on the wire."""
    secrets = list(settings.secrets)
    for store in settings.stores.values():
        if store.client_secret:  # the Standard Webhooks key is base64 of the client secret
            key = base64.b64encode(store.client_secret.encode()).decode()
            secrets += [key, key.rstrip("=")]
    for url in (settings.database_url, settings.broker_url):
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password:
            secrets += [password, unquote(password)]
    return secrets


def configure_logging(component: str, level: str = "INFO") -> None:
    root = logging.getLogger()
    if root.handlers:  # gunicorn, celery, pytest or the caller configured logging already
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT.format(component=component)))
    root.addHandler(handler)
    root.setLevel(level.upper())


class RoutineAtDebug(logging.Filter):
    """Celery logs "Task … succeeded in …: <result>" at INFO for every task. A flush that found
    nothing to do (the store paused, a storm still settling, no batch) runs on every wake-up — each
    second while a store is paused and callbacks keep coming — and its line buries what matters:
    those go at DEBUG (dropped unless the root logger shows DEBUG). Flushes that did work, every
    other task, failures and retries keep their level."""

    TASK = "workers.tasks.flush_store"
    NOTHING_DONE = ("{'paused'", "{'settling'", "{'batches': 0,")

    def filter(self, record: logging.LogRecord) -> bool:
        context = record.args if isinstance(record.args, dict) else None
        if (
            context is not None
            and isinstance(record.msg, str)
            and record.msg.startswith("Task %(name)s[%(id)s] succeeded in")
            and context.get("name") == self.TASK
            and str(context.get("return_value", "")).startswith(self.NOTHING_DONE)
        ):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


ROUTINE_LOGGERS = ("celery.app.trace",)


def demote_routine_logs() -> None:
    """Install RoutineAtDebug on celery's task logger (idempotent)."""
    for name in ROUTINE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RoutineAtDebug) for f in logger.filters):
            logger.addFilter(RoutineAtDebug())


def init_sentry(settings: Settings, component: str) -> None:
    import sentry_sdk

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
        send_default_pii=False,
        include_local_variables=False,  # a frame's locals may hold a secret Sentry would truncate
        max_request_body_size="never",
        environment=settings.sentry_environment,
    )
    sentry_sdk.set_tag("component", component)


def init_observability(settings: Settings, component: str) -> None:
    configure_logging(component, settings.log_level)
    demote_routine_logs()
    install_log_redaction(secrets_to_hide(settings))
    if settings.sentry_dsn:
        init_sentry(settings, component)


def record_flush(store_hash: str, *, ok: bool, products: int, records: int, seconds: float) -> None:
    """One flush (a claimed batch) in the worker-side metrics."""
    TALLY.inc("bcsync_flushes", store=store_hash, outcome="ok" if ok else "error")
    TALLY.inc("bcsync_flush_products", products, store=store_hash)
    TALLY.inc("bcsync_flush_records", records, store=store_hash)
    TALLY.observe("bcsync_flush_seconds", seconds, store=store_hash)


def persist_tally(database_url: str) -> bool:
    """Add this process's pending increments to the database totals in one transaction. When the
    database is away they stay pending for the next call (nothing lost, nothing counted twice)."""
    pending = TALLY.drain()
    if not pending:
        return True
    try:
        save_totals(database_url, pending)
    except Exception as exc:  # the database is down: keep them for the next task
        TALLY.restore(pending)
        log.warning("metrics not saved yet (%s); kept for the next try", type(exc).__name__)
        return False
    return True
