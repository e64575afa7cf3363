"""The worker-side counter totals (`metric_totals`): every worker process on every host adds its
increments after each task; GET /metrics reads them."""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from workers.store.engine import insert_for, session_scope
from workers.store.models import MetricTotal

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


# --- one transaction each, by database URL ----------------------------------------------------


def save_totals(url: str, increments: Mapping[tuple[str, Labels], float]) -> None:
    """`add_totals` in its own transaction (a worker's pending increments after a task)."""
    with session_scope(url) as session:
        add_totals(session, increments)


def totals_at(url: str) -> dict[tuple[str, Labels], float]:
    """`read_totals` in its own transaction (/metrics at scrape time)."""
    with session_scope(url) as session:
        return read_totals(session)
