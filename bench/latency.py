"""Latency: one change in the store to its record in Ometria, for isolated changes (one at a time).

Each change is a price edit through the sandbox store (which fires a signed store/product/updated callback
at the running service); the clock stops when the sandbox Ometria's `GET /v2/products/<id>` shows the new
price. The next change starts only after that, so every change is flushed on its own (debounce, wake-up,
one BigCommerce call, one push): the floor is SYNC_DEBOUNCE_SECONDS.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import requests

from bench.common import percentile, say, work_dir
from bench.service import initial_load, running_service
from workers import settings as S

GAP_SECONDS = 0.1


@dataclass(frozen=True)
class LatencyConfig:
    changes: int = 200
    debounce_seconds: float = 1.0  # 2 s (the default) makes 200 changes take ~8 minutes; see the table
    store_products: int = 200
    timeout_per_change: float = 30.0


FULL = LatencyConfig()
QUICK = LatencyConfig(changes=10)


def run_latency(cfg: LatencyConfig) -> dict[str, Any]:
    var = work_dir("latency")
    with running_service(
        var, products=cfg.store_products, env={"SYNC_DEBOUNCE_SECONDS": f"{cfg.debounce_seconds:g}"}
    ) as service:
        say(f"latency: first load of {cfg.store_products} products into Ometria")
        initial_load(service)
        service.sandbox.register_hooks(service.stack.hook_url)
        client = service.client
        products = [p["id"] for p in client.snapshot()["products"]]
        om = requests.Session()
        om.trust_env = False
        om.headers["X-Ometria-Auth"] = S.SANDBOX_OMETRIA_KEY
        say(f"latency: {cfg.changes} isolated price changes, SYNC_DEBOUNCE_SECONDS={cfg.debounce_seconds:g}")
        latencies: list[float] = []
        missed = 0
        for i in range(cfg.changes):
            pid = products[i % len(products)]
            price = round(1000 + i + 0.37, 2)  # a price no product had before: a real change
            url = f"{service.sandbox.ometria_url}/v2/products/{pid}"
            started = time.monotonic()
            client.update_product(pid, price=price)
            while time.monotonic() - started < cfg.timeout_per_change:
                answer = om.get(url, timeout=5)
                if answer.status_code == 200 and answer.json().get("price") == price:
                    latencies.append(time.monotonic() - started)
                    break
                time.sleep(0.02)
            else:
                missed += 1
                service.check_alive()
            # isolated: the next change only once this one's flush has released its row, and a beat later
            # (a flush still draining would otherwise pick the next change up without any debounce)
            while service.dirty() and time.monotonic() - started < cfg.timeout_per_change:
                time.sleep(0.02)
            time.sleep(GAP_SECONDS)
            if (i + 1) % 25 == 0:
                say(f"latency: {i + 1}/{cfg.changes}, p50 so far {percentile(latencies, 50):.2f} s")
        backend_label = service.backend.label
    return {
        "config": asdict(cfg),
        "backend": backend_label,
        "changes": cfg.changes,
        "measured": len(latencies),
        "missed": missed,
        "p50_seconds": round(percentile(latencies, 50), 3),
        "p95_seconds": round(percentile(latencies, 95), 3),
        "max_seconds": round(max(latencies, default=float("nan")), 3),
        "min_seconds": round(min(latencies, default=float("nan")), 3),
        "debounce_seconds": cfg.debounce_seconds,
        "target_p50_seconds": cfg.debounce_seconds + 1.0,
    }


def run(quick: bool = False) -> dict[str, Any]:
    return {**run_latency(QUICK if quick else FULL), "quick": quick}
