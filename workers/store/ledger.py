"""The ledger: per Ometria record id, the fingerprint (and category ids) Ometria last accepted."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.orm import Session

from workers.store.engine import rowcount
from workers.store.models import Ledger

# --- ledger --------------------------------------------------------------------------------


def ledger_for_products(
    session: Session, store_hash: str, product_ids: Sequence[int]
) -> dict[str, tuple[int, str]]:
    """{record_id: (product_id, fingerprint)} for every record ever pushed for these products."""
    out: dict[str, tuple[int, str]] = {}
    ids = list(product_ids)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(Ledger.record_id, Ledger.product_id, Ledger.fingerprint).where(
                Ledger.store_hash == store_hash, Ledger.product_id.in_(ids[start : start + 500])
            )
        )
        out.update({r: (int(p), f) for r, p, f in rows})
    return out


def pushed_since(session: Session, store_hash: str, product_ids: Sequence[int], since: float) -> set[int]:
    """Products with a ledger row written after `since`."""
    return set(
        session.scalars(
            select(Ledger.product_id).where(
                Ledger.store_hash == store_hash,
                Ledger.product_id.in_(list(product_ids)),
                Ledger.pushed_at > since,
            )
        )
    )


LEDGER_UPSERT = text(
    "INSERT INTO ledger (store_hash, record_id, product_id, fingerprint, is_active, pushed_at, categories)"
    " VALUES (:store_hash, :record_id, :product_id, :fingerprint, :is_active, :now, :categories)"
    " ON CONFLICT (store_hash, record_id) DO UPDATE SET fingerprint = excluded.fingerprint,"
    " is_active = excluded.is_active, pushed_at = excluded.pushed_at, product_id = excluded.product_id,"
    " categories = excluded.categories"
)


def record_pushed(
    session: Session,
    store_hash: str,
    entries: Sequence[tuple[str, int, str, bool]],
    now: float | None = None,
    categories: Mapping[str, Sequence[int]] | None = None,
) -> None:
    """Upsert ledger rows (record_id, product_id, fingerprint, is_active) Ometria accepted, with
    the category ids of the parent records among them (`categories`, by record id)."""
    if not entries:
        return
    now = time.time() if now is None else now
    cats = categories or {}
    rows = [
        {
            "store_hash": store_hash,
            "record_id": r,
            "product_id": p,
            "fingerprint": f,
            "is_active": bool(a),
            "now": now,
            "categories": "," + ",".join(str(int(c)) for c in cats[r]) + "," if cats.get(r) else None,
        }
        for r, p, f, a in entries
    ]
    session.connection().execute(LEDGER_UPSERT, rows)


def products_in_categories(session: Session, store_hash: str, category_ids: Iterable[int]) -> set[int]:
    """Products whose record in Ometria (per the ledger) is in any of these categories."""
    ids = sorted({int(c) for c in category_ids})
    found: set[int] = set()
    for start in range(0, len(ids), 50):
        matches = [Ledger.categories.like(f"%,{c},%") for c in ids[start : start + 50]]
        query = select(Ledger.product_id).where(Ledger.store_hash == store_hash, or_(*matches)).distinct()
        found.update(int(p) for p in session.scalars(query))
    return found


def forget_records(session: Session, store_hash: str, record_ids: Sequence[str]) -> None:
    """Drop ledger rows so the next flush pushes these records again (used by verify --fix)."""
    session.execute(
        delete(Ledger).where(Ledger.store_hash == store_hash, Ledger.record_id.in_(list(record_ids)))
    )


def active_products_pushed_before(session: Session, store_hash: str, before: float) -> set[int]:
    """Products with an active record in Ometria (per the ledger) last pushed before `before`."""
    return set(
        session.scalars(
            select(Ledger.product_id)
            .where(Ledger.store_hash == store_hash, Ledger.is_active.is_(True), Ledger.pushed_at < before)
            .distinct()
        )
    )


def force_repush(
    session: Session, store_hash: str, product_ids: Sequence[int] | None, fingerprint: str
) -> int:
    """Set the ledger fingerprint of these products' records (all the store's with None) to one no
    record has, so the next flush pushes every one of them whole. Returns the rows changed."""
    q = update(Ledger).where(Ledger.store_hash == store_hash)
    if product_ids is None:
        return rowcount(session.execute(q.values(fingerprint=fingerprint)))
    ids, n = sorted({int(i) for i in product_ids}), 0
    for start in range(0, len(ids), 500):
        chunk = q.where(Ledger.product_id.in_(ids[start : start + 500]))
        n += rowcount(session.execute(chunk.values(fingerprint=fingerprint)))
    return n


def active_products(session: Session, store_hash: str) -> set[int]:
    """Products with a record Ometria holds as active (per the ledger)."""
    q = select(Ledger.product_id).where(Ledger.store_hash == store_hash, Ledger.is_active.is_(True))
    return {int(p) for p in session.scalars(q.distinct())}
