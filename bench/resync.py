"""Full resync of a large catalogue (100,000 products), twice: first into an empty Ometria (everything
changed), then again (nothing changed: must push zero records). Each run is `bcsync resync all` as its
own process on PostgreSQL; its peak RSS is the kernel's high-water mark (VmHWM), its CPU time from wait4.

The sandbox runs the "unlimited" plan and its Ometria accepts any push rate, and OMETRIA_PUSH_RATE is
raised to match, so the run measures the service rather than the quotas; the table converts the counts
into what the real quotas would cost: the Standard plan (150 calls per 30 s) and Ometria at 4 requests/s.

Mapping throughput: workers.domain.mapping.map_product + workers.domain.fingerprint.fingerprint over every
product, as the API returns them (JSON round trip), in one process: products per CPU-second of one core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import OMETRIA_REAL_RATE, REPO, STANDARD_QUOTA, STANDARD_WINDOW, backend, say, work_dir
from bench.service import catalogue_calls
from sandbox.catalog import Store
from sandbox.client import SandboxClient
from sandbox.server import start_sandbox
from tests.harness import service_env
from workers.domain.fingerprint import fingerprint
from workers.domain.mapping import MappingContext, default_store_id, map_product

FULL_PRODUCTS, QUICK_PRODUCTS = 100_000, 2_000
PUSH_RATE = 10_000  # requests per second: not a limit at all on loopback


def run_resync_process(env: dict[str, str], log: Path, timeout: float) -> dict[str, Any]:
    """`bcsync resync all` in its own process: wall time, CPU time (wait4) and peak RSS.

    Peak RSS is the kernel's high-water mark of the process's own image (VmHWM in /proc/<pid>/status),
    polled until it exits — not wait4's ru_maxrss, which also counts the pages of this (large) benchmark
    process that the child had mapped between fork and exec."""
    argv = [str(Path(sys.executable).parent / "bcsync"), "resync", "all"]
    started = time.monotonic()
    peak_kb = 0
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        deadline = started + timeout
        while True:
            peak_kb = max(peak_kb, _vm_hwm_kb(proc.pid))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                _pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.1)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "returncode": proc.returncode,
        "seconds": round(time.monotonic() - started, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "output_tail": log.read_text(errors="replace")[-600:],
    }


def _vm_hwm_kb(pid: int) -> int:
    """The process's peak resident set so far (kB), 0 if it is gone or has not exec'd yet."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def mapping_throughput(store: Store, chunk: int = 1000) -> dict[str, Any]:
    """map_product + fingerprint over every product, timed by CPU time of this (single) thread."""
    tree = store.category_tree()
    site = store.site_url.rstrip("/")
    ctx = MappingContext(
        currency=store.currency,
        site_url=site,
        store_id=default_store_id(site),
        category_names={int(c["category_id"]): c["name"] for c in tree},
        brand_names={int(b["id"]): b["name"] for b in store.brands()},
    )
    ids = store.product_ids()
    cpu = wall = 0.0
    records = 0
    for start in range(0, len(ids), chunk):
        # as the API serves them: rendered with variants, images and custom fields, through JSON
        page = json.loads(
            json.dumps(
                [
                    store.get_product(pid, ("variants", "images", "custom_fields"))
                    for pid in ids[start : start + chunk]
                ]
            )
        )
        c0, w0 = time.thread_time(), time.perf_counter()
        for product in page:
            for record in map_product(product, ctx):
                fingerprint(record)
                records += 1
        cpu += time.thread_time() - c0
        wall += time.perf_counter() - w0
    return {
        "products": len(ids),
        "records": records,
        "cpu_seconds": round(cpu, 2),
        "wall_seconds": round(wall, 2),
        "products_per_cpu_second": round(len(ids) / cpu) if cpu else 0,
    }


