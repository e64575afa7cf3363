"""`make bench`'s table: each figure beside its comparison and target, and the misses listed at the end."""

from __future__ import annotations

from bench.report import render

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
