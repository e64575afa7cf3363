"""Replay protection is keyed by store + a fixed-length digest of the whole `webhook-id` (issue 14):
two stores may send the same id, ids sharing their first 128 characters are different ids, a true
replay is still a replay — through the real receiver on SQLite and PostgreSQL, and in one group
commit. Migration 0007 converts the rows an older database holds, keeping their protection."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from tests.integration.test_group_commit import record_callbacks
from tests.receiver import Receiver, make_receiver, sign, store_config
from tests.services import fresh_pg_database
from workers.store.intake import Callback
from workers.store.migrate import alembic_config, upgrade
from workers.store.storage import PRODUCT, Dirty, get_engine, session_scope, webhook_digest


def _post(receiver: Receiver, store_hash: str, webhook_id: str, product_id: int = 7) -> int:
    store = receiver.settings.stores[store_hash]
    body = json.dumps(receiver.callback(data={"type": "product", "id": product_id}, store_hash=store_hash))
    headers = {
        "Content-Type": "application/json",
        "X-Webhook-Secret": store.webhook_secret,
        **sign(store.client_secret, body.encode(), webhook_id=webhook_id),
    }
    return receiver.client.post("/webhooks/bigcommerce", data=body, headers=headers).status_code


def _dirty(url: str) -> dict[tuple[str, int], int]:
    with session_scope(url) as s:
        return {(r.store_hash, r.entity_id): r.version for r in s.query(Dirty)}


@pytest.fixture
def two_stores(db_url: str) -> Receiver:
    return make_receiver(db_url, extra_stores=(store_config("storeb"),))


def test_two_stores_sharing_a_webhook_id_both_record(two_stores: Receiver) -> None:
    a, b = two_stores.store_hash, "storeb"
    assert _post(two_stores, a, "msg_shared") == 200
    assert _post(two_stores, b, "msg_shared") == 200
    assert _dirty(two_stores.settings.database_url) == {(a, 7): 1, (b, 7): 1}


def test_two_ids_sharing_their_first_128_characters_both_record(two_stores: Receiver) -> None:
    prefix = "msg_" + "x" * 124
    assert len(prefix) == 128
    assert _post(two_stores, two_stores.store_hash, prefix + "-first") == 200
    assert _post(two_stores, two_stores.store_hash, prefix + "-second") == 200
    assert _dirty(two_stores.settings.database_url) == {(two_stores.store_hash, 7): 2}


def test_a_true_replay_is_still_a_replay(two_stores: Receiver) -> None:
    long_id = "msg_" + "y" * 3000  # far past the old 128-character cut, and a fixed-length key anyway
    for webhook_id in ("msg_once", long_id):
        assert _post(two_stores, two_stores.store_hash, webhook_id) == 200
        time.sleep(0.01)
        assert _post(two_stores, two_stores.store_hash, webhook_id) == 200  # answered, not recorded
    assert _dirty(two_stores.settings.database_url) == {(two_stores.store_hash, 7): 2}
    assert two_stores.seen() == {webhook_digest("msg_once"), webhook_digest(long_id)}
    assert all(len(d) == 64 for d in two_stores.seen())


def test_one_group_keys_by_store_and_whole_id(db_url: str) -> None:
    long_a, long_b = "w" * 128 + "a", "w" * 128 + "b"
    results = record_callbacks(
        db_url,
        [
            Callback("sa", PRODUCT, (1,), "same"),
            Callback("sb", PRODUCT, (1,), "same"),  # another store: recorded
            Callback("sa", PRODUCT, (2,), long_a),
            Callback("sa", PRODUCT, (3,), long_b),  # same first 128 characters: recorded
            Callback("sa", PRODUCT, (4,), "same"),  # same store and id in the group: a replay
        ],
    )
    assert results == [True, True, True, True, False]
    again = record_callbacks(
        db_url, [Callback("sb", PRODUCT, (9,), "same"), Callback("sc", PRODUCT, (9,), "same")]
    )
    assert again == [False, True]
    assert set(_dirty(db_url)) == {("sa", 1), ("sb", 1), ("sa", 2), ("sa", 3), ("sc", 9)}


# --- migration 0007 on a database holding rows of the old shape ------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at revision 0005 (before 0007), of its own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        command.upgrade(alembic_config(url), "0005")
        yield url
        return
    with fresh_pg_database() as url:
        command.upgrade(alembic_config(url), "0005")
        yield url


def test_the_migration_keeps_old_rows_and_their_replay_protection(old_db: str) -> None:
    now = time.time()
    old_rows = [
        {"webhook_id": "msg_old_a", "store_hash": "sa", "received_at": now - 10},
        {"webhook_id": "msg_old_b", "store_hash": "sb", "received_at": now - 5},
        {"webhook_id": "é" * 40, "store_hash": "sa", "received_at": now - 1},
    ]
    with get_engine(old_db).begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO seen_webhooks (webhook_id, store_hash, received_at)"
                " VALUES (:webhook_id, :store_hash, :received_at)"
            ),
            old_rows,
        )
    upgrade(old_db)
    with get_engine(old_db).connect() as conn:
        rows = set(conn.execute(sa.text("SELECT store_hash, digest, received_at FROM seen_webhooks")))
    assert rows == {(r["store_hash"], webhook_digest(r["webhook_id"]), r["received_at"]) for r in old_rows}
    # each old row still protects its store; the same id from another store is that store's own
    results = record_callbacks(
        old_db,
        [
            Callback("sa", PRODUCT, (1,), "msg_old_a"),
            Callback("sb", PRODUCT, (2,), "msg_old_b"),
            Callback("sa", PRODUCT, (3,), "é" * 40),
            Callback("sb", PRODUCT, (4,), "msg_old_a"),
        ],
    )
    assert results == [False, False, False, True]
    assert set(_dirty(old_db)) == {("sb", 4)}
