"""The whole path through real processes: a signed callback from the sandbox store → gunicorn →
the database → the broker → a Celery worker → the sandbox Ometria, compared record for record and
field by field with the mapping of the store's current state.

Runs on the three configurations of the contract: the embedded default (SQLite + file-backed
broker), PostgreSQL + Redis, PostgreSQL + RabbitMQ.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from sandbox.server import start_sandbox
from tests.harness import Stack, drift, expected_records, service_env, wait_until
from tests.services import fresh_pg_database, rabbit_url, redis_url
from workers.store import storage
from workers.store.storage import session_scope

pytestmark = pytest.mark.services


@pytest.fixture(params=["embedded", "postgres-redis", "postgres-rabbitmq"])
def running(request, tmp_path) -> Iterator[tuple[Stack, object]]:  # type: ignore[no-untyped-def]
    with ExitStack() as stack_ctx:
        sb = start_sandbox(products=60, seed=7, plan="standard")
        stack_ctx.callback(sb.stop)
        if request.param == "embedded":
            db, broker = f"sqlite:///{tmp_path / 'bcsync.db'}", "filesystem://"
        else:
            db = stack_ctx.enter_context(fresh_pg_database())
            broker = redis_url() if request.param == "postgres-redis" else rabbit_url()
        env = service_env(
            bc_url=sb.bc_url,
            ometria_url=sb.ometria_url,
            db_url=db,
            broker_url=broker,
            var_dir=tmp_path,
            queue=f"bcsync-{uuid.uuid4().hex[:8]}",
        )
        stack = Stack(env=env, var_dir=tmp_path)
        stack_ctx.callback(stack.stop)
        stack.start_web()
        stack.start_worker()
        sb.register_hooks(stack.hook_url)
        yield stack, sb


def settle(stack: Stack, sb, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    """Wait until every callback is delivered, nothing is dirty and Ometria equals the store."""
    client = sb.client()
    db = stack.env["DATABASE_URL"]

    def quiet() -> bool:
        if not client.wait_deliveries(timeout=5).get("idle"):
            return False
        with session_scope(db) as s:
            if storage.dirty_counts(s):
                return False
        return not drift(expected_records(client.snapshot()), client.records())

    try:
        wait_until(quiet, timeout, interval=0.5, what="Ometria to equal the store")
    except AssertionError:
        problems = drift(expected_records(client.snapshot()), client.records())
        pytest.fail(
            f"{len(problems)} differences, e.g. {problems[:5]}\n--- worker log ---\n"
            f"{stack.logs('worker')[-4000:]}\n--- web log ---\n{stack.logs('web')[-2000:]}"
        )


def test_changes_flow_from_store_to_ometria(running) -> None:  # type: ignore[no-untyped-def]
    stack, sb = running
    client = sb.client()

    # first load
    out = stack.bcsync("resync", "all")
    assert out.returncode == 0, out.stderr
    settle(stack, sb)
    records = client.records()
    snapshot = client.snapshot()
    products = snapshot["products"]
    assert len([r for r in records.values() if not r["is_variant"]]) == len(products)
    assert any(r["is_variant"] for r in records.values())

    # a spread of real changes, each delivered as BigCommerce would (signed callbacks)
    with_variants = [p for p in products if any(v.get("option_values") for v in p.get("variants", []))]
    plain = [p for p in products if p not in with_variants]
    target, gone, hidden = plain[0], plain[1], plain[2]
    vprod = with_variants[0]
    variant = next(v for v in vprod["variants"] if v.get("option_values"))
    client.update_product(target["id"], price=123.45, sale_price=99.5, name="Renamed in the store")
    client.mutate("delete_product", product_id=gone["id"])
    client.update_product(hidden["id"], is_visible=False)
    client.mutate(
        "update_variant",
        product_id=vprod["id"],
        variant_id=variant["id"],
        fields={"price": 77.0, "purchasing_disabled": True},
    )
    client.mutate("set_product_inventory", product_id=plain[3]["id"], value=0)
    cat_id = next(c for p in products[5:] for c in p.get("categories", []))
    client.mutate("update_category", category_id=cat_id, name="Renamed category")
    created = client.mutate("create_product", variants=2)
    settle(stack, sb)

    records = client.records()
    parent = records[str(target["id"])]
    assert (parent["price"], parent["special_price"], parent["title"]) == (
        123.45,
        99.5,
        "Renamed in the store",
    )
    assert parent["listings"][0]["price"] == 123.45
    assert records[str(gone["id"])]["is_active"] is False
    assert all(r["is_active"] is False for rid, r in records.items() if rid.startswith(f"{gone['id']}-"))
    assert records[str(hidden["id"])]["is_active"] is False
    vrec = records[f"{vprod['id']}-{variant['id']}"]
    assert (vrec["price"], vrec["is_active"]) == (77.0, False)
    labels = {
        a["label"] for r in records.values() for a in r.get("attributes") or [] if a["type"] == "category"
    }
    assert "Renamed category" in labels
    new_id = str(created["entity"]["id"])
    assert records[new_id]["is_active"] in (True, False) and records[new_id]["title"]


def test_duplicates_and_noise_push_nothing(running) -> None:  # type: ignore[no-untyped-def]
    stack, sb = running
    client = sb.client()
    assert stack.bcsync("resync", "all").returncode == 0
    settle(stack, sb)
    before = client.ometria_stats()
    records_before = client.records()
    products = client.snapshot()["products"][:10]
    for p in products:  # re-deliveries of an unchanged product, and order noise (total_sold)
        client.mutate("replay", scope="store/product/updated", data={"type": "product", "id": p["id"]})
        client.mutate("replay", scope="store/product/updated", data={"type": "product", "id": p["id"]})
        client.mutate("set_total_sold", product_id=p["id"], value=int(p.get("total_sold") or 0) + 5)
    settle(stack, sb)
    wait_until(lambda: "flushed store" in stack.logs("worker"), 10, what="a flush to have run")
    after = client.ometria_stats()
    assert client.records() == records_before
    assert after["pushes"] == before["pushes"], (before, after)
    # and a full resync of the unchanged catalogue pushes nothing either
    assert stack.bcsync("resync", "all").returncode == 0
    assert client.ometria_stats()["pushes"] == before["pushes"]
