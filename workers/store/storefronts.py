"""Storefront state in the database: product metafields of the configured namespaces and the
variant -> product map (from every flush's fetched variants), so that neither a flush nor a
price-list callback costs a BigCommerce call per product."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from workers.store import dirty, ledger
from workers.store.engine import insert_for as _insert
from workers.store.engine import session_scope
from workers.store.models import (
    CATEGORY,
    PRODUCT,
    Ledger,
    ProductMetafield,
    RateBudget,
    RollingResync,
    VariantProduct,
)

CHUNK = 500


def metafields_for(
    session: Session, store_hash: str, product_ids: Sequence[int]
) -> dict[int, dict[str, str]]:
    """product id -> {"<namespace>.<key>": value} for these products (only those that have some)."""
    out: dict[int, dict[str, str]] = {}
    ids = sorted({int(i) for i in product_ids})
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(ProductMetafield.product_id, ProductMetafield.name, ProductMetafield.value).where(
                ProductMetafield.store_hash == store_hash,
                ProductMetafield.product_id.in_(ids[start : start + CHUNK]),
            )
        )
        for pid, name, value in rows:
            out.setdefault(int(pid), {})[name] = value
    return out


def _rows(store_hash: str, metafields: Iterable[Mapping]) -> list[dict]:
    rows: dict[tuple[int, str], dict] = {}
    for m in metafields:
        pid, ns, key = m.get("resource_id"), m.get("namespace"), m.get("key")
        if isinstance(pid, str) and pid.isdigit():
            pid = int(pid)
        if not isinstance(pid, int) or not ns or not key:
            continue
        name = f"{ns}.{key}"[:128]
        value = m.get("value")
        rows[(pid, name)] = {
            "store_hash": store_hash,
            "product_id": pid,
            "name": name,
            "value": "" if value is None else str(value),
            "metafield_id": m.get("id") if isinstance(m.get("id"), int) else None,
        }
    return list(rows.values())


def replace_metafields(
    session: Session, store_hash: str, product_ids: Sequence[int], metafields: Iterable[Mapping]
) -> set[int]:
    """These products' metafields are exactly `metafields` now (a product absent has none).
    Returns the products whose metafields changed."""
    ids = sorted({int(i) for i in product_ids})
    before = metafields_for(session, store_hash, ids)
    rows = [r for r in _rows(store_hash, metafields) if r["product_id"] in set(ids)]
    for start in range(0, len(ids), CHUNK):
        session.execute(
            delete(ProductMetafield).where(
                ProductMetafield.store_hash == store_hash,
                ProductMetafield.product_id.in_(ids[start : start + CHUNK]),
            )
        )
    if rows:
        session.execute(_insert(session)(ProductMetafield), rows)
    after: dict[int, dict[str, str]] = {}
    for r in rows:
        after.setdefault(r["product_id"], {})[r["name"]] = r["value"]
    return {pid for pid in ids if before.get(pid, {}) != after.get(pid, {})}


def upsert_metafields(session: Session, store_hash: str, metafields: Iterable[Mapping]) -> set[int]:
    """Add or update metafields (the date_modified sweep: it sees changes, not deletions).
    Returns the products whose metafields changed."""
    rows = _rows(store_hash, metafields)
    if not rows:
        return set()
    before = metafields_for(session, store_hash, [r["product_id"] for r in rows])
    changed = {r["product_id"] for r in rows if before.get(r["product_id"], {}).get(r["name"]) != r["value"]}
    stmt = _insert(session)(ProductMetafield)
    stmt = stmt.on_conflict_do_update(
        index_elements=["store_hash", "product_id", "name"],
        set_={"value": stmt.excluded.value, "metafield_id": stmt.excluded.metafield_id},
    )
    session.execute(stmt, rows)
    return changed


def record_variants(session: Session, store_hash: str, pairs: Iterable[tuple[int, int]]) -> None:
    """Remember (variant id, product id) pairs."""
    rows = [
        {"store_hash": store_hash, "variant_id": int(v), "product_id": int(p)} for v, p in dict(pairs).items()
    ]
    if not rows:
        return
    stmt = _insert(session)(VariantProduct)
    stmt = stmt.on_conflict_do_update(
        index_elements=["store_hash", "variant_id"], set_={"product_id": stmt.excluded.product_id}
    )
    session.execute(stmt, rows)


def products_of_variants(session: Session, store_hash: str, variant_ids: Iterable[int]) -> dict[int, int]:
    """variant id -> product id for the variants known."""
    ids = sorted({int(v) for v in variant_ids})
    out: dict[int, int] = {}
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(VariantProduct.variant_id, VariantProduct.product_id).where(
                VariantProduct.store_hash == store_hash,
                VariantProduct.variant_id.in_(ids[start : start + CHUNK]),
            )
        )
        out.update({int(v): int(p) for v, p in rows})
    return out


def replace_all_metafields(session: Session, store_hash: str, metafields: Iterable[Mapping]) -> None:
    """The store's metafields table is exactly `metafields` now."""
    session.execute(delete(ProductMetafield).where(ProductMetafield.store_hash == store_hash))
    rows = _rows(store_hash, metafields)
    for start in range(0, len(rows), CHUNK):
        session.execute(_insert(session)(ProductMetafield), rows[start : start + CHUNK])


