"""What a flush writes to the event log (workers.store.events): the batch that fetched each product,
and each push that carried its records. Pure bookkeeping around the flush's steps; a failure to
write the log never fails the flush (the change itself is in the ledger and the dirty rows)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from workers.store import events as event_log
from workers.store import support
from workers.store.models import PRODUCT

log = logging.getLogger("workers.sync.flush")

CALL = "GET /v3/catalog/products?id:in=…&include=variants,images,custom_fields"


def _write(db: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    try:
        support.write_events(db, rows)
    except Exception:  # the log is for people; the sync goes on without it
        log.warning("could not write %d event(s) to the event log", len(rows), exc_info=True)


def batch_fetched(
    db: str,
    store_hash: str,
    batch: str,
    ids: Sequence[int],
    present: set[int],
    planned: Iterable[tuple[dict, str, int]],
    ledger: Mapping[str, tuple[int, str]],
    per_call: int,
) -> None:
    """One `flush` event per product of the batch: the call that fetched it (k of n), how many of
    its records changed (to be pushed) and how many are unchanged (as Ometria last accepted)."""
    now = time.time()
    changed: dict[int, set[str]] = {}
    for record, _fp, pid in planned:
        changed.setdefault(pid, set()).add(str(record["id"]))
    known: dict[int, set[str]] = {}
    for rid, (pid, _fp) in ledger.items():
        known.setdefault(pid, set()).add(rid)
    calls = max(1, -(-len(ids) // per_call))
    rows = []
    for n, pid in enumerate(ids):
        mine = changed.get(pid, set())
        detail: dict[str, Any] = {
            "call": f"{CALL} (call {n // per_call + 1} of {calls}, {len(ids)} id(s) in the batch)",
            "changed": len(mine),
            "unchanged": len(known.get(pid, set()) - mine),
        }
        if pid not in present:
            detail["gone"] = True
        rows.append(
            {
                "store_hash": store_hash,
                "at": now,
                "kind": event_log.FLUSH,
                "entity": PRODUCT,
                "entity_id": pid,
                "ref": batch,
                "detail": detail,
            }
        )
    _write(db, rows)


def pushed(
    db: str,
    store_hash: str,
    chunk: Sequence[tuple[dict, str, int]],
    *,
    request_id: str | None,
    accepted: bool,
    accepted_count: int | None = None,
    rejected_count: int | None = None,
    batch: str | None = None,
    error: str | None = None,
    refused_locally: bool = False,
) -> None:
    """One `push` event per product whose records a request carried (or that was refused)."""
    now = time.time()
    by_product: dict[int, list[str]] = {}
    for record, _fp, pid in chunk:
        by_product.setdefault(pid, []).append(str(record["id"]))
    rows = []
    for pid, records in by_product.items():
        detail: dict[str, Any] = {"records": records, "accepted": accepted}
        if accepted_count is not None:
            detail["accepted_count"], detail["rejected_count"] = accepted_count, rejected_count or 0
        if batch:
            detail["batch"] = batch
        if error:
            detail["error"] = error[:1000]
        if refused_locally:
            detail["refused_locally"] = True
        rows.append(
            {
                "store_hash": store_hash,
                "at": now,
                "kind": event_log.PUSH,
                "entity": PRODUCT,
                "entity_id": pid,
                "ref": request_id or None,
                "detail": detail,
            }
        )
    _write(db, rows)
