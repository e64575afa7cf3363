"""gunicorn's configuration hooks for the `web` process (infra/web.py passes `--config` this file).

Every gunicorn of the launcher counts its metrics in the folder infra/web.py made (prometheus-client's
multiprocess mode). When a gunicorn worker exits (a restart, a crash, a SIGHUP reload), its counters
stay in that folder — GET /metrics goes on summing them, so no counter ever goes back — and only its
live gauges are dropped, as prometheus-client asks: `mark_process_dead` in the master.
"""

from __future__ import annotations

from typing import Any


def child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
