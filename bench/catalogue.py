"""Catalogue: how fast the sandbox store generates a catalogue of 100,000 products (issue: under 30 s)
and answers a 250-product page by `id:in` with `include=variants,images,custom_fields` (under 100 ms),
measured over HTTP on loopback with http.client (one read: the client's own overhead stays out)."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.common import percentile, say
from sandbox.catalog import Store
from sandbox.server import start_sandbox


def page_latencies(store: Store, rounds: int = 12) -> list[float]:
    """Seconds until the whole answer to a 250-product page has arrived, one per round, sorted; each
    answer is checked to hold exactly the ids asked for."""
    with start_sandbox(store=store, plan="unlimited") as sb:
        base = urlsplit(sb.api_url)
        conn = http.client.HTTPConnection(base.hostname, base.port, timeout=60)
        ids = store.product_ids()
        step = max(250, len(ids) // rounds - 250)
        latencies = []
        for k in range(rounds):
            chunk = ids[(k * step) % (len(ids) - 250) :][:250]
            query = urlencode(
                {"id:in": ",".join(map(str, chunk)), "include": "variants,images,custom_fields", "limit": 250}
            )
            t0 = time.perf_counter()
            conn.request(
                "GET", f"{base.path}/catalog/products?{query}", headers={"X-Auth-Token": sb.access_token}
            )
            response = conn.getresponse()
            body = response.read()
            latencies.append(time.perf_counter() - t0)
            if response.status != 200 or [p["id"] for p in json.loads(body)["data"]] != chunk:
                raise AssertionError(f"page {k}: status {response.status} or not the ids asked for")
        conn.close()
    return sorted(latencies)


def run(quick: bool = False) -> dict[str, Any]:
    size = 10_000 if quick else 100_000
    say(f"catalogue: generating {size:,} products (seed 1)")
    started, cpu = time.perf_counter(), time.process_time()
    store = Store(size, seed=1)
    usable = time.perf_counter() - started
    if not store.wait_ready(600):
        raise RuntimeError("the catalogue was not generated within 600 s")
    generated, generated_cpu = time.perf_counter() - started, time.process_time() - cpu
    say(
        f"catalogue: usable after {usable:.1f} s, complete after {generated:.1f} s "
        f"({generated_cpu:.1f} s CPU)"
    )
    big = page_latencies(store)
    small = page_latencies(Store(1_000, seed=1))
    say(f"catalogue: 250-product page median {percentile(big, 50) * 1000:.0f} ms")
    return {
        "products": size,
        "usable_seconds": round(usable, 2),
        "generated_seconds": round(generated, 2),
        "generated_cpu_seconds": round(generated_cpu, 2),
        "page_ms": {
            "median": round(percentile(big, 50) * 1000, 1),
            "best": round(big[0] * 1000, 1),
            "worst": round(big[-1] * 1000, 1),
        },
        "page_ms_at_1000": round(percentile(small, 50) * 1000, 1),
        "quick": quick,
    }
