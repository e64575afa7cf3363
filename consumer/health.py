"""`GET /healthz` (the process answers) and `GET /readyz` (the database and the broker answer).

Readiness reports which part failed by name and exception type only — never the exception's text,
which may carry a URL with its password.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify

from consumer.runtime import Runtime, current_runtime
from workers.settings import Settings
from workers.store.storage import ping

log = logging.getLogger(__name__)

BROKER_TIMEOUT = 2.0

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> Response:
    runtime = current_runtime()
    checks = {"database": _check(_database_ready, runtime), "broker": _check(_broker_ready, runtime.settings)}
    ready = all(v == "ok" for v in checks.values())
    response = jsonify(status="ok" if ready else "unavailable", checks=checks)
    response.status_code = 200 if ready else 503
    return response


def _check(probe: Callable[[Any], None], arg: Any) -> str:
    try:
        probe(arg)
    except Exception as exc:
        log.info("readiness: %s failed (%s)", probe.__name__.strip("_"), type(exc).__name__)
        return f"unavailable ({type(exc).__name__})"
    return "ok"


def _database_ready(runtime: Runtime) -> None:
    ping(runtime.settings.database_url)
    runtime.ensure_schema()


def _broker_ready(settings: Settings) -> None:
    if settings.broker_url.startswith("filesystem://"):
        from workers.settings import broker_folder

        folder = broker_folder(settings)
        if not folder.is_dir():
            raise FileNotFoundError("broker folder missing")
        return
    from kombu import Connection

    with Connection(
        settings.broker_url,
        connect_timeout=BROKER_TIMEOUT,
        transport_options={"max_retries": 1, "socket_timeout": BROKER_TIMEOUT},
    ) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=BROKER_TIMEOUT)
