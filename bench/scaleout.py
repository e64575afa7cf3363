"""Scale-out (DESIGN.md, Performance): the storm benchmark's storm with 1 and with 3 worker hosts, and the
ingest benchmark's load (bench.loadgen) against 1 and against 2 web hosts — every process on a simulated
host of its own (tests/netns.py: network namespaces and veth pairs on a bridge, 10.231.0.0/24), PostgreSQL
and Redis (a cluster and a redis-server of their own, not the machine's) on the db host, the sandbox on
another, the load generator on a client host. The processes are the Procfile's lines of a fresh clone of
HEAD, run with this checkout's virtualenv (cwd and PYTHONPATH = the clone).

Storm: one web host (the Procfile's gunicorn, 2 workers x 4 threads) and a beat host; the catalogue is
loaded once, then the same storm (same seed, same products) is fired with 1 worker host, and again with 3;
each worker host runs `celery worker --concurrency 1`, so hosts = worker processes. The BigCommerce quota
and Ometria's push rate are shared budgets in the database: more workers cannot push faster than them.

Ingest: two web hosts, each the Procfile's gunicorn with WEB_CONCURRENCY=1 (one process of 4 threads, so a
host is one web process); rounds alternate 1 host (8 connections) and 2 hosts (4 + 4 connections, one
generator each, answers per second added). The machine has only so many cores for all the hosts.

Needs root (namespaces); elsewhere the benchmark says why it did not run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import REPO, Backend, say, work_dir
from bench.service import Service, wait_quiet
from bench.storm import FULL as FULL_STORM
from bench.storm import QUICK as QUICK_STORM
from bench.storm import StormConfig, storm_on
from sandbox.client import SandboxClient
from tests import netns
from tests.harness import Stack, service_env

FLUSHED = "flushed store "


@dataclass(frozen=True)
class ScaleConfig:
    storm: StormConfig
    worker_hosts: tuple[int, ...] = (1, 3)
    worker_concurrency: int = 1
    web_hosts: tuple[int, ...] = (1, 2)
    web_concurrency: int = 1
    ingest_connections: int = 8
    ingest_seconds: float = 8.0
    ingest_warmup: float = 2.0
    ingest_rounds: int = 3


FULL = ScaleConfig(storm=FULL_STORM)
QUICK = ScaleConfig(storm=QUICK_STORM, ingest_seconds=3.0, ingest_warmup=1.0, ingest_rounds=1)


class Cluster:
    """The simulated hosts, the db host's services, the sandbox, and the clone to run."""

    def __init__(self, ctx: ExitStack, var: Path, cfg: ScaleConfig) -> None:
        self.var = var
        self.net = ctx.enter_context(netns.Network())
        self.db_host = self.net.add("db")
        self.sb_host = self.net.add("sandbox")
        self.webs = [self.net.add(f"web{i + 1}") for i in range(max(cfg.web_hosts))]
        self.workers = [self.net.add(f"worker{i + 1}") for i in range(max(cfg.worker_hosts))]
        self.beat = self.net.add("beat")
        self.client_host = self.net.add("client")
        ctx.enter_context(self.client_host.entered())  # this process drives everything from there
        self.deployment = netns.Deployment.clone(var / "clone")
        self.database = netns.start_database_host(self.db_host, var)
        ctx.callback(netns.stop_database, self.db_host, self.database)
        netns.wait_for(lambda: netns.port_open(self.db_host.ip, netns.PG_PORT), 60, "PostgreSQL")
        netns.wait_for(lambda: netns.port_open(self.db_host.ip, netns.REDIS_PORT), 30, "Redis")
        hook = f"http://{self.webs[0].ip}:{netns.WEB_PORT}/webhooks/bigcommerce"
        self.bc_url, self.om_url = netns.start_sandbox_host(
            self.sb_host,
            var,
            products=cfg.storm.store_products,
            seed=7,
            window_seconds=cfg.storm.window_seconds,
            time_scale=1.0,
            hooks={hook: []},
        )
        self.client = SandboxClient(self.bc_url, self.om_url)
        self.queue = f"bench-scaleout-{uuid.uuid4().hex[:6]}"
        self.apps = [*self.webs, *self.workers, self.beat]
        ctx.callback(netns.stop_together, self.apps)  # before the database stops
        out = self.deployment.run(
            self.client_host, self.deployment.procfile["release"], self.env(self.client_host)
        )
        if out.returncode:
            raise RuntimeError(f"release step failed: {out.stderr[-2000:]}")

    def env(self, host: netns.Host, **extra: str) -> dict[str, str]:
        var = self.var / host.name
        var.mkdir(parents=True, exist_ok=True)
        base = service_env(
            bc_url=self.bc_url,
            ometria_url=self.om_url,
            db_url=self.database.url,
            broker_url=self.database.broker_url,
            var_dir=var,
            queue=self.queue,
            SYNC_DEBOUNCE_SECONDS="2",
            SYNC_LEASE_SECONDS="120",
            OMETRIA_PUSH_RATE="4",
        )
        return self.deployment.env(base, PORT=str(netns.WEB_PORT), **extra)

    def start_web(self, host: netns.Host, **extra: str) -> None:
        self.deployment.start(host, "web", self.env(host, **extra), self.var)
        netns.wait_for(
            lambda: netns.port_open(host.ip, netns.WEB_PORT),
            60,
            f"gunicorn on {host.name}",
            proc=host.procs["web"],
        )

    def start_workers(self, hosts: list[netns.Host], concurrency: int) -> None:
        # a host's log goes on across a stop and a start: wait for one more "ready" than before
        ready = {h.name: h.log("worker").count(" ready.") for h in hosts}
        for host in hosts:
            self.deployment.start(
                host, "worker", self.env(host, WORKER_CONCURRENCY=str(concurrency)), self.var
            )
        for host in hosts:
            netns.wait_for(
                lambda h=host: h.log("worker").count(" ready.") > ready[h.name],
                120,
                f"worker on {host.name}",
                proc=host.procs["worker"],
            )

    def service(self) -> Service:
        """What bench.storm measures through: the running processes by name (their logs in var/)."""
        procs = {
            f"{h.name}-{label}": p for h in self.apps for label, p in h.procs.items() if p.poll() is None
        }
        stack = Stack(env=self.env(self.client_host), var_dir=self.var, procs=procs)
        backend = Backend(self.database.url, self.database.broker_url, "PostgreSQL + Redis on the db host")
        return Service(sandbox=None, stack=stack, backend=backend, client=self.client, var_dir=self.var)  # type: ignore[arg-type]


