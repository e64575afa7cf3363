"""Ometria's asynchronous validation errors (the collect_ometria_errors task's filing, through
workers.store.queries): each filed once in the failed list under its product, its record forgotten
by the ledger so that a replay pushes it again; an error naming no record is not filed."""

from __future__ import annotations

from pathlib import Path

from workers.store import queries, storage
from workers.store.failures import list_failed
from workers.store.migrate import upgrade
from workers.store.storage import session_scope
from workers.tasks.jobs import validation_error


def test_validation_errors_are_filed_once_and_their_records_forgotten(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'bcsync.db'}"
    upgrade(db)
    with session_scope(db) as s:
        storage.record_pushed(s, "st", [("12-34", 12, "fp1", True), ("13", 13, "fp2", True)])
    errors = [
        {"request_id": "r1", "record_id": "12-34", "error_path": "price", "error_message": "not a number"},
        {"request_id": "r1", "record_id": "", "error_path": "id", "error_message": "missing"},
        {"request_id": "r2", "record_id": "x\x1b[31m", "error_path": "id", "error_message": "odd"},
    ]
    found = [validation_error(e) for e in errors]
    assert queries.file_validation_errors(db, "st", found) == 2
    assert queries.file_validation_errors(db, "st", found) == 0  # once each
    entries = {e.record_id: e for e in list_failed(db)}
    assert set(entries) == {"12-34", "x"}  # the escape sequence is cleaned away
    first = entries["12-34"]
    assert (first.task, first.entity, first.entity_ids, first.kind) == (
        "ometria-validation",
        "product",
        [12],
        "permanent",
    )
    assert "price" in first.error and "not a number" in first.error
    assert entries["x"].entity_ids == []  # no product id in it
    assert queries.known_records(db, "st", [12, 13]) == {"13"}  # 12-34 will be pushed again
