"""Ingest: webhooks/s and p50/p99 ack latency of `POST /webhooks/bigcommerce` (consumer.wsgi:app, signature
and secret checks on, PostgreSQL + Redis) next to a bare Flask endpoint (bench.bare:app), both under
gunicorn with the same settings, driven by the same load generator (bench.loadgen, its own process) at the
same concurrency over loopback. Rounds alternate bare / real so drift in the machine's load hits both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, backend, say, work_dir
from tests.harness import Stack, free_port, service_env, wait_until

# gthread, 2 workers x 4 threads: the fastest of the settings tried for the real receiver on 2 cores
# (sync workers lose keep-alive and pay a TCP connect per callback; more processes than cores just
# contend). BENCH_GUNICORN overrides it, e.g. "--workers 3 --worker-class sync".
GUNICORN = os.environ.get("BENCH_GUNICORN", "--workers 2 --threads 4 --worker-class gthread").split()
CONCURRENCY = int(os.environ.get("BENCH_INGEST_CONCURRENCY", "8"))
# Measured in this order each round: the baseline, the receiver, and diagnostics of where the gap goes —
# every check but no write (bench.nodb), every check and a free, instant database (bench.freedb), and no
# check but one durable INSERT per request (bench.baredb, PostgreSQL only).
ENDPOINTS = {
    "bare": "bench.bare:app",
    "app": "consumer.wsgi:app",
    "nodb": "bench.nodb:app",
    "freedb": "bench.freedb:app",
    "baredb": "bench.baredb:app",
}


def _gunicorn(app: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    argv = [
        str(Path(sys.executable).parent / "gunicorn"),
        *GUNICORN,
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        app,
    ]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return proc


def _up(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _load(
    port: int, duration: float, warmup: float, env: dict[str, str], seed: int, server: subprocess.Popen
) -> dict[str, Any]:
    count = int((duration + warmup) * 8000) + 2000  # more than gunicorn can answer on this machine
    loadgen = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.loadgen",
            "--port",
            str(port),
            "--concurrency",
            str(CONCURRENCY),
            "--duration",
            str(duration),
            "--warmup",
            str(warmup),
            "--count",
            str(count),
            "--seed",
            str(seed),
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(warmup + 1.0)  # the generator builds its requests, then warms up: measure CPU after that
    web0, db0, t0 = _cpu_seconds(server.pid), _cpu_seconds(None), time.monotonic()
    out, err = loadgen.communicate(timeout=duration + warmup + 180)
    web1, db1, t1 = _cpu_seconds(server.pid), _cpu_seconds(None), time.monotonic()
    if loadgen.returncode:
        raise RuntimeError(f"load generator failed: {err.strip()[-500:]}")
    result = json.loads(out.strip().splitlines()[-1])
    answered = result["per_second"] * (t1 - t0)  # about as many answers as in the CPU window
    result["cpu_us_web"] = round((web1 - web0) / answered * 1e6) if answered else None
    result["cpu_us_db"] = round((db1 - db0) / answered * 1e6) if answered else None
    return result


def _cpu_seconds(master: int | None) -> float:
    """CPU seconds (user + system) so far of gunicorn `master` and its workers, or with None of every
    PostgreSQL server process on the machine (from /proc; 0 where /proc is not there)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        ppid = int(fields[1])
        ours = name.startswith("postgres") if master is None else master in (int(entry.name), ppid)
        if ours:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _pool(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    requests = sum(r["requests"] for r in rounds)
    seconds = sum(r["seconds"] for r in rounds)
    return {
        "requests": requests,
        "seconds": round(seconds, 2),
        "per_second": round(requests / seconds, 1) if seconds else 0.0,
        # per-round percentiles: the median round's p50, the worst round's p99 (honest about the tail)
        "p50_ms": sorted(r["p50_ms"] for r in rounds)[len(rounds) // 2],
        "p99_ms": max(r["p99_ms"] for r in rounds),
        "non_2xx": sum(r["non_2xx"] for r in rounds),
        "statuses": _merge(r["statuses"] for r in rounds),
        "cpu_us_web": _median(r["cpu_us_web"] for r in rounds),
        "cpu_us_db": _median(r["cpu_us_db"] for r in rounds),
        "rounds": [
            {k: r[k] for k in ("per_second", "p50_ms", "p99_ms", "non_2xx", "cpu_us_web", "cpu_us_db")}
            for r in rounds
        ],
    }


def _median(values: Any) -> float | None:
    known = sorted(v for v in values if v is not None)
    return known[len(known) // 2] if known else None


def _merge(dicts: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def run(quick: bool = False) -> dict[str, Any]:
    duration, warmup, rounds = (3.0, 1.0, 1) if quick else (8.0, 2.0, 2)
    var = work_dir("ingest")
    with backend(var) as be:
        env = service_env(
            bc_url="http://127.0.0.1:9",
            ometria_url="http://127.0.0.1:9",
            db_url=be.db_url,
            broker_url=be.broker_url,
            var_dir=var,
            queue=f"bench-ingest-{os.getpid()}",
            SYNC_DEBOUNCE_SECONDS="2",
        )
        endpoints = {k: v for k, v in ENDPOINTS.items() if k != "baredb" or be.db_url.startswith("postgres")}
        ports = {name: free_port() for name in endpoints}
        procs = {
            name: _gunicorn(target, ports[name], env, var / f"{name}.log")
            for name, target in endpoints.items()
        }
        stack = Stack(env=env, var_dir=var, procs=procs)  # for stop(): SIGTERM, then SIGKILL, per group
        try:
            for name, port in ports.items():
                wait_until(lambda p=port: _up(p), 60, what=f"gunicorn ({name})")
            say(
                f"ingest: gunicorn {' '.join(GUNICORN)}, {CONCURRENCY} connections, {be.label}; "
                f"{rounds} round(s) of {duration:g} s (+{warmup:g} s warm-up) per endpoint"
            )
            results: dict[str, list[dict[str, Any]]] = {name: [] for name in endpoints}
            for i in range(rounds):
                for k, name in enumerate(endpoints):
                    seed = i * len(endpoints) + k
                    r = _load(ports[name], duration, warmup, env, seed=seed, server=procs[name])
                    results[name].append(r)
                    say(
                        f"ingest: round {i + 1} {name:6s}: {r['per_second']:.0f} webhooks/s, "
                        f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, non-2xx {r['non_2xx']}, "
                        f"CPU per request {r['cpu_us_web']} us web + {r['cpu_us_db']} us PostgreSQL"
                    )
                    time.sleep(0.5)
        finally:
            stack.stop()
        app, bare = _pool(results["app"]), _pool(results["bare"])
    return {
        "backend": be.label,
        "gunicorn": " ".join(GUNICORN),
        "concurrency": CONCURRENCY,
        "app": app,
        "bare": bare,
        "without_db_write": _pool(results["nodb"]),
        "free_database": _pool(results["freedb"]),
        "bare_with_insert": _pool(results["baredb"]) if "baredb" in results else None,
        "throughput_ratio": round(app["per_second"] / bare["per_second"], 3) if bare["per_second"] else 0.0,
        "quick": quick,
    }
