"""`python -m bench [catalogue|ingest|storm|resync|latency|scaleout|storefronts ...] [--quick]` — run
the benchmarks (all by default), print one table (stdout; progress goes to stderr), and merge the figures into
var/bench/results.json."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench import catalogue, ingest, latency, report, resync, scaleout, storefronts, storm
from bench.common import machine, postgres_started_at, save_results, say

BENCHMARKS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "catalogue": catalogue.run,
    "ingest": ingest.run,
    "storm": storm.run,
    "resync": resync.run,
    "latency": latency.run,
    "scaleout": scaleout.run,
    "storefronts": storefronts.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "which",
        nargs="*",
        metavar="BENCHMARK",
        help=f"any of {', '.join(BENCHMARKS)} (default: all, in that order)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of a few minutes")
    args = parser.parse_args(argv)
    unknown = [w for w in args.which if w not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    chosen = args.which or list(BENCHMARKS)
    results: dict[str, Any] = {}
    started = time.monotonic()
    for name in chosen:
        say(f"=== {name}{' (quick)' if args.quick else ''} ===")
        t0 = time.monotonic()
        pg_before = postgres_started_at()
        try:
            results[name] = BENCHMARKS[name](args.quick)
        except Exception as exc:  # keep going: the other benchmarks still say something
            traceback.print_exc()
            results[name] = {"error": f"{type(exc).__name__}: {exc}", "quick": args.quick}
        pg_after = postgres_started_at()
        if pg_before != pg_after:
            results[name]["postgres_restarted"] = True
            say(f"{name}: PostgreSQL was restarted during this benchmark (by something else on this machine)")
        results[name]["bench_seconds"] = round(time.monotonic() - t0, 1)
        results[name]["at"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
        say(f"=== {name} done in {results[name]['bench_seconds']:.0f} s ===")
        save_results({**results, "machine": machine()})
    info = machine()
    path = save_results({**results, "machine": info})
    print(report.render(results, info))
    print(f"\n(all figures: {path}; total {time.monotonic() - started:.0f} s)")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
