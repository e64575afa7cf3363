"""Several stores for real (issue 12): two stores behind one BigCommerce host and one Ometria host, each
with its own channels and store ids. A storm of changes on the first store while the second store's
Ometria key is revoked: the first account ends equal to its store, the second store pauses instead
of spinning, no record crosses over; once its key works again, the second account ends equal to its
own store. In-process Syncers on one database (the same code the workers run)."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest

from consumer.webhooks.callbacks import change_for, parse_envelope
from sandbox.multi import MultiSandbox, start_multi_sandbox
from workers import settings as S
from workers.domain.mapping import Channel, MappingContext, map_product
from workers.store import storage
from workers.store.migrate import upgrade
from workers.store.storage import session_scope
from workers.sync.flush import Syncer, drain

pytestmark = pytest.mark.timeout(300)

INCLUDES = ("variants", "images", "custom_fields", "channels")
STORE_IDS = {"storea": {1: "uk.a.example", 2: "fr.a.example"}, "storeb": {1: "shop.b.example"}}


def expected(multi: MultiSandbox, store_hash: str) -> dict[str, dict]:
    store = multi[store_hash].store
    rates = {c["currency_code"]: c for c in store.currencies()}
    default = next(code for code, c in rates.items() if c["is_default"])
    channels = []
    for cid, store_id in STORE_IDS[store_hash].items():
        code = store.currency_assignments(cid)[0]["default_currency"]
        rate = None if code == default else float(rates[code]["currency_exchange_rate"])
        channels.append(
            Channel(
                cid,
                store_id,
                store.site(cid)["url"],
                code,
                rate,
                rates[code]["decimal_places"],
                store.effective_price_list(cid),
            )
        )
    prices = {
        (ch.price_list_id, r["variant_id"], r["currency"].upper()): (r.get("price"), r.get("sale_price"))
        for ch in channels
        if ch.price_list_id is not None
        for r in store.price_records(ch.price_list_id)
    }
    names = {int(c["category_id"]): c["name"] for c in store.category_tree()}
    ctx = MappingContext(
        currency=default,
        site_url=channels[0].site_url,
        store_id=channels[0].store_id,
        category_names=names,
        brand_names={int(b["id"]): b["name"] for b in store.brands()},
        channels=tuple(channels),
        categories=frozenset(names),
    )
    out = {}
    for offset in range(0, len(store.product_ids()), 250):
        for p in store.query_products(limit=250, offset=offset, includes=INCLUDES)[1]:
            for record in map_product(p, ctx, prices):
                out[record["id"]] = record
    return out


def differences(want: dict[str, dict], have: dict[str, dict]) -> list[str]:
    problems = [
        f"{rid}.{key}"
        for rid, record in want.items()
        for key, value in record.items()
        if not key.startswith("@") and (have.get(rid) or {}).get(key) != value
    ]
    return problems + [f"{rid}: not the store's" for rid in have if rid not in want]


def change(multi: MultiSandbox, store_hash: str, db: str, product_ids: list[int], seed: int) -> None:
    """Change the products' prices, and record their callbacks as the receiver would."""
    rng = random.Random(seed)
    store = multi[store_hash].store
    with session_scope(db) as s:
        for pid in product_ids:
            price = round(5 + rng.random() * 100, 2)
            result = store.apply({"op": "update_product", "product_id": pid, "fields": {"price": price}})
            for event in result.events:
                envelope = {
                    "scope": event["scope"],
                    "producer": f"stores/{store_hash}",
                    "data": event["data"],
                }
                found = change_for(parse_envelope(envelope))
                if found is not None:
                    storage.mark_dirty(s, store_hash, found.entity, found.ids)


def flush(syncer: Syncer) -> Any:
    reports = []
    for _ in range(20):
        if syncer.paused():
            break
        batch = list(drain(syncer, time.time() + 60))
        reports += batch
        if not batch:
            break
    return reports


def test_a_storm_on_one_store_and_a_revoked_key_on_the_other(tmp_path: Path) -> None:
    multi = start_multi_sandbox(
        {
            "storea": {"products": 300, "seed": 3, "channels": 2, "channel_currencies": {2: "EUR"},
                       "price_lists": 2},
            "storeb": {"products": 120, "seed": 4},
        },
        plan="unlimited",
        currency="GBP",
    )  # fmt: skip
    try:
        db = f"sqlite:///{tmp_path / 'bcsync.db'}"
        upgrade(db)
        stores = {
            sh: S.StoreConfig(
                store_hash=sh,
                access_token=multi[sh].access_token,
                webhook_secret=multi[sh].webhook_secret,
                api_url=multi.bc_url,
                ometria_api_key=multi[sh].ometria_key,
                ometria_api_url=multi.ometria_url,
                ometria_push_rate=50,
                channel_ids=tuple(STORE_IDS[sh]),
                ometria_store_ids=STORE_IDS[sh],
            )
            for sh in ("storea", "storeb")
        }
        settings = S.Settings(stores=stores, database_url=db, broker_url="filesystem://", var_dir=tmp_path)
        syncers = {sh: Syncer(settings, store, lease_seconds=60) for sh, store in stores.items()}
        for syncer in syncers.values():
            syncer.resync_all()
        for sh in syncers:
            assert differences(expected(multi, sh), multi.client(sh).records()) == [], sh
        b_before = multi.client("storeb").records()

        multi.client("storeb").ometria_config(api_key="rotated-key")  # store B's key no longer works
        change(multi, "storea", db, multi["storea"].store.product_ids()[:200], seed=1)
        change(multi, "storeb", db, multi["storeb"].store.product_ids()[:30], seed=2)
        a_reports, b_reports = flush(syncers["storea"]), flush(syncers["storeb"])

        assert sum(r.pushed for r in a_reports) > 200 and not any(r.error for r in a_reports)
        assert differences(expected(multi, "storea"), multi.client("storea").records()) == []
        assert syncers["storeb"].paused() > 0  # a bad key pauses the store instead of spinning
        assert any(r.error and "ConfigurationError" in r.error for r in b_reports)
        assert multi.client("storeb").records() == b_before  # nothing of store A's went there
        with session_scope(db) as s:
            assert storage.dirty_counts(s) == {("storeb", "product"): 30}

        multi.client("storeb").ometria_config(api_key=multi["storeb"].ometria_key)  # the key works again
        with session_scope(db) as s:  # what `bcsync resume` would do: end the pause, retry now
            storage.pause_store(s, "storeb", 0.0, "")
            s.execute(
                storage.update(storage.Dirty).where(storage.Dirty.store_hash == "storeb").values(not_before=0)
            )
        flush(syncers["storeb"])
        assert differences(expected(multi, "storeb"), multi.client("storeb").records()) == []
        assert differences(expected(multi, "storea"), multi.client("storea").records()) == []
        a_ids, b_ids = set(multi.client("storea").records()), set(multi.client("storeb").records())
        a_stores = {
            x["store"] for r in multi.client("storea").records().values() for x in r.get("listings") or ()
        }
        b_stores = {
            x["store"] for r in multi.client("storeb").records().values() for x in r.get("listings") or ()
        }
        assert a_stores == {"uk.a.example", "fr.a.example"} and b_stores == {"shop.b.example"}
        assert a_ids and b_ids
    finally:
        multi.stop()
