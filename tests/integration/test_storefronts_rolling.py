"""The rolling resync (issue 12): what fires no webhook (an image) or whose callback was lost (a price-list
record) arrives within SYNC_ROLLING_HOURS, the walk spread evenly over the period and held within its
share of the quota. In-process Syncer against the two-channel sandbox, the clock given to each tick."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.server import start_sandbox
from tests.harness import drift
from tests.integration.test_storefronts_e2e import FR, UK, expected
from workers import settings as S
from workers.store.migrate import upgrade
from workers.sync.flush import Syncer
from workers.sync.rolling import hourly_allowance

pytestmark = pytest.mark.timeout(300)


def make_syncer(sb, tmp_path: Path, share: float = 0.2) -> Syncer:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'bcsync.db'}"
    upgrade(db)
    store = S.StoreConfig(
        store_hash=S.SANDBOX_STORE_HASH,
        access_token=S.SANDBOX_ACCESS_TOKEN,
        webhook_secret=S.SANDBOX_WEBHOOK_SECRET,
        api_url=sb.bc_url,
        ometria_api_key=S.SANDBOX_OMETRIA_KEY,
        ometria_api_url=sb.ometria_url,
        ometria_push_rate=50,
        channel_ids=(1, 2),
        ometria_store_ids={1: UK, 2: FR},
        metafield_namespaces=("ometria",),
    )
    settings = S.Settings(
        stores={store.store_hash: store},
        database_url=db,
        broker_url="filesystem://",
        var_dir=tmp_path,
        rolling_hours=1.0,
        rolling_share=share,
    )
    return Syncer(settings, store, lease_seconds=60)


def product_pages(sb) -> int:  # type: ignore[no-untyped-def]
    return sum(sb.client().counters()["calls"].get("GET /catalog/products", {}).values())


def test_a_lap_spreads_over_the_period_and_brings_what_fired_nothing(tmp_path: Path) -> None:
    with start_sandbox(
        products=700, seed=8, plan="unlimited", currency="GBP", channels=2, channel_currencies={2: "EUR"},
        price_lists=2,
    ) as sb:  # fmt: skip
        syncer = make_syncer(sb, tmp_path)
        syncer.resync_all()
        store = sb.store
        on_two = [p for p in store.channel_product_ids(2) if p in set(store.channel_product_ids(1))]
        assert not store.apply({"op": "add_image", "product_id": on_two[0], "is_thumbnail": True}).events
        record = store.price_records(1, currencies=["EUR"])[0]
        lost = {"price_list_id": 1, "variant_id": record["variant_id"], "currency": "EUR", "price": 1.23}
        store.apply({"op": "set_price_record", **lost})  # its callback is lost: nothing is marked dirty
        assert drift(expected(sb), sb.client().records())  # Ometria is behind
        sb.client().reset_counters()
        start = 1_000_000.0
        assert syncer.rolling_step(now=start).products == 0  # a lap begins
        half = syncer.rolling_step(now=start + 1800)
        assert 350 <= half.products < 700 and product_pages(sb) == half.pages  # about half, not all
        rest = syncer.rolling_step(now=start + 3600)
        assert half.products + rest.products == 700 and rest.laps_done == 1
        assert half.calls + rest.calls == 2 * (half.pages + rest.pages)  # a page + one price list in use
        assert drift(expected(sb), sb.client().records()) == []
        assert rest.pushed + half.pushed < 20  # deltas only


def test_the_walk_stays_within_its_share_of_the_quota(tmp_path: Path) -> None:
    share = 5 / ((150 - 10) * 120)  # five calls an hour on the Standard quota, 10 reserved
    assert hourly_allowance(150, 10, share) == 5
    with start_sandbox(products=700, seed=8, plan="standard", channels=2, price_lists=2) as sb:
        syncer = make_syncer(sb, tmp_path, share=share)
        syncer.resync_all()
        sb.client().reset_counters()
        start = 2_000_000.0
        syncer.rolling_step(now=start)
        capped = syncer.rolling_step(now=start + 3500)  # nearly all is due, five calls allowed
        assert capped.waiting_for_quota and capped.calls == 4 and capped.pages == 2
        assert syncer.rolling_step(now=start + 3550).calls == 0  # the hour's allowance is spent
        later = syncer.rolling_step(now=start + 3600 + 10)  # a new hour
        assert later.calls > 0 and later.products > 0
