"""Storefronts (issue 12), on a store with two channels (GBP primary; EUR with a price list for some
variants and conversion for the rest):

- mapping on one core: at least 5,000 products/s. The products are the sandbox store's own
  (`Store(channels=2, channel_currencies={2: "EUR"}, price_lists=2)`), rendered with
  include=variants,images,custom_fields,channels, mapped by workers.domain.mapping.map_product;
- a two-channel storm: M distinct products changed in the store (catalogue prices, and price-list
  records of some of them), each change's callbacks read by the receiver's own parser
  (consumer.webhooks.callbacks) and recorded as the receiver would, then flushed by an in-process
  Syncer (SQLite) until nothing is dirty. BigCommerce calls <= 1.25 x ceil(M/250) x (1 + price
  lists in use) + the lookups; Ometria requests <= 1.1 x ceil(changed records / 100);
- an hour of the rolling resync (a tick a minute, 6 h lap) as a share of the Standard quota;
- two stores on one BigCommerce and one Ometria host, one Syncer thread each: the healthy store's
  quiescence beside a store whose Ometria key is revoked, against its quiescence alone (<= x1.2).

`.venv/bin/python -m bench storefronts [--quick]` runs this section alone."""

from __future__ import annotations

import math
import random
import time
from typing import Any

from bench.common import say, work_dir
from sandbox.store import Store
from workers.domain.mapping import Channel, MappingContext, map_product

INCLUDES = ("variants", "images", "custom_fields", "channels")


def two_channel_context(store: Store) -> tuple[MappingContext, dict]:
    """The context and price-list records the service builds for this store (every record of the
    list channel 2 uses, keyed (list, variant, CURRENCY))."""
    rates = {c["currency_code"]: c for c in store.currencies()}
    default = next(code for code, c in rates.items() if c["is_default"])
    channels = []
    for ch in store.channels():
        cid = ch["id"]
        code = ch["currencies"]["default_currency"]
        rate = None if code == default else float(rates[code]["currency_exchange_rate"])
        places = int(rates[code].get("decimal_places", 2))
        channels.append(
            Channel(cid, "", store.site(cid)["url"], code, rate, places, store.effective_price_list(cid))
        )
    prices: dict = {}
    for ch in channels:
        if ch.price_list_id is not None:
            for r in store.price_records(ch.price_list_id):
                key = (ch.price_list_id, r["variant_id"], r["currency"].upper())
                prices[key] = (r.get("price"), r.get("sale_price"))
    names = {int(c["category_id"]): c["name"] for c in store.category_tree()}
    ctx = MappingContext(
        currency=default,
        site_url=channels[0].site_url,
        store_id="",
        category_names=names,
        brand_names={},
        channels=tuple(channels),
        categories=frozenset(names),
    )
    return ctx, prices


def run(quick: bool = False) -> dict[str, Any]:
    size = 2_000 if quick else 10_000
    say(f"storefronts: generating {size:,} products on two channels")
    store = Store(size, seed=3, currency="GBP", channels=2, channel_currencies={2: "EUR"}, price_lists=2)
    store.wait_ready(600)
    products = []
    for offset in range(0, size, 250):
        products += store.query_products(limit=250, offset=offset, includes=INCLUDES)[1]
    ctx, prices = two_channel_context(store)
    best = 0.0
    records = 0
    for _round in range(3):
        cpu = time.process_time()
        records = sum(len(map_product(p, ctx, prices)) for p in products)
        spent = max(time.process_time() - cpu, 1e-9)
        best = max(best, len(products) / spent)
    say(f"storefronts: mapping {best:,.0f} products/s per core ({records:,} records)")
    return {
        "quick": quick,
        "products": len(products),
        "records": records,
        "price_records": len(prices),
        "mapping_per_s": round(best),
        "storm": storm(quick),
        "two_stores": two_stores(quick),
    }


def rolling_hour(syncer: Any, client: Any) -> dict[str, Any]:
    """An hour of the rolling resync (a tick a minute, the clock simulated), SYNC_ROLLING_HOURS=6: its
    BigCommerce calls as a share of the Standard quota left after the reserve (150 - 10 per 30 s), and
    the same share for a 100,000-product catalogue (ceil(100,000/250) pages a lap)."""
    from workers.sync.rolling import hourly_allowance

    client.reset_counters()
    start, calls, products = 5_000_000.0, 0, 0
    for minute in range(61):
        report = syncer.rolling_step(now=start + 60 * minute)
        calls, products = calls + report.calls, products + report.products
    measured = sum(sum(v.values()) for v in client.counters().get("calls", {}).values())
    standard = (150 - 10) * 120
    from workers.sync.storefronts import price_lists_in_use

    lists = len(price_lists_in_use(syncer.context()))
    per_lap_100k = math.ceil(100_000 / 250) * (1 + lists)
    return {
        "hours": syncer.settings.rolling_hours,
        "products": products,
        "calls": calls,
        "calls_seen_by_sandbox": measured,
        "share_of_standard": calls / standard,
        "share_100k": per_lap_100k / syncer.settings.rolling_hours / standard,
        "allowance": hourly_allowance(150, 10, syncer.settings.rolling_share),
    }


