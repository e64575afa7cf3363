"""gunicorn's configuration hooks for the web process (`--config infra/gunicorn_hooks.py`): the
Procfile's `web` (infra/web.py passes it to each of its gunicorns) and Procfile.sandbox's plain gunicorn.

GET /metrics must be one view over every gunicorn worker, so they count in prometheus-client's
multiprocess mode, in one folder:
- under infra/web.py the launcher makes it (shared by all its gunicorns, emptied at each start) and
  passes it as PROMETHEUS_MULTIPROC_DIR;
- a gunicorn started without it (the sandbox) makes its own, a fresh temporary folder, before it forks
  a worker, and removes it when it exits.
When a worker exits (a restart, a crash, a SIGHUP reload) its counters stay in the folder — the sum
never goes back — and only its live gauges are dropped, as prometheus-client asks: `mark_process_dead`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

_OWN_FOLDER: list[str] = []  # the folder this master made (none under infra/web.py)


def on_starting(_server: Any) -> None:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip():
        folder = tempfile.mkdtemp(prefix="bcsync-metrics-")
        _OWN_FOLDER.append(folder)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder  # the workers forked from here inherit it


def child_exit(_server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(_server: Any) -> None:
    for folder in _OWN_FOLDER:
        shutil.rmtree(folder, ignore_errors=True)
