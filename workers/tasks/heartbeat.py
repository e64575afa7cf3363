"""The worker's heartbeat: a thread in each worker's main process, started once the worker is ready
and stopped when it shuts down (workers.ops.liveness.HeartbeatThread). It records the heartbeat
every BCSYNC_HEARTBEAT_SECONDS with the worker's hostname and pid, then evaluates incidents and
sends their alerts — so a dead beat is still reported while a worker lives."""

from __future__ import annotations

from typing import Any

from celery.signals import worker_ready, worker_shutting_down

from workers.ops.liveness import HeartbeatThread, process_name
from workers.settings import get_settings

_thread: HeartbeatThread | None = None


@worker_ready.connect
def start_heartbeat(sender: Any = None, **_kw: object) -> None:
    global _thread  # noqa: PLW0603 — one heartbeat per worker process
    if _thread is not None and _thread.is_alive():
        return
    hostname = getattr(sender, "hostname", None)
    _thread = HeartbeatThread(get_settings(), "worker", process_name(hostname))
    _thread.start()


@worker_shutting_down.connect
def stop_heartbeat(**_kw: object) -> None:
    if _thread is not None:
        _thread.stop()