def storm_cases(cluster: Cluster, cfg: ScaleConfig) -> dict[str, Any]:
    c = cluster
    c.start_web(c.webs[0])  # the Procfile's defaults: 2 gunicorn workers x 4 threads
    c.deployment.start(c.beat, "beat", c.env(c.beat), c.var)
    c.start_workers(c.workers[:1], cfg.worker_concurrency)
    say(
        f"scaleout: first load of {cfg.storm.store_products:,} products "
        "(bcsync resync all, on the client host)"
    )
    t0 = time.monotonic()
    load = c.deployment.run(c.client_host, ["bcsync", "resync", "all"], c.env(c.client_host))
    if load.returncode:
        raise RuntimeError(f"bcsync resync all failed: {load.stderr[-2000:]}")
    quiet = wait_quiet(c.service(), timeout=300)
    if quiet["quiet_at"] is None:
        raise RuntimeError(f"after the first load Ometria differs from the store: {quiet['drift'][:5]}")
    out: dict[str, Any] = {"initial_load_seconds": round(time.monotonic() - t0, 1)}
    running: list[netns.Host] = c.workers[:1]
    for n in cfg.worker_hosts:
        if len(running) != n:
            netns.stop_together(running)
            running = c.workers[:n]
            c.start_workers(running, cfg.worker_concurrency)
        before = {h.name: c.var.joinpath(f"{h.name}-worker.log").read_text().count(FLUSHED) for h in running}
        say(f"scaleout: storm with {n} worker host(s) ({', '.join(h.name for h in running)})")
        load_average = round(os.getloadavg()[0], 2)  # what else the machine was doing meanwhile
        result = storm_on(c.service(), cfg.storm)
        result["load_average"] = load_average
        result["batches_per_worker"] = {
            h.name: c.var.joinpath(f"{h.name}-worker.log").read_text().count(FLUSHED) - before[h.name]
            for h in running
        }
        out[f"workers_{n}"] = result
        say(
            f"scaleout: {n} worker host(s): quiet after {result['quiescence_seconds']} s, "
            f"batches per host {result['batches_per_worker']}, drift {result['drift_count']}"
        )
    netns.stop_together([*running, c.beat, c.webs[0]])
    return out


