"""The storm benchmark, small and time-compressed (500 callbacks about 100 products, the Standard quota per
3 s), through the real processes on PostgreSQL + Redis: asserts the behaviours the benchmark measures —
coalescing into few BigCommerce calls, no 429s, few Ometria requests, and an end state equal to the store.
Timings are the benchmark's business, not this test's.
"""

from __future__ import annotations

import math

import pytest

from bench.storm import StormConfig, run_storm
from tests.services import need

pytestmark = pytest.mark.services

SMOKE = StormConfig(callbacks=500, products=100, store_products=300, window_seconds=3.0, timeout=40.0)


def test_quick_storm_coalesces_and_ends_equal_to_the_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    need("127.0.0.1", 5432, "PostgreSQL")
    need("127.0.0.1", 6379, "Redis")
    r = run_storm(SMOKE, tmp_path)
    assert r["callbacks"] == SMOKE.callbacks
    assert r["receiver_non_2xx"] == 0, r["receiver_statuses"]
    assert r["drift"] == [], f"{r['drift_count']} differences, e.g. {r['drift'][:5]}"
    assert r["quiescence_seconds"] is not None
    minimum = math.ceil(r["distinct_products"] / 250)
    assert r["bc_calls"] <= 1.25 * minimum + r["lookup_allowance"], (
        f"{r['bc_calls_by_endpoint']}; the {r['callbacks']} callbacks took {r['delivered_seconds']} s to be "
        f"acknowledged (SYNC_DEBOUNCE_SECONDS={SMOKE.debounce_seconds:g})"
    )
    assert r["bc_429"] == 0 and r["sandbox_refused"]["quota"] == 0, r["sandbox_refused"]
    assert r["changed_records"] > 0
    assert r["ometria_requests"] <= 1.1 * math.ceil(r["changed_records"] / 100) + 1, (
        r["ometria_requests"],
        r["changed_records"],
    )
