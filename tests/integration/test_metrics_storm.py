"""GET /metrics adds up (issue 10): a storm through the production web shape (`python infra/web.py`:
nginx in front of 2 single-process gunicorns) and 2 Celery worker processes, after a first load by
`bcsync resync all` (whose counts reach /metrics when the command ends), with faults injected in both
APIs (BigCommerce 429s on catalogue calls, Ometria 429s and 5xx: retried, counted alike on both
sides). Then every counter /metrics shows equals what the sandbox counted (callbacks delivered,
BigCommerce calls and 429s, Ometria requests and records), and two scrapes a second apart while idle
agree on every counter.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import psutil
import pytest
import requests

from sandbox.server import start_sandbox
from tests import deploy
from tests.harness import Stack, service_env, wait_until
from tests.integration.test_metrics import TOKEN, Samples, _spawn_web, counters_only, parse, total
from tests.services import fresh_pg_database, redis_url
from workers.store import storage

pytestmark = pytest.mark.services

CALLBACKS = 1500
PRODUCTS = 600  # of the store's 800: 3 catalogue calls of 250 at the least


# --- the storm -------------------------------------------------------------------------------------


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[tuple[Stack, object]]:
    deploy.need_nginx()
    with ExitStack() as stack_ctx:
        sb = start_sandbox(products=800, seed=5, plan="standard")
        stack_ctx.callback(sb.stop)
        db = stack_ctx.enter_context(fresh_pg_database())
        env = service_env(
            bc_url=sb.bc_url,
            ometria_url=sb.ometria_url,
            db_url=db,
            broker_url=redis_url(),
            var_dir=tmp_path,
            queue=f"bcsync-{uuid.uuid4().hex[:8]}",
            METRICS_TOKEN=TOKEN,
        )
        stack = Stack(env=env, var_dir=tmp_path)
        stack_ctx.callback(stack.stop)
        _spawn_web(stack, concurrency=2)
        stack.start_worker("worker1", concurrency=1)
        stack.start_worker("worker2", concurrency=1)
        sb.register_hooks(stack.hook_url)
        yield stack, sb


def scrape(stack: Stack) -> Samples:
    response = requests.get(
        f"{stack.web_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert response.status_code == 200, response.text[:500]
    return parse(response.text)


def test_after_a_storm_every_counter_equals_what_the_sandbox_counted(deployed) -> None:  # type: ignore[no-untyped-def]
    stack, sb = deployed
    client = sb.client()
    assert requests.get(f"{stack.web_url}/metrics", timeout=5).status_code == 401  # through nginx, no token
    masters = [
        p for p in psutil.Process(stack.procs["web"].pid).children() if p.cmdline()[1:3] == ["-m", "gunicorn"]
    ]
    assert len(masters) == 2

    # a first load by `bcsync resync all` (its requests reach /metrics when the command ends), then the storm
    loaded = stack.bcsync("resync", "all")
    resync_records = float(re.search(r"(\d+) pushed", loaded.stdout).group(1))  # type: ignore[union-attr]
    assert resync_records > 0
    # meanwhile both APIs refuse some requests (429s; Ometria 5xx too): retried, counted alike on both sides
    client.faults(rate=0.6, kinds=["429"], paths="/catalog/products")
    client.ometria_faults(rate=0.25, kinds=["429", "500"])
    fired = client.storm(callbacks=CALLBACKS, products=PRODUCTS, seed=3)
    assert fired["callbacks"] == CALLBACKS
    db = stack.env["DATABASE_URL"]

    def quiet() -> bool:
        if not client.wait_deliveries(timeout=5).get("idle"):
            return False
        with storage.session_scope(db) as s:
            return not storage.dirty_counts(s)

    try:
        wait_until(quiet, 180, interval=1, what="the storm to be delivered and flushed")
    except AssertionError as exc:
        pytest.fail(
            f"{exc}\n{client.deliveries()}\n--- worker1 ---\n{stack.logs('worker1')[-2500:]}"
            f"\n--- web ---\n{stack.logs('web')[-2500:]}"
        )

    def compare() -> list[str]:
        samples = scrape(stack)
        deliveries, bc, om_calls, om = (
            client.deliveries(),
            client.counters(),
            client.ometria_counters(),
            client.ometria_stats(),
        )
        pairs = {
            "callbacks answered": (total(samples, "bcsync_webhooks_total"), deliveries["attempts"]),
            "callbacks accepted": (
                sum(
                    total(samples, "bcsync_webhooks_total", outcome=o)
                    for o in ("recorded", "replayed", "ignored")
                ),
                deliveries["delivered"],
            ),
            "BigCommerce calls": (total(samples, "bcsync_bigcommerce_requests_total"), bc["total"]),
            "BigCommerce 429s": (
                total(samples, "bcsync_bigcommerce_requests_total", status="429"),
                bc["by_status"].get("429", 0),
            ),
            "Ometria requests": (total(samples, "bcsync_ometria_requests_total"), om_calls["total"]),
            "Ometria 429s": (
                total(samples, "bcsync_ometria_requests_total", status="429"),
                om_calls["by_status"].get("429", 0),
            ),
            "Ometria records accepted": (
                total(samples, "bcsync_ometria_records_total", outcome="accepted"),
                om["accepted"],
            ),
            "Ometria records rejected": (
                total(samples, "bcsync_ometria_records_total", outcome="rejected"),
                om["rejected"],
            ),
            "records pushed (flushes and the resync)": (
                total(samples, "bcsync_flush_records_total") + resync_records,
                om["records_received"],
            ),
        }
        print("; ".join(f"{what} {mine:g}/{theirs:g}" for what, (mine, theirs) in pairs.items()))
        return [
            f"{what}: /metrics {mine:g}, sandbox {theirs:g}"
            for what, (mine, theirs) in pairs.items()
            if mine != theirs
        ]

    try:
        wait_until(lambda: not compare(), 30, interval=1, what="/metrics to equal the sandbox's counts")
    except AssertionError:
        pytest.fail(
            "\n".join(compare())
            + f"\n--- worker1 ---\n{stack.logs('worker1')[-2500:]}\n--- web ---\n{stack.logs('web')[-1500:]}"
        )
    samples = scrape(stack)
    assert total(samples, "bcsync_webhooks_total") >= CALLBACKS
    refused = sum(
        value
        for (name, labels), value in samples.items()
        if name in ("bcsync_bigcommerce_requests_total", "bcsync_ometria_requests_total")
        and dict(labels)["status"] != "2xx"
    )
    assert refused > 0  # the faults were met (and counted alike on both sides)
    # the sandbox's fault dice are seeded: at least one of the storm's ≥ 3 catalogue calls is a 429
    assert total(samples, "bcsync_bigcommerce_requests_total", status="429") > 0
    assert total(samples, "bcsync_bigcommerce_requests_total") > 0
    assert total(samples, "bcsync_ometria_records_total", outcome="accepted") > 0
    flushes = total(samples, "bcsync_flushes_total")
    assert flushes > 0 and total(samples, "bcsync_flush_seconds_count") == flushes
    assert total(samples, "bcsync_flush_products_total") >= fired["products"]
    assert total(samples, "bcsync_webhook_ack_seconds_count") == total(samples, "bcsync_webhooks_total")
    assert ("bcsync_bigcommerce_quota_remaining", (("store", "sandbox1"),)) in samples
    assert total(samples, "bcsync_failed_tasks", store="sandbox1") == 0

    # one family per name (a second TYPE line for a name makes Prometheus reject the whole scrape)
    text = requests.get(
        f"{stack.web_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ).text
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(types) == len(set(types)), sorted(t for t in types if types.count(t) > 1)

    # idle: two scrapes a second apart agree on every counter, whichever gunicorn answers each
    first = counters_only(scrape(stack))
    time.sleep(1)
    second = counters_only(scrape(stack))
    assert first == second, {
        k: (first.get(k), second.get(k)) for k in set(first) | set(second) if first.get(k) != second.get(k)
    }