LOOKUP_PREFIXES = ("/catalog/trees", "/catalog/categories", "/catalog/brands", "/channels", "/store")


def storm(quick: bool = False) -> dict[str, Any]:
    """The two-channel storm (module docstring)."""
    from consumer.webhooks.callbacks import change_for, parse_envelope
    from sandbox.server import start_sandbox
    from workers import settings as S
    from workers.store import storage
    from workers.store.migrate import upgrade
    from workers.sync.flush import Syncer, drain

    size, changed_products = (600, 300) if quick else (3_000, 2_000)
    var = work_dir("storefronts")
    db = f"sqlite:///{var / 'bcsync.db'}"
    upgrade(db)
    with start_sandbox(
        products=size,
        seed=5,
        plan="unlimited",
        currency="GBP",
        channels=2,
        channel_currencies={2: "EUR"},
        price_lists=2,
    ) as sb:
        store_cfg = S.StoreConfig(
            store_hash=S.SANDBOX_STORE_HASH,
            access_token=S.SANDBOX_ACCESS_TOKEN,
            webhook_secret=S.SANDBOX_WEBHOOK_SECRET,
            api_url=sb.bc_url,
            ometria_api_key=S.SANDBOX_OMETRIA_KEY,
            ometria_api_url=sb.ometria_url,
            ometria_push_rate=50,
            channel_ids=(1, 2),
        )
        settings = S.Settings(
            stores={store_cfg.store_hash: store_cfg}, database_url=db, broker_url="filesystem://", var_dir=var
        )
        syncer = Syncer(settings, store_cfg, lease_seconds=120)
        say(f"storefronts storm: first load of {size:,} products (two channels)")
        syncer.resync_all()
        client, store = sb.client(), sb.store
        before = client.records()
        in_use = len({pl for pl in (store.effective_price_list(1), store.effective_price_list(2)) if pl})
        rng = random.Random(5)
        chosen = rng.sample(store.product_ids(), changed_products)
        events: list[tuple[str, Any]] = []
        on_two = set(store.channel_product_ids(2))
        for i, pid in enumerate(chosen):
            product = store.get_product(pid, ["variants"])
            if i % 3 == 2 and pid in on_two:
                vid = product["variants"][0]["id"]
                result = store.apply(
                    {
                        "op": "set_price_record",
                        "price_list_id": 1,
                        "variant_id": vid,
                        "currency": "EUR",
                        "price": round(10 + rng.random() * 90, 2),
                    }
                )
            else:
                result = store.apply(
                    {
                        "op": "update_product",
                        "product_id": pid,
                        "fields": {"price": round(float(product["price"]) + 1.0, 2)},
                    }
                )
            events += [(e["scope"], e["data"]) for e in result.events]
        client.reset_counters()
        om_before = client.ometria_stats()
        started = time.monotonic()
        with storage.session_scope(db) as s:
            for scope, data in events:
                envelope = {"scope": scope, "producer": f"stores/{store_cfg.store_hash}", "data": data}
                change = change_for(parse_envelope(envelope))
                if change is not None:
                    storage.mark_dirty(s, store_cfg.store_hash, change.entity, change.ids)
        while True:
            reports = list(drain(syncer, time.time() + 600))
            with storage.session_scope(db) as s:
                if not storage.dirty_counts(s) or not reports:
                    break
        seconds = time.monotonic() - started
        counters = client.counters()
        om_after = client.ometria_stats()
        after = client.records()
        rolling = rolling_hour(syncer, client)
    calls = lookups = 0
    for key, per_status in counters.get("calls", {}).items():
        n = sum(per_status.values())
        calls += n
        endpoint = key.split(" ", 1)[-1]
        if endpoint.startswith(LOOKUP_PREFIXES) or endpoint in (
            "/pricelists",
            "/pricelists/assignments",
            "/currencies",
        ):
            lookups += n
    changed = sum(1 for rid, record in after.items() if before.get(rid) != record)
    minimum = math.ceil(changed_products / 250) * (1 + in_use)
    out = {
        "products": changed_products,
        "callbacks": len(events),
        "price_lists_in_use": in_use,
        "bc_calls": calls,
        "lookups": lookups,
        "bc_minimum": minimum,
        "bc_bound": 1.25 * minimum + lookups,
        "ometria_requests": om_after["pushes"] - om_before["pushes"],
        "records": om_after["records_received"] - om_before["records_received"],
        "changed_records": changed,
        "ometria_minimum": math.ceil(changed / 100),
        "seconds": round(seconds, 1),
        "calls_by_endpoint": counters.get("calls", {}),
        "rolling": rolling,
    }
    say(
        f"storefronts storm: {changed_products:,} products, {len(events):,} callbacks; "
        f"BigCommerce {calls} calls ({lookups} lookups; bound {out['bc_bound']:.0f}), "
        f"Ometria {out['ometria_requests']} requests for "
        f"{changed:,} changed records (minimum {out['ometria_minimum']}) in {seconds:.1f} s"
    )
    return out