def run(quick: bool = False) -> dict[str, Any]:
    n = QUICK_PRODUCTS if quick else FULL_PRODUCTS
    var = work_dir("resync")
    say(f"resync: generating a sandbox store of {n:,} products (plan unlimited)")
    store = Store(n, seed=5)
    # first, in this process alone: it also generates every product's details before the timed runs
    say(f"resync: timing map_product + fingerprint over {n:,} products in one process")
    mapping = mapping_throughput(store)
    say(f"resync: mapping {mapping['products_per_cpu_second']:,} products/s per core")
    sb = start_sandbox(store=store, plan="unlimited", push_rate=1_000_000)
    client = sb.client()
    restarts = 0
    try:
        while True:
            try:
                runs, backend_label = resync_twice(client, sb.bc_url, sb.ometria_url, n, var)
                break
            except Exception as exc:
                # PostgreSQL restarted by something else on this machine: start over once, from scratch
                if restarts >= 2 or not _database_went_away(exc):
                    raise
                restarts += 1
                say(
                    f"resync: the database went away mid-run ({str(exc).splitlines()[-1][:100]}); "
                    "starting over with a fresh database and an empty Ometria"
                )
                client.reset_ometria()
    finally:
        sb.stop()
    return {
        "products": n,
        "backend": backend_label,
        "plan": "unlimited",
        "push_rate": PUSH_RATE,
        "runs": runs,
        "mapping": mapping,
        "restarts": restarts,
        "quick": quick,
    }


def resync_twice(
    client: SandboxClient, bc_url: str, ometria_url: str, n: int, var: Path
) -> tuple[dict[str, dict[str, Any]], str]:
    """`bcsync resync all` into an empty Ometria, then again over the unchanged catalogue."""
    runs: dict[str, dict[str, Any]] = {}
    with backend(var) as be:
        env = service_env(
            bc_url=bc_url,
            ometria_url=ometria_url,
            db_url=be.db_url,
            broker_url=be.broker_url,
            var_dir=var,
            queue=f"bench-resync-{os.getpid()}",
            OMETRIA_PUSH_RATE=str(PUSH_RATE),
        )
        for label in ("changed", "unchanged"):
            client.reset_counters()
            om_before = client.ometria_stats()
            say(f"resync: bcsync resync all, {label} catalogue of {n:,} products ({be.label})")
            proc = run_resync_process(env, var / f"resync-{label}.log", timeout=1800)
            if proc["returncode"] != 0:
                raise RuntimeError(f"bcsync resync all failed: {proc['output_tail']}")
            om_after = client.ometria_stats()
            calls = catalogue_calls(client.counters())
            requests = om_after["pushes"] - om_before["pushes"]
            runs[label] = {
                **proc,
                "bc_calls": calls["total"],
                "bc_product_calls": calls["product"],
                "bc_429": calls["status_429"],
                "standard_plan_seconds": _standard_seconds(calls["total"]),
                "ometria_requests": requests,
                "records_pushed": om_after["records_received"] - om_before["records_received"],
                "ometria_seconds_at_4_per_s": round(requests / OMETRIA_REAL_RATE, 1),
                "products_per_second": round(n / proc["seconds"], 1) if proc["seconds"] else 0.0,
            }
            r = runs[label]
            say(
                f"resync: {label}: {r['seconds']} s, {r['bc_calls']} BigCommerce calls, "
                f"{r['ometria_requests']} Ometria requests, {r['records_pushed']} records, "
                f"peak RSS {r['peak_rss_mb']} MB"
            )
        return runs, be.label


def _database_went_away(exc: Exception) -> bool:
    text = str(exc)
    signs = (
        "administrator command",
        "connection failed",
        "server closed the connection",
        "the database system is",
    )
    return any(sign in text for sign in signs)


def _standard_seconds(calls: int) -> float:
    """How long the calls take at the Standard plan's sustained rate (150 per 30 s)."""
    return round(calls / STANDARD_QUOTA * STANDARD_WINDOW, 1)
