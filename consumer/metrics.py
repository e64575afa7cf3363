"""Prometheus metrics of the web process, and `GET /metrics`.

- bcsync_webhooks_total{scope, outcome}: callbacks received. `scope` is the callback's scope once the
  request is authenticated and well-formed ("unknown" before that, so unauthenticated callers cannot
  grow the label set); `outcome` is recorded, replayed, ignored, or why it was refused.
- bcsync_webhook_ack_seconds{outcome}: time from the view's start to its answer.
- bcsync_dirty_rows{store, entity}: rows waiting for a flush, read from the database at scrape time.
Under gunicorn (several processes) set PROMETHEUS_MULTIPROC_DIR to a fresh, writable directory: the
exposition then sums every process's files (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import Blueprint, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from consumer.runtime import current_runtime
from workers.ops.health_collector import HealthCollector
from workers.store import queries

log = logging.getLogger(__name__)

WEBHOOKS = Counter(
    "bcsync_webhooks", "Webhook callbacks received, by scope and outcome", ["scope", "outcome"]
)
ACK_SECONDS = Histogram(
    "bcsync_webhook_ack_seconds",
    "Seconds to answer a webhook callback",
    ["outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

blueprint = Blueprint("metrics", __name__)


def observe_webhook(scope: str, outcome: str, seconds: float) -> None:
    WEBHOOKS.labels(scope=scope, outcome=outcome).inc()
    ACK_SECONDS.labels(outcome=outcome).observe(seconds)


class DirtyRowsCollector(Collector):
    def __init__(self, database_url: str) -> None:
        self._url = database_url

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("bcsync_dirty_rows", "Rows waiting for a flush", labels=["store", "entity"])
        try:
            counts = queries.dirty_counts(self._url)
        except Exception as exc:  # the database is down: expose the rest
            log.debug("dirty rows not counted (%s)", type(exc).__name__)
            return
        for (store, entity), n in sorted(counts.items()):
            gauge.add_metric([store, entity], n)
        yield gauge


def _process_registry() -> CollectorRegistry:
    if current_runtime().settings.prometheus_multiproc_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


@blueprint.get("/metrics")
def metrics() -> Response:
    dirty = CollectorRegistry(auto_describe=False)
    dirty.register(DirtyRowsCollector(current_runtime().settings.database_url))
    dirty.register(HealthCollector(current_runtime().settings))  # liveness: workers/ops/health_collector.py
    body = generate_latest(_process_registry()) + generate_latest(dirty)
    return Response(body, mimetype=None, content_type=CONTENT_TYPE_LATEST)