def two_stores(quick: bool = False) -> dict[str, Any]:
    """Two stores behind one BigCommerce and one Ometria host, one Syncer thread each (two workers):
    the first store's storm flushed alone, then again while the second store's Ometria key is
    revoked and its own changes fail. The healthy store's time to quiescence beside its time alone
    (issue 12: within 20 %), each account checked against its own store."""
    import threading

    from consumer.webhooks.callbacks import change_for, parse_envelope
    from sandbox.multi import start_multi_sandbox
    from workers import settings as S
    from workers.store import storage
    from workers.store.migrate import upgrade
    from workers.sync.flush import Syncer, drain

    size_a, size_b, changed = (600, 300, 300) if quick else (3_000, 1_500, 1_500)
    var = work_dir("storefronts-two")
    db = f"sqlite:///{var / 'bcsync.db'}"
    upgrade(db)
    multi = start_multi_sandbox(
        {
            "storea": {"products": size_a, "seed": 3, "channels": 2, "channel_currencies": {2: "EUR"},
                       "price_lists": 2},
            "storeb": {"products": size_b, "seed": 4},
        },
        plan="unlimited",
        currency="GBP",
    )  # fmt: skip
    try:
        stores = {
            sh: S.StoreConfig(
                store_hash=sh,
                access_token=multi[sh].access_token,
                webhook_secret=multi[sh].webhook_secret,
                api_url=multi.bc_url,
                ometria_api_key=multi[sh].ometria_key,
                ometria_api_url=multi.ometria_url,
                ometria_push_rate=50,
                channel_ids=(1, 2) if sh == "storea" else (1,),
            )
            for sh in ("storea", "storeb")
        }
        settings = S.Settings(stores=stores, database_url=db, broker_url="filesystem://", var_dir=var)
        syncers = {sh: Syncer(settings, store, lease_seconds=120) for sh, store in stores.items()}
        say(f"storefronts two stores: first load of {size_a:,} + {size_b:,} products")
        for syncer in syncers.values():
            syncer.resync_all()

        def change(sh: str, ids: list[int], bump: float) -> None:
            store = multi[sh].store
            with storage.session_scope(db) as s:
                for pid in ids:
                    price = round(float(store.get_product(pid, [])["price"]) + bump, 2)
                    result = store.apply(
                        {"op": "update_product", "product_id": pid, "fields": {"price": price}}
                    )
                    for e in result.events:
                        found = change_for(parse_envelope({"scope": e["scope"], "producer": f"stores/{sh}",
                                                           "data": e["data"]}))  # fmt: skip
                        if found is not None:
                            storage.mark_dirty(s, sh, found.entity, found.ids)

        def dirty(sh: str) -> int:
            with storage.session_scope(db) as s:
                return sum(n for (store_hash, _e), n in storage.dirty_counts(s).items() if store_hash == sh)

        def quiesce(sh: str) -> float:
            started = time.monotonic()
            while dirty(sh):
                list(drain(syncers[sh], time.time() + 600))
            return time.monotonic() - started

        ids_a = multi["storea"].store.product_ids()[:changed]
        change("storea", ids_a, 1.0)
        alone = quiesce("storea")
        multi.client("storeb").ometria_config(api_key="revoked")
        b_before = multi.client("storeb").records()
        change("storea", ids_a, 1.0)
        change("storeb", multi["storeb"].store.product_ids()[: changed // 2], 1.0)
        stop = threading.Event()

        def unhealthy() -> None:
            while not stop.is_set():
                if not syncers["storeb"].paused():
                    list(drain(syncers["storeb"], time.time() + 60))
                stop.wait(0.2)

        thread = threading.Thread(target=unhealthy, daemon=True)
        thread.start()
        beside = quiesce("storea")
        stop.set()
        thread.join(30)
        a_records = multi.client("storea").records()
        crossed = sum(1 for rid, r in multi.client("storeb").records().items() if b_before.get(rid) != r)
        a_stores = {x["store"] for r in a_records.values() for x in r.get("listings") or ()}
    finally:
        multi.stop()
    out = {
        "products": changed,
        "alone_seconds": round(alone, 2),
        "beside_revoked_seconds": round(beside, 2),
        "ratio": round(beside / max(alone, 1e-9), 3),
        "b_paused": True,
        "b_records_changed": crossed,
        "a_listing_stores": sorted(a_stores),
    }
    say(
        f"storefronts two stores: {changed:,} products quiet in {alone:.1f} s alone, {beside:.1f} s beside a "
        f"store with a revoked key (x{out['ratio']}); that store's account changed {crossed} record(s)"
    )
    return out
