"""Storm: N callbacks about M distinct products (duplicates, sku, inventory and order-noise events mixed in,
`sandbox.storm`) fired by the sandbox store at the running service, on the Standard plan's quota.

Measured from the storm's first callback to quiescence (every callback acknowledged, no dirty row, Ometria
equal to the store): BigCommerce calls (product calls apart from the fixed lookups), 429s, Ometria requests
and records pushed, the records that really changed (Ometria before vs after) — beside the physical
minimum ceil(M/250) calls and the per-webhook approach (4 calls per callback: product, variants, images,
category assignments) and the time that would take on the Standard quota.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import STANDARD_QUOTA, STANDARD_WINDOW, say, work_dir
from bench.service import Service, catalogue_calls, initial_load, running_service, wait_quiet

PER_WEBHOOK_CALLS = 4  # product, variants, images, category assignments


@dataclass(frozen=True)
class StormConfig:
    callbacks: int = 10_000
    products: int = 2_000
    store_products: int = 2_500
    window_seconds: float = STANDARD_WINDOW  # < 30: time-compressed quota
    debounce_seconds: float = 2.0
    seed: int = 11
    timeout: float = 420.0


FULL = StormConfig()
QUICK = StormConfig(callbacks=500, products=100, store_products=300, window_seconds=3.0, timeout=90.0)


def lookup_allowance(snapshot: dict) -> int:
    """The fixed lookups, each fetched once: category tree and brand pages, the channel site, the currency,
    and the storefront lookups of one channel (its trees, currency assignment, price-list assignments)."""
    storefront = 3
    return (
        math.ceil(len(snapshot["categories"]) / 250)
        + math.ceil(len(snapshot["brands"]) / 250)
        + 2
        + storefront
    )


def changed_records(before: dict[str, dict], after: dict[str, dict]) -> int:
    return sum(1 for rid, record in after.items() if before.get(rid) != record)


def storm_on(service: Service, cfg: StormConfig) -> dict[str, Any]:
    """Fire the storm at a loaded, quiet service and measure it."""
    client = service.client
    snapshot = client.snapshot()
    before = client.records()
    client.reset_counters()
    client.ratelimit(plan="standard", window_seconds=cfg.window_seconds)  # fresh windows, refusals at 0
    om_before = client.ometria_stats()
    deliveries_before = client.deliveries()
    say(f"storm: firing {cfg.callbacks:,} callbacks about {cfg.products:,} products")
    started = time.monotonic()
    fired = client.storm(callbacks=cfg.callbacks, products=cfg.products, seed=cfg.seed)
    fired_in = time.monotonic() - started
    say(
        f"storm: {fired['callbacks']:,} callbacks fired in {fired_in:.1f} s ({fired['by_scope']}); "
        "waiting for quiescence"
    )
    quiet = wait_quiet(service, timeout=cfg.timeout, started=started)
    counters = client.counters()
    om_after = client.ometria_stats()
    deliveries = client.deliveries()
    after = client.records()
    limiter = client.ratelimit()
    calls = catalogue_calls(counters)
    changed = changed_records(before, after)
    by_status = {
        k: v - deliveries_before.get("by_status", {}).get(k, 0)
        for k, v in deliveries.get("by_status", {}).items()
    }
    distinct = int(fired["products"])
    allowance = lookup_allowance(snapshot)
    minimum = math.ceil(distinct / 250)
    per_webhook = PER_WEBHOOK_CALLS * int(fired["callbacks"])
    compression = STANDARD_WINDOW / cfg.window_seconds
    om_requests = om_after["pushes"] - om_before["pushes"]
    out = {
        "config": asdict(cfg),
        "callbacks": int(fired["callbacks"]),
        "by_scope": fired["by_scope"],
        "distinct_products": distinct,
        "fire_seconds": round(fired_in, 2),
        "delivered_seconds": _round(quiet["delivered_at"]),
        "quiescence_seconds": _round(quiet["quiet_at"]),
        "drift": quiet["drift"][:20],
        "drift_count": len(quiet["drift"]),
        "receiver_statuses": by_status,
        "receiver_non_2xx": sum(v for k, v in by_status.items() if not k.startswith("2")),
        "bc_product_calls": calls["product"],
        "bc_lookup_calls": calls["lookups"],
        "bc_other_calls": calls["other"],
        "bc_calls": calls["total"],
        "bc_calls_by_endpoint": calls["by_endpoint"],
        "bc_429": calls["status_429"],
        "sandbox_refused": limiter.get("refused", {}),
        "lookup_allowance": allowance,
        "minimum_calls": minimum,
        "bc_call_target": 1.25 * minimum + allowance,
        "per_webhook_calls": per_webhook,
        "per_webhook_seconds_standard": round(per_webhook / STANDARD_QUOTA * STANDARD_WINDOW),
        "ometria_requests": om_requests,
        "ometria_429": om_after.get("rate_limited", 0) - om_before.get("rate_limited", 0),
        "records_pushed": om_after["records_received"] - om_before["records_received"],
        "changed_records": changed,
        "ometria_request_minimum": math.ceil(changed / 100),
        "window_seconds": cfg.window_seconds,
        "compression": compression,
    }
    # Time-compressed runs: the quota never bound if every window's calls fit in it; otherwise a real
    # Standard store needs at least this many extra full windows.
    windows_needed = max(1, math.ceil(calls["total"] / STANDARD_QUOTA))
    out["quota_bound_seconds_standard"] = (windows_needed - 1) * STANDARD_WINDOW
    say(
        f"storm: quiet after {out['quiescence_seconds']} s; BigCommerce {calls['product']} product calls + "
        f"{calls['lookups']} lookups ({calls['status_429']} x 429), Ometria {om_requests} requests, "
        f"{out['records_pushed']} records pushed, {changed} changed"
    )
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def run_storm(cfg: StormConfig, var: Path | None = None) -> dict[str, Any]:
    """Start everything, load the catalogue into Ometria, then storm (the function the smoke test runs).
    Logs and files go to `var` (default: a new directory under var/bench/)."""
    var = var or work_dir("storm")
    with running_service(
        var,
        products=cfg.store_products,
        window_seconds=cfg.window_seconds,
        env={"SYNC_DEBOUNCE_SECONDS": f"{cfg.debounce_seconds:g}"},
    ) as service:
        say(f"storm: first load of {cfg.store_products:,} products into Ometria (bcsync resync all)")
        load_seconds = initial_load(service)
        service.sandbox.register_hooks(service.stack.hook_url)
        result = storm_on(service, cfg)
        result["backend"] = service.backend.label
        result["initial_load_seconds"] = round(load_seconds, 1)
        if result["quiescence_seconds"] is None:
            result["worker_log_tail"] = service.stack.logs("worker")[-3000:]
    return result


def run(quick: bool = False) -> dict[str, Any]:
    return {**run_storm(QUICK if quick else FULL), "quick": quick}
