"""Benchmarks of DESIGN.md's Performance section: `python -m bench [ingest|storm|resync|latency] [--quick]`
(`make bench` runs them all), one table on stdout, progress on stderr, var/bench/results.json."""
