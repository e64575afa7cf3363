"""Prometheus metrics, and `GET /metrics`: one view over every web process and every worker.

Web side (counted in this process, prometheus-client):
- bcsync_webhooks_total{scope, outcome}: callbacks received. `scope` is the callback's scope once the
  request is authenticated and well-formed ("unknown" before that, so unauthenticated callers cannot
  grow the label set); `outcome` is recorded, replayed, ignored, or why it was refused.
- bcsync_webhook_ack_seconds{outcome}: time from the view's start to its answer.
Under `python infra/web.py` (one single-process gunicorn per WEB_CONCURRENCY) the launcher hands every
gunicorn the same folder, wiped at start (PROMETHEUS_MULTIPROC_DIR, set by it, never by the user):
prometheus-client's multiprocess mode then sums every process's files, and a gunicorn worker that
exits keeps its counts there (its live gauges are dropped, infra/gunicorn_hooks.py).

Worker side (counted by the Celery workers, which may run on other hosts, and summed in the database's
`metric_totals` after each task; workers.domain.tally lists them): bcsync_flushes_total{store, outcome},
bcsync_flush_seconds{store}, bcsync_flush_products_total{store}, bcsync_flush_records_total{store},
bcsync_bigcommerce_requests_total{store, status}, bcsync_ometria_requests_total{store, status},
bcsync_ometria_records_total{store, outcome}. Totals only grow: no scrape sees a counter go back.

Read from the database at scrape time: bcsync_dirty_rows{store, entity}, and the liveness gauges of
workers/ops/health_collector.py (heartbeat ages, pauses, hooks, bcsync_failed_tasks{store},
bcsync_bigcommerce_quota_remaining{store}, …).

Protection: with METRICS_TOKEN set, `Authorization: Bearer <token>` or 401. Unset, only loopback
clients (judged by the address nginx passes in X-Real-IP when the request comes through it), 403
for others.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator

from flask import Blueprint, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from consumer.errors import error_response
from consumer.runtime import current_runtime
from workers.domain.tally import METRICS
from workers.ops.health_collector import HealthCollector
from workers.settings import Settings
from workers.store.queries import dirty_counts
from workers.store.totals import totals_at

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


class DatabaseCollector(Collector):
    """A collector that reads the database at scrape time; when it is down, the rest is exposed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        try:
            families = list(self.families(self.settings.database_url))
        except Exception as exc:  # the database is down: expose the rest
            log.debug("%s not collected (%s)", type(self).__name__, type(exc).__name__)
            return
        yield from families

    def families(self, url: str) -> Iterator[Metric]:
        """The families, from what `workers.store` functions read at `url`."""
        raise NotImplementedError


class DirtyRowsCollector(DatabaseCollector):
    def families(self, url: str) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("bcsync_dirty_rows", "Rows waiting for a flush", labels=["store", "entity"])
        for (store, entity), n in sorted(dirty_counts(url).items()):
            gauge.add_metric([store, entity], n)
        yield gauge


class WorkerTotalsCollector(DatabaseCollector):
    """The worker-side counters and histograms (workers.domain.tally.METRICS), as summed in the
    database by every worker process on every host."""

    def families(self, url: str) -> Iterator[Metric]:
        totals = totals_at(url)
        by_sample: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
        for (sample, labels), value in totals.items():
            by_sample[sample][labels] = value
        for name, spec in METRICS.items():
            if spec.kind == "counter":
                family = CounterMetricFamily(name, spec.help, labels=list(spec.labels))
                for labels, value in sorted(by_sample.get(f"{name}_total", {}).items()):
                    family.add_metric([dict(labels)[k] for k in spec.labels], value)
                yield family
                continue
            histogram = HistogramMetricFamily(name, spec.help, labels=list(spec.labels))
            for labels, count in sorted(by_sample.get(f"{name}_count", {}).items()):
                values = dict(labels)
                buckets = []
                for bucket_labels, n in by_sample.get(f"{name}_bucket", {}).items():
                    bucket = dict(bucket_labels)
                    le = bucket.pop("le")
                    if bucket == values:
                        buckets.append((le, n))
                buckets.sort(key=lambda b: float(b[0]))
                if not buckets or buckets[-1][0] != "+Inf":
                    buckets.append(("+Inf", count))
                total = by_sample.get(f"{name}_sum", {}).get(labels, 0.0)
                histogram.add_metric([values[k] for k in spec.labels], buckets, total)
            yield histogram


# Every collector that reads the database at scrape time, built with the settings. One line each.
DATABASE_COLLECTORS: list[Callable[[Settings], Collector]] = [
    DirtyRowsCollector,
    WorkerTotalsCollector,
    HealthCollector,  # liveness: workers/ops/health_collector.py (failed list, quota, heartbeats, …)
]


def _process_registry() -> CollectorRegistry:
    if current_runtime().settings.prometheus_multiproc_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


# --- who may scrape ----------------------------------------------------------------------------


def _loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def client_address() -> str:
    """The client's address: the peer's, or — when the peer is the local nginx of infra/web.py —
    the one nginx passes in X-Real-IP (it overwrites whatever the client sent there)."""
    peer = request.remote_addr or ""
    forwarded = request.headers.get("X-Real-IP")
    if forwarded is not None and _loopback(peer):
        return forwarded.strip()
    return peer


def refusal(settings: Settings) -> Response | None:
    """None when this request may read /metrics, else the answer."""
    token = settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        response = error_response(401, "GET /metrics needs Authorization: Bearer $METRICS_TOKEN")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if _loopback(client_address()):
        return None
    return error_response(
        403, "GET /metrics is for loopback clients; set METRICS_TOKEN to scrape it remotely"
    )


@blueprint.get("/metrics")
def metrics() -> Response:
    settings = current_runtime().settings
    refused = refusal(settings)
    if refused is not None:
        return refused
    database = CollectorRegistry(auto_describe=False)
    for make in DATABASE_COLLECTORS:
        database.register(make(settings))
    body = generate_latest(_process_registry()) + generate_latest(database)
    return Response(body, mimetype=None, content_type=CONTENT_TYPE_LATEST)
