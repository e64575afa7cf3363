"""Liveness as Prometheus gauges, read from the database at scrape time (a custom Collector, so the
values are the same whichever web process answers `/metrics`). The alert rules in
infra/prometheus/alerts.yml use these names.

- bcsync_heartbeat_age_seconds{part}: seconds since the newest heartbeat of a worker / beat
- bcsync_heartbeat_threshold_seconds{part}: past this the part is silent (3 × BCSYNC_HEARTBEAT_SECONDS)
- bcsync_live_processes{part}: processes of the part heard from within the threshold
- bcsync_store_paused{store}: 1 while the store is paused
- bcsync_hooks_inactive{store}: hooks the last check found deactivated by BigCommerce
- bcsync_failed_tasks{store}: open entries in the failed list
- bcsync_last_flush_age_seconds{store}, bcsync_last_push_age_seconds{store} (last push Ometria
  accepted), bcsync_last_sweep_age_seconds{store} (date_modified sweep): absent until the first
- bcsync_oldest_dirty_age_seconds{store}: age of the oldest dirty row (0: none)
- bcsync_bigcommerce_quota_remaining{store}, bcsync_bigcommerce_quota{store}: as last seen
- bcsync_unhealthy{store, check}: 1 when the check is past its threshold (store "" for worker and beat)
- bcsync_healthy: 1 when every check is healthy
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from workers.settings import Settings

log = logging.getLogger(__name__)


class HealthCollector(Collector):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        from workers.ops.liveness import read_health

        try:
            health = read_health(self.settings)
        except Exception as exc:  # the database is down: /metrics still answers with the rest
            log.debug("liveness not read (%s)", type(exc).__name__)
            return
        now = health.now

        def gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=labels)

        age = gauge(
            "bcsync_heartbeat_age_seconds", "Seconds since the newest heartbeat of the part", ["part"]
        )
        limit = gauge(
            "bcsync_heartbeat_threshold_seconds", "Heartbeat age past which a part is silent", ["part"]
        )
        live = gauge(
            "bcsync_live_processes", "Processes of the part heard from within the threshold", ["part"]
        )
        for c in health.parts:
            if c.last:
                age.add_metric([c.name], max(0.0, now - c.last))
            limit.add_metric([c.name], float(c.threshold or 0.0))
            live.add_metric([c.name], float(c.value or 0))
        yield from (age, limit, live)

        paused = gauge("bcsync_store_paused", "1 while the store is paused", ["store"])
        hooks = gauge("bcsync_hooks_inactive", "Hooks the last check found deactivated", ["store"])
        failed = gauge("bcsync_failed_tasks", "Open entries in the failed list", ["store"])
        flush = gauge("bcsync_last_flush_age_seconds", "Seconds since the store's last flush", ["store"])
        push = gauge("bcsync_last_push_age_seconds", "Seconds since Ometria last accepted a push", ["store"])
        sweep = gauge(
            "bcsync_last_sweep_age_seconds", "Seconds since the last date_modified sweep", ["store"]
        )
        oldest = gauge("bcsync_oldest_dirty_age_seconds", "Age of the oldest dirty row (0: none)", ["store"])
        left = gauge(
            "bcsync_bigcommerce_quota_remaining", "BigCommerce requests left, as last seen", ["store"]
        )
        quota = gauge("bcsync_bigcommerce_quota", "BigCommerce requests per window, as last seen", ["store"])
        for s in health.stores:
            f, label = s.facts, [s.store]
            paused.add_metric(label, 1.0 if f.paused_until > now else 0.0)
            hooks.add_metric(label, float(f.hooks_inactive))
            failed.add_metric(label, float(f.failed))
            for family, at in ((flush, f.last_flush_at), (push, f.last_push_at), (sweep, f.last_sweep_at)):
                if at:
                    family.add_metric(label, max(0.0, now - at))
            oldest.add_metric(
                label, max(0.0, now - f.oldest_dirty_at) if f.dirty and f.oldest_dirty_at else 0.0
            )
            q = s.check("quota")
            if q.value is not None and f.quota is not None:
                left.add_metric(label, float(q.value))
                quota.add_metric(label, float(f.quota))
        yield from (paused, hooks, failed, flush, push, sweep, oldest, left, quota)

        unhealthy = gauge("bcsync_unhealthy", "1 when the check is past its threshold", ["store", "check"])
        for c in health.parts:
            unhealthy.add_metric(["", c.name], 1.0 if c.unhealthy else 0.0)
        for s in health.stores:
            for c in s.checks:
                unhealthy.add_metric([s.store, c.name], 1.0 if c.unhealthy else 0.0)
        yield unhealthy
        overall = GaugeMetricFamily("bcsync_healthy", "1 when every part and store is healthy")
        overall.add_metric([], 1.0 if health.healthy else 0.0)
        yield overall
