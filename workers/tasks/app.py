"""The Celery app: at-least-once work, JSON only, no result backend, wake-ups on an explicit queue.

The broker only carries wake-ups ("flush store X"); the database holds the work itself, so a lost
or doubled message costs nothing: the beat's sweep flushes whatever is still dirty.
"""

from __future__ import annotations

import warnings

from celery import Celery
from celery.exceptions import CPendingDeprecationWarning
from celery.schedules import crontab
from celery.signals import celeryd_after_setup

from workers.settings import Settings, broker_folder, get_settings


@celeryd_after_setup.connect
def _quiet_the_warning_about_an_explicit_setting(**_: object) -> None:
    """worker_cancel_long_running_tasks_on_connection_loss is set explicitly below, yet celery warns at
    every reconnect that its default changes in 6.0: noise in the log ops read during a broker outage.
    (Celery's logging set-up turns its deprecation warnings to "always", so this comes after it.)"""
    warnings.filterwarnings(
        "ignore",
        message=r"\s*In Celery 5\.1 we introduced an optional breaking change",
        category=CPendingDeprecationWarning,
    )
    from workers.ops.observability import demote_routine_logs

    demote_routine_logs()  # a flush that did nothing: "Task … succeeded" at DEBUG


def make_celery(settings: Settings) -> Celery:
    app = Celery("bcsync", include=["workers.tasks.jobs"])
    options: dict[str, object] = {"visibility_timeout": 3600}
    transport = None
    if settings.broker_url.startswith("filesystem://"):
        # kombu's file transport, writing atomically and skipping unreadable files (workers.tasks.broker)
        transport = "workers.tasks.broker:FilesystemTransport"
        folder = broker_folder(settings)
        for sub in ("queue", "processed", "control", "bad"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        options |= {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "quarantine_folder": str(folder / "bad"),
        }
    app.conf.update(
        broker_url=settings.broker_url,
        broker_transport=transport,
        broker_transport_options=options,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        # A worker outlives any broker outage: retry for ever (celery's default gives up after 100
        # attempts, about 50 minutes at its 30 s ceiling, and the worker exits).
        broker_connection_max_retries=None,
        # Its clean-up after a lost connection must not kill it either (workers.tasks.broker.Consumer).
        worker_consumer="workers.tasks.broker:Consumer",
        # A flush running when the broker goes away goes on: it needs the database and the APIs,
        # not the broker; its wake-up comes back after the visibility timeout at worst (harmless).
        worker_cancel_long_running_tasks_on_connection_loss=False,
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_default_queue=settings.queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        task_publish_retry=False,
        # no local file: the schedule is in the database
        beat_scheduler="workers.tasks.beat:DatabaseScheduler",
        beat_schedule={
            "sweep-dirty": {"task": "workers.tasks.sweep_dirty", "schedule": settings.sweep_seconds},
            "reconcile-modified": {
                "task": "workers.tasks.reconcile_modified",
                "schedule": settings.reconcile_seconds,
            },
            "check-hooks": {"task": "workers.tasks.check_hooks", "schedule": settings.hooks_check_seconds},
            "ometria-errors": {
                "task": "workers.tasks.collect_ometria_errors",
                "schedule": settings.errors_seconds,
            },
            "prune": {"task": "workers.tasks.prune", "schedule": 3600.0},
            "rolling-resync": {"task": "workers.tasks.rolling_resync", "schedule": 60.0},
            "nightly-resync": {"task": "workers.tasks.resync_all", "schedule": crontab(hour=3, minute=17)},
        },
    )
    return app


app = make_celery(get_settings())
