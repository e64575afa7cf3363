"""A flush whose database statement fails (a deadlock with the receiver's upserts) gives its claimed
rows back at once, instead of leaving them claimed until the lease ends (what cost a storm two
minutes once): the task's retry, or the next flush, takes them again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from sandbox.server import Sandbox, start_sandbox
from tests.harness import sandbox_settings
from workers.store import dirty, storage
from workers.store.migrate import upgrade
from workers.store.storage import PRODUCT, Dirty, session_scope
from workers.sync.flush import Syncer


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(products=30, seed=5) as sb:
        yield sb


def test_a_deadlocked_release_gives_the_rows_back(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"sqlite:///{tmp_path / 'bcsync.db'}"
    upgrade(db)
    settings, store = sandbox_settings(sandbox.bc_url, sandbox.ometria_url, db, tmp_path)
    syncer = Syncer(settings, store, lease_seconds=600)
    ids = sorted(sandbox.store.product_ids())[:10]
    with session_scope(db) as s:
        storage.mark_dirty(s, store.store_hash, PRODUCT, ids)

    def deadlocked(*_args: Any, **_kwargs: Any) -> int:
        raise OperationalError("DELETE FROM dirty …", {}, Exception("deadlock detected"))

    monkeypatch.setattr(dirty, "release_done", deadlocked)
    with pytest.raises(OperationalError):
        syncer.flush_batch()
    with session_scope(db) as s:
        rows = list(s.scalars(select(Dirty).where(Dirty.store_hash == store.store_hash)))
    assert sorted(r.entity_id for r in rows) == ids
    assert all(r.claimed_by is None and r.lease_until is None for r in rows)  # not held for 600 s

    monkeypatch.undo()
    report = syncer.flush_batch()  # taken again at once; already pushed, so nothing to push
    assert report is not None and report.claimed == 10 and report.pushed == 0 and report.released == 10