# --- the rolling resync ---------------------------------------------------------------------------

ROLLING_FIELDS = ("cursor", "lap_started_at", "done", "hour_started_at", "hour_calls")


def rolling_state(session: Session, store_hash: str) -> dict[str, float]:
    row = session.get(RollingResync, store_hash)
    if row is None:
        return {"cursor": 0, "lap_started_at": 0.0, "done": 0, "hour_started_at": 0.0, "hour_calls": 0}
    return {name: getattr(row, name) for name in ROLLING_FIELDS}


def save_rolling_state(session: Session, store_hash: str, state: Mapping[str, float]) -> None:
    row = session.get(RollingResync, store_hash)
    if row is None:
        row = RollingResync(store_hash=store_hash)
        session.add(row)
    for name in ROLLING_FIELDS:
        setattr(row, name, state[name])


def parents_known(session: Session, store_hash: str) -> int:
    """Products with a record in Ometria (the ledger): the rolling resync's estimate of the catalogue."""
    query = select(func.count(func.distinct(Ledger.product_id))).where(Ledger.store_hash == store_hash)
    return int(session.scalar(query) or 0)


def bigcommerce_quota(session: Session, store_hash: str) -> int:
    """The store's BigCommerce quota per window as its headers last said (150 until known)."""
    row = session.get(RateBudget, (store_hash, "bigcommerce"))
    return int(row.quota) if row is not None and row.quota else 150


# --- one transaction each, by database URL (workers.sync.storefronts, workers.sync.rolling) --------


def claim_rows(url: str, store_hash: str, entity: str, token: str, limit: int, lease: float) -> list[int]:
    """Claim up to `limit` dirty rows of `entity` under `token`; their ids, sorted."""
    with session_scope(url) as s:
        return sorted(dirty.claim(s, store_hash, entity, token, limit, lease))


def variant_owners(url: str, store_hash: str, variant_ids: Iterable[int]) -> dict[int, int]:
    """`products_of_variants` in its own transaction."""
    with session_scope(url) as s:
        return products_of_variants(s, store_hash, variant_ids)


def store_metafields(
    url: str, store_hash: str, product_ids: Sequence[int], metafields: Iterable[Mapping]
) -> set[int]:
    """`replace_metafields` in its own transaction: the products whose metafields changed."""
    with session_scope(url) as s:
        return replace_metafields(s, store_hash, product_ids, metafields)


def active_product_ids(url: str, store_hash: str) -> set[int]:
    """The products Ometria holds active (per the ledger)."""
    with session_scope(url) as s:
        return set(ledger.active_products(s, store_hash))


def finish_expansion(
    url: str,
    store_hash: str,
    entity: str,
    token: str,
    claimed: Sequence[int],
    products: Sequence[int],
    categories: Sequence[int],
) -> int:
    """In one transaction: mark `products` dirty (reason `entity`) and `categories` dirty (reason
    "tree"), and release the claimed rows as done. Returns how many products were marked."""
    with session_scope(url) as s:
        marked = dirty.mark_dirty(s, store_hash, PRODUCT, products, entity) if products else 0
        if categories:
            dirty.mark_dirty(s, store_hash, CATEGORY, categories, "tree")
        dirty.release_done(s, store_hash, entity, token, claimed)
        return marked


def give_back(
    url: str, store_hash: str, entity: str, token: str, claimed: Sequence[int], error: str, retry_at: float
) -> None:
    """The claimed rows released as failed, to be retried at `retry_at`."""
    with session_scope(url) as s:
        dirty.release_failed(s, store_hash, entity, token, claimed, error, retry_at)


def merge_metafields(url: str, store_hash: str, metafields: Iterable[Mapping], reason: str) -> int:
    """In one transaction: upsert these metafields and mark the products whose metafields changed
    dirty. Returns how many products were marked."""
    with session_scope(url) as s:
        changed = upsert_metafields(s, store_hash, metafields)
        return dirty.mark_dirty(s, store_hash, PRODUCT, sorted(changed), reason) if changed else 0


def reload_metafields(url: str, store_hash: str, metafields: Iterable[Mapping]) -> None:
    """`replace_all_metafields` in its own transaction."""
    with session_scope(url) as s:
        replace_all_metafields(s, store_hash, metafields)


def rolling_place(url: str, store_hash: str) -> tuple[dict[str, float], int, int]:
    """In one transaction: the rolling resync's state, the parents known, and the quota last seen."""
    with session_scope(url) as s:
        return rolling_state(s, store_hash), parents_known(s, store_hash), bigcommerce_quota(s, store_hash)


def keep_rolling_place(url: str, store_hash: str, state: Mapping[str, float]) -> None:
    """`save_rolling_state` in its own transaction."""
    with session_scope(url) as s:
        save_rolling_state(s, store_hash, state)
