"""What GET /metrics reads from the database: the worker-side counter totals (`metric_totals`, fed
by every worker process on every host), the failed-list size and the BigCommerce quota last seen."""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workers.store.engine import insert_for
from workers.store.models import FailedTask, MetricTotal, RateBudget

Labels = tuple[tuple[str, str], ...]


def _encode(labels: Labels) -> str:
    return json.dumps([list(pair) for pair in sorted(labels)], separators=(",", ":"))


def _decode(text: str) -> Labels:
    return tuple((str(k), str(v)) for k, v in json.loads(text))


def add_totals(session: Session, increments: Mapping[tuple[str, Labels], float]) -> None:
    """Add each increment to its total, in key order (two workers adding at once lock the rows in
    the same order, so they wait for each other instead of deadlocking)."""
    rows = sorted((name, _encode(labels), value) for (name, labels), value in increments.items() if value)
    insert = insert_for(session)
    for name, labels, value in rows:
        ins = insert(MetricTotal).values(name=name, labels=labels, value=value)
        session.execute(
            ins.on_conflict_do_update(
                index_elements=[MetricTotal.name, MetricTotal.labels],
                set_={"value": MetricTotal.value + ins.excluded.value},
            )
        )


def read_totals(session: Session) -> dict[tuple[str, Labels], float]:
    rows = session.execute(select(MetricTotal.name, MetricTotal.labels, MetricTotal.value))
    return {(name, _decode(labels)): float(value) for name, labels, value in rows}


def failed_counts(session: Session) -> dict[str, int]:
    """Entries in the failed list (status failed) per store."""
    rows = session.execute(
        select(FailedTask.store_hash, func.count())
        .where(FailedTask.status == "failed")
        .group_by(FailedTask.store_hash)
    )
    return {store: int(n) for store, n in rows}


def bigcommerce_quota(session: Session, now: float) -> dict[str, tuple[int, int]]:
    """Per store: (requests left in the current window, quota), as the shared budget last saw them
    (the whole quota once the window it saw has ended)."""
    rows = session.execute(
        select(RateBudget.store_hash, RateBudget.left, RateBudget.quota, RateBudget.window_reset_at).where(
            RateBudget.api == "bigcommerce"
        )
    )
    return {
        store: (int(left) if reset_at > now else int(quota), int(quota))
        for store, left, quota, reset_at in rows
    }
