"""The event log end to end: a storm of signed callbacks from the sandbox store through the real
receiver (gunicorn) and a real Celery worker, then `bcsync events --product N --json` (the installed
console script) shows every callback BigCommerce sent for N, the flush batch that fetched it after
its last callback, and the Ometria request ids that carried its records — checked against what the
sandbox store fired and what the sandbox Ometria says each request carried."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from consumer.webhooks.callbacks import change_for, parse_envelope
from sandbox.server import start_sandbox
from tests.harness import Stack, drift, expected_records, service_env, wait_until
from workers.store import storage
from workers.store.storage import PRODUCT, session_scope

pytestmark = pytest.mark.services


def _products_of(event: dict) -> tuple[int, ...]:
    envelope = parse_envelope({"scope": event["scope"], "producer": "stores/x", "data": event["data"]})
    change = change_for(envelope)
    return change.ids if change is not None and change.entity == PRODUCT else ()


def test_after_a_storm_events_show_each_callback_its_batch_and_the_request_ids(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sb = start_sandbox(products=40, seed=11, plan="standard")
    stack = Stack(
        env=service_env(
            bc_url=sb.bc_url,
            ometria_url=sb.ometria_url,
            db_url=f"sqlite:///{tmp_path / 'bcsync.db'}",
            broker_url="filesystem://",
            var_dir=tmp_path,
        ),
        var_dir=tmp_path,
    )
    try:
        stack.start_web()
        stack.start_worker()
        assert stack.bcsync("resync", "all").returncode == 0
        sb.register_hooks(stack.hook_url)
        client = sb.client()
        since = client.events()["last_seq"]
        client.storm(callbacks=240, products=12, seed=4)
        db = stack.env["DATABASE_URL"]

        def quiet() -> bool:
            if not client.wait_deliveries(timeout=5).get("idle"):
                return False
            with session_scope(db) as s:
                if storage.dirty_counts(s):
                    return False
            return not drift(expected_records(client.snapshot()), client.records())

        wait_until(quiet, 120, interval=0.5, what="the storm to reach Ometria")
        fired = [e for e in client.events(since=since)["events"] if _products_of(e)]
        per_product = Counter(pid for e in fired for pid in set(_products_of(e)))
        pid, sent = per_product.most_common(1)[0]
        assert sent > 1

        proc = stack.bcsync("events", "--product", str(pid), "--json")
        timeline = json.loads(proc.stdout)
        assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)  # oldest first
        callbacks = [e for e in timeline if e["kind"] == "callback"]
        storm_scopes = Counter(e["scope"] for e in fired if pid in _products_of(e))
        # every callback BigCommerce sent for it, each once, with its webhook-id and scope
        assert Counter(e["detail"]["scope"] for e in callbacks[-sent:]) == storm_scopes
        assert len(callbacks) >= sent
        assert all(e["ref"] for e in callbacks) and len({e["ref"] for e in callbacks}) == len(callbacks)
        assert all(e["product_id"] == pid and e["store"] == sb.store_hash for e in callbacks)

        last_callback = callbacks[-1]["at"]
        batches = [e for e in timeline if e["kind"] == "flush" and e["at"] >= last_callback]
        assert batches, "no flush fetched the product after its last callback"
        assert "GET /v3/catalog/products?id:in=" in batches[-1]["detail"]["call"]
        assert {"changed", "unchanged"} <= set(batches[-1]["detail"])

        carried = {request: set(records) for request, records in sb.account.push_log}
        pushes = [e for e in timeline if e["kind"] == "push"]
        storm_pushes = [e for e in pushes if e["at"] >= callbacks[-sent]["at"]]
        assert storm_pushes, "no push carried the product's records after the storm began"
        flush_batches = {e["ref"] for e in timeline if e["kind"] == "flush"}
        for push in pushes:
            assert push["detail"]["accepted"] is True
            # the request id is Ometria's, and that request carried these records of the product
            assert set(push["detail"]["records"]) <= carried[push["ref"]]
        for push in storm_pushes:  # pushed by a batch that fetched it
            assert push["detail"]["batch"] in flush_batches
        held = client.records()
        for rid in {r for p in storm_pushes for r in p["detail"]["records"]}:
            assert rid in held

        text = stack.bcsync("events", "--product", str(pid)).stdout
        assert "BigCommerce callback store/" in text and "Ometria request " in text
        for secret in (sb.access_token, sb.client_secret, sb.webhook_secret, sb.ometria_key):
            assert secret not in proc.stdout + text
    finally:
        stack.stop()
        sb.stop()
