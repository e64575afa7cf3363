"""The counters a worker (or `bcsync`) process adds up before they reach the database: pure
bookkeeping, no I/O.

Workers may run on other hosts than the web process that serves `GET /metrics`, so their counts
cannot live in process memory or in prometheus-client's multiprocess files. Instead each process
adds its increments here (`TALLY`), and after each task `workers.ops.observability.persist_tally`
adds them to the `metric_totals` table in one transaction; `/metrics` renders that table. Totals
in the table only ever grow, so two scrapes never see a counter go back, whichever worker died.

`METRICS` is the list of the metrics kept this way, their type and help text: the one place the
web side reads to render them.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Mapping
from typing import NamedTuple

Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs
Key = tuple[str, Labels]  # (sample name, labels)

# seconds a flush (one claimed batch: fetch, map, push, record) took
FLUSH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class MetricSpec(NamedTuple):
    kind: str  # "counter" | "histogram"
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


METRICS: dict[str, MetricSpec] = {
    "bcsync_flushes": MetricSpec(
        "counter", "Flushes (claimed batches) run, by store and outcome", ("store", "outcome")
    ),
    "bcsync_flush_seconds": MetricSpec(
        "histogram", "Seconds one flush took (fetch, map, push, record)", ("store",), FLUSH_BUCKETS
    ),
    "bcsync_flush_products": MetricSpec("counter", "Dirty products claimed by flushes", ("store",)),
    "bcsync_flush_records": MetricSpec("counter", "Records flushes pushed to Ometria", ("store",)),
    "bcsync_bigcommerce_requests": MetricSpec(
        "counter",
        "BigCommerce API requests, by store and answer (2xx, 429, 4xx, 5xx, none)",
        ("store", "status"),
    ),
    "bcsync_ometria_requests": MetricSpec(
        "counter", "Ometria API requests, by store and answer (2xx, 429, 4xx, 5xx, none)", ("store", "status")
    ),
    "bcsync_ometria_records": MetricSpec(
        "counter",
        "Records in Ometria push answers, by store and outcome (accepted, rejected)",
        ("store", "outcome"),
    ),
}

# which counter each API's requests go to
REQUESTS_METRIC = {"bigcommerce": "bcsync_bigcommerce_requests", "ometria": "bcsync_ometria_requests"}


def status_class(status: int) -> str:
    """An HTTP status as a bounded label: 429 on its own, else its class; 0 (no answer) is none."""
    if status == 429:
        return "429"
    if 100 <= status < 600:
        return f"{status // 100}xx"
    return "none"


def _labels(spec: MetricSpec, labels: Mapping[str, str]) -> Labels:
    if set(labels) != set(spec.labels):
        raise ValueError(f"labels {sorted(labels)} do not match {spec.labels}")
    return tuple(sorted((k, str(v)) for k, v in labels.items()))


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class Tally:
    """Thread-safe increments waiting to be persisted. `drain()` hands them over; `restore()` puts
    them back when persisting failed, so nothing is lost or counted twice."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[Key, float] = {}

    def _add(self, key: Key, value: float) -> None:
        with self._lock:
            self._pending[key] = self._pending.get(key, 0.0) + value

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        spec = METRICS[name]
        if spec.kind != "counter":
            raise ValueError(f"{name} is a {spec.kind}")
        if value < 0:
            raise ValueError("a counter only goes up")
        if value:
            self._add((f"{name}_total", _labels(spec, labels)), value)

    def observe(self, name: str, value: float, **labels: str) -> None:
        spec = METRICS[name]
        if spec.kind != "histogram":
            raise ValueError(f"{name} is a {spec.kind}")
        base = _labels(spec, labels)
        with self._lock:
            for bound in (*spec.buckets, math.inf):
                if value <= bound:
                    key = (f"{name}_bucket", tuple(sorted((*base, ("le", _le(bound))))))
                    self._pending[key] = self._pending.get(key, 0.0) + 1
            for suffix, amount in (("_count", 1.0), ("_sum", float(value))):
                key = (name + suffix, base)
                self._pending[key] = self._pending.get(key, 0.0) + amount

    def request(self, api: str, store: str, status: int) -> None:
        """One API request's answer (status 0: none came)."""
        self.inc(REQUESTS_METRIC[api], store=store, status=status_class(status))

    def drain(self) -> dict[Key, float]:
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending

    def restore(self, pending: Mapping[Key, float]) -> None:
        with self._lock:
            for key, value in pending.items():
                self._pending[key] = self._pending.get(key, 0.0) + value

    def _forget_after_fork(self) -> None:
        # a forked child (Celery's pool) starts empty: the parent still holds and persists its own
        self._lock = threading.Lock()
        self._pending = {}


TALLY = Tally()
os.register_at_fork(after_in_child=TALLY._forget_after_fork)
