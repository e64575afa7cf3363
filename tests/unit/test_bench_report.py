"""`make bench`'s table: each figure beside its comparison and target, and the misses listed at the end."""

from __future__ import annotations

from bench.report import render, rows_for

MACHINE = {"cpus": 2, "python": "3.11", "at": "now"}


def _endpoint(per_second: float, p99: float, web: int, db: int) -> dict:
    return {
        "per_second": per_second,
        "p50_ms": 1.0,
        "p99_ms": p99,
        "non_2xx": 0,
        "cpu_us_web": web,
        "cpu_us_db": db,
    }


def test_a_missed_target_is_marked_and_listed_and_the_diagnostic_row_shows() -> None:
    results = {
        "catalogue": {
            "products": 100_000,
            "usable_seconds": 1.0,
            "generated_seconds": 3.0,
            "generated_cpu_seconds": 3.0,
            "page_ms": {"median": 16, "best": 15, "worst": 20},
            "page_ms_at_1000": 15,
        },
        "ingest": {
            "gunicorn": "--workers 2",
            "concurrency": 8,
            "backend": "PostgreSQL + Redis",
            "app": _endpoint(1000, 12.0, 800, 150),
            "bare": _endpoint(5000, 5.0, 300, 0),
            "without_db_write": _endpoint(3000, 9.0, 550, 0),
            "free_database": _endpoint(2250, 9.0, 600, 0),
            "bare_with_insert": _endpoint(2000, 7.0, 480, 100),
            "throughput_ratio": 0.2,
        },
    }
    table = render(results, MACHINE)
    assert "MISS (20%)" in table
    assert "ingest: webhooks/s = 1,000 (target >= 60 % of bare (3,000))" in table
    assert "800 + 150" in table and "60% of bare" in table and "45% of bare; CPU 600 + 0" in table
    assert "(bench.freedb)" in table and "40% of bare; CPU 480 + 100" in table
    assert "catalogue  seconds to generate the whole catalogue" in table
    assert table.count("MISS") == 1  # that row only: the other figures meet their targets
    assert "1 figure(s) miss their target" in table


def test_every_target_met_says_so() -> None:
    results = {
        "catalogue": {
            "products": 10,
            "usable_seconds": 1.0,
            "generated_seconds": 1.0,
            "generated_cpu_seconds": 1.0,
            "page_ms": {"median": 5, "best": 5, "worst": 5},
            "page_ms_at_1000": 5,
        }
    }
    assert "every figure meets its target" in render(results, MACHINE)


def _scaleout(drift_one: int = 0) -> dict:
    def storm(quiet: float, drift: int, batches: dict) -> dict:
        return {
            "quiescence_seconds": quiet,
            "delivered_seconds": quiet - 5,
            "drift_count": drift,
            "bc_calls": 40,
            "ometria_requests": 36,
            "batches_per_worker": batches,
        }

    def ingest(per_second: float) -> dict:
        return {"per_second": per_second, "p50_ms": 10.0, "p99_ms": 40.0, "non_2xx": 0}

    return {
        "config": {
            "worker_hosts": [1, 3],
            "web_hosts": [1, 2],
            "worker_concurrency": 1,
            "web_concurrency": 1,
            "ingest_connections": 8,
            "storm": {"callbacks": 10_000, "products": 2_000, "window_seconds": 30.0},
        },
        "commit": "abc1234",
        "cores": 2,
        "storm": {
            "workers_1": storm(50.0, drift_one, {"worker1": 2}),
            "workers_3": storm(40.0, 0, {"worker1": 1, "worker2": 1, "worker3": 0}),
        },
        "ingest": {"webs_1": ingest(300.0), "webs_2": ingest(420.0)},
        "storm_speedup": 1.25,
        "ingest_speedup": 1.4,
    }


def test_scaleout_rows_show_both_sizes_side_by_side() -> None:
    rows = {row[1].split(" (")[0]: row for row in rows_for({"scaleout": _scaleout()})}
    quiet = rows["storm: seconds to quiescence, 3 vs 1 worker host(s)"]
    assert quiet[2:4] == ("40.0", "50.0; speed-up 1.25 x")
    assert rows["ingest: webhooks/s, 2 vs 1 web host(s)"][2:4] == ("420", "300; speed-up 1.40 x")
    assert rows["storm: batches flushed per worker host"][2:4] == ("1 / 1 / 0", "2 on 1 host")
    assert rows["storm: from the last acknowledgement to quiescence"][2:4] == ("5.0", "5.0")
    assert "every figure meets its target" in render({"scaleout": _scaleout()}, MACHINE)


def test_scaleout_drift_is_a_miss_and_a_skip_is_not() -> None:
    table = render({"scaleout": _scaleout(drift_one=3)}, MACHINE)
    assert "scaleout: storm: end state, Ometria vs store = equal (target equal)" in table
    assert "3 differences" in table and table.count("MISS") == 1
    skipped = rows_for({"scaleout": {"skipped": "network namespaces and veth pairs need root"}})
    assert skipped == [("scaleout", "not run: network namespaces and veth pairs need root", "", "", "", "")]