def _loadgen(
    host: netns.Host, target: netns.Host, connections: int, cfg: ScaleConfig, seed: int
) -> subprocess.Popen:
    count = int((cfg.ingest_seconds + cfg.ingest_warmup) * 2000) + 2000  # more than a host answers here
    argv = [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--host",
        target.ip,
        "--port",
        str(netns.WEB_PORT),
        "--concurrency",
        str(connections),
        "--duration",
        str(cfg.ingest_seconds),
        "--warmup",
        str(cfg.ingest_warmup),
        "--count",
        str(count),
        "--seed",
        str(seed),
    ]
    return subprocess.Popen(
        host.argv(argv),
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ingest_round(c: Cluster, n: int, cfg: ScaleConfig, seed: int) -> dict[str, Any]:
    per = cfg.ingest_connections // n
    gens = [_loadgen(c.client_host, web, per, cfg, seed * 10 + i) for i, web in enumerate(c.webs[:n])]
    results = []
    for gen in gens:
        stdout, stderr = gen.communicate(timeout=cfg.ingest_seconds + cfg.ingest_warmup + 180)
        if gen.returncode:
            raise RuntimeError(f"load generator failed: {stderr.strip()[-500:]}")
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    if any(r.get("ran_out") for r in results):
        raise RuntimeError("a load generator ran out of requests before the end of its window")
    return {
        "load_average": round(os.getloadavg()[0], 2),
        "per_second": round(sum(r["per_second"] for r in results), 1),
        "per_host": [r["per_second"] for r in results],
        "requests": sum(r["requests"] for r in results),
        "p50_ms": max(r["p50_ms"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
        "non_2xx": sum(r["non_2xx"] for r in results),
    }


def ingest_cases(c: Cluster, cfg: ScaleConfig) -> dict[str, Any]:
    for web in c.webs[: max(cfg.web_hosts)]:
        c.start_web(web, WEB_CONCURRENCY=str(cfg.web_concurrency))
    rounds: dict[int, list[dict[str, Any]]] = {n: [] for n in cfg.web_hosts}
    for i in range(cfg.ingest_rounds):
        for k, n in enumerate(cfg.web_hosts):
            r = ingest_round(c, n, cfg, seed=i * len(cfg.web_hosts) + k)
            rounds[n].append(r)
            say(
                f"scaleout: ingest round {i + 1}, {n} web host(s): {r['per_second']:.0f} webhooks/s "
                f"{r['per_host']}, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
                f"non-2xx {r['non_2xx']}; load average {r['load_average']}"
            )
            time.sleep(0.5)
    netns.stop_together(c.webs)
    out: dict[str, Any] = {}
    for n, rs in rounds.items():
        out[f"webs_{n}"] = {
            "per_second": round(sum(r["per_second"] for r in rs) / len(rs), 1),  # the rounds' mean
            "p50_ms": sorted(r["p50_ms"] for r in rs)[len(rs) // 2],
            "p99_ms": max(r["p99_ms"] for r in rs),
            "non_2xx": sum(r["non_2xx"] for r in rs),
            "rounds": rs,
        }
    return out


def run_scaleout(cfg: ScaleConfig, var: Path | None = None) -> dict[str, Any]:
    reason = netns.unavailable() or netns.missing_services()
    if reason:
        say(f"scaleout: skipped — {reason}")
        return {"skipped": reason}
    var = var or work_dir("scaleout")
    with ExitStack() as ctx:
        say("scaleout: building the simulated hosts (db, sandbox, web x2, worker x3, beat, client)")
        cluster = Cluster(ctx, var, cfg)
        say(f"scaleout: hosts {', '.join(f'{h.name} {h.ip}' for h in cluster.net.hosts.values())}")
        storm = storm_cases(cluster, cfg)
        ingest = ingest_cases(cluster, cfg)
        head = cluster.deployment.head()
    one, many = storm[f"workers_{cfg.worker_hosts[0]}"], storm[f"workers_{cfg.worker_hosts[-1]}"]
    w1, w2 = ingest[f"webs_{cfg.web_hosts[0]}"], ingest[f"webs_{cfg.web_hosts[-1]}"]
    q1, qn = one["quiescence_seconds"], many["quiescence_seconds"]
    return {
        "config": asdict(cfg),
        "commit": head,
        "storm": storm,
        "ingest": ingest,
        "storm_speedup": round(q1 / qn, 2) if q1 and qn else None,
        "ingest_speedup": round(w2["per_second"] / w1["per_second"], 2) if w1["per_second"] else None,
        "cores": os.cpu_count(),
    }


def run(quick: bool = False) -> dict[str, Any]:
    return {**run_scaleout(QUICK if quick else FULL), "quick": quick}
