"""What one web app holds for its life: the settings, the authenticator, the debounced waker, and
whether the database schema is known to be migrated. Views reach it with `current_runtime()`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, current_app

from consumer.webhooks.auth import Authenticator
from consumer.webhooks.group_commit import GroupCommit, group_commit_for
from workers.settings import Settings
from workers.store.engine import DatabaseError
from workers.store.migrate import upgrade
from workers.tasks.wake import Waker

log = logging.getLogger(__name__)

EXTENSION = "bcsync"


@dataclass
class Runtime:
    settings: Settings
    waker: Waker
    authenticator: Authenticator
    group_commit: GroupCommit
    schema_ready: bool = False
    _schema_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ensure_schema(self) -> None:
        """Bring the database to the latest migration once; raises while it cannot be reached."""
        if self.schema_ready:
            return
        with self._schema_lock:
            if not self.schema_ready:
                upgrade(self.settings.database_url)
                self.schema_ready = True

    def prepare_database(self) -> None:
        """At start: migrate, or — if the database is down — say so and retry on first use."""
        try:
            self.ensure_schema()
        except (DatabaseError, OSError) as exc:
            log.error(
                "database not reachable at start (%s); webhooks answer 503 until it is", type(exc).__name__
            )


def attach_runtime(app: Flask, settings: Settings, publish: Callable[[str], None]) -> Runtime:
    runtime = Runtime(
        settings=settings,
        waker=Waker(publish, settings.debounce_seconds),
        authenticator=Authenticator(settings.stores.values()),
        group_commit=group_commit_for(settings.database_url),
    )
    app.extensions[EXTENSION] = runtime
    return runtime


def current_runtime() -> Runtime:
    return current_app.extensions[EXTENSION]
