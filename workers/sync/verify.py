"""Read Ometria back and compare it with the mapping of the store's current products (`bcsync verify`).

Drift, per Ometria record id:
- `missing`: the store has it, Ometria does not;
- `differs`: both have it, some fields differ (only the fields the mapping sends are compared,
  numbers compared canonically so 10 and 10.0 agree);
- `should-be-inactive`: Ometria shows it active but the product (or that variant) is gone.

`fix()` repairs drift through the ordinary flush: it makes the ledger stop believing Ometria has
those records and marks their products dirty; the caller then flushes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from workers.domain.fingerprint import canonical_json
from workers.domain.ids import product_of
from workers.domain.mapping import map_product
from workers.store import queries, support
from workers.sync.flush import BATCH, Syncer

MISSING = "missing"
DIFFERS = "differs"
SHOULD_BE_INACTIVE = "should-be-inactive"
IGNORED_FIELDS = frozenset({"@type", "@merge"})
DRIFT_FINGERPRINT = "verify-drift"  # a ledger fingerprint no record has: the next flush pushes again


@dataclass
class Drift:
    record_id: str
    product_id: int
    kind: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name: (store's, Ometria's)


@dataclass
class VerifyReport:
    store: str
    products: int = 0  # store products checked
    records: int = 0  # records the mapping gives for them
    ometria_records: int = 0  # Ometria records considered
    drift: list[Drift] = field(default_factory=list)
    # products with changes still waiting to be flushed (dirty rows): their differences are pending
    # work, not drift, and are not in `drift`
    pending: list[int] = field(default_factory=list)
    pending_records: int = 0

    @property
    def drifting_products(self) -> list[int]:
        return sorted({d.product_id for d in self.drift})

    def counts(self) -> dict[str, int]:
        out = {MISSING: 0, DIFFERS: 0, SHOULD_BE_INACTIVE: 0}
        for d in self.drift:
            out[d.kind] += 1
        return out

    def as_dict(self) -> dict[str, Any]:
        """The report as `bcsync verify --json` and the admin API give it: each drifting field as
        the store's value and Ometria's."""
        return {
            "store": self.store,
            "products": self.products,
            "records": self.records,
            "ometria_records": self.ometria_records,
            "counts": self.counts(),
            "pending": self.pending,
            "drift": [
                {
                    "record_id": d.record_id,
                    "product_id": d.product_id,
                    "kind": d.kind,
                    "fields": {k: {"store": a, "ometria": b} for k, (a, b) in d.fields.items()},
                }
                for d in self.drift
            ],
        }


def parent_of(record_id: str) -> int | None:
    """The product id an Ometria record id starts with; None when it is not one ("²", 2^63, "x")."""
    return product_of(record_id)


def same(a: Any, b: Any) -> bool:
    return canonical_json({"v": a}) == canonical_json({"v": b})


def compare(record: dict[str, Any], held: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The fields of `record` whose value Ometria's copy does not have."""
    return {
        k: (v, held.get(k)) for k, v in record.items() if k not in IGNORED_FIELDS and not same(v, held.get(k))
    }


def _store_pages(syncer: Syncer, product_ids: Sequence[int] | None) -> Iterator[list[dict[str, Any]]]:
    if product_ids is None:
        yield from syncer.bc.iter_product_pages()
        return
    ids = list(dict.fromkeys(int(i) for i in product_ids))
    for start in range(0, len(ids), BATCH):
        yield syncer.bc.products_by_ids(ids[start : start + BATCH])


def verify(
    syncer: Syncer,
    product_ids: Iterable[int] | None = None,
    progress: Callable[[VerifyReport], None] | None = None,
) -> VerifyReport:
    """Compare Ometria with the store: every product (`product_ids` None) or just these."""
    wanted = None if product_ids is None else sorted({int(i) for i in product_ids})
    report = VerifyReport(store=syncer.store.store_hash)
    ctx = syncer.context(refresh=True)  # today's names and URL, as a flush now would map them
    held: dict[int, dict[str, dict[str, Any]]] = {}  # parent id -> record id -> Ometria's record
    wanted_set = set(wanted) if wanted is not None else None
    for item in syncer.ometria.iter_products():
        rid = str(item.get("id"))
        pid = parent_of(rid)
        if pid is None or (wanted_set is not None and pid not in wanted_set):
            continue
        held.setdefault(pid, {})[rid] = item
        report.ometria_records += 1
    seen: set[int] = set()
    for page in _store_pages(syncer, wanted):
        prices, metafields = syncer.extras(page)  # price lists and metafields, as a flush maps them
        for product in page:
            pid = int(product["id"])
            seen.add(pid)
            report.products += 1
            theirs = held.get(pid, {})
            records = map_product(product, ctx, prices, metafields.get(pid))
            report.records += len(records)
            live = set()
            for record in records:
                rid = record["id"]
                live.add(rid)
                if rid not in theirs:
                    report.drift.append(Drift(rid, pid, MISSING))
                    continue
                diff = compare(record, theirs[rid])
                if diff:
                    report.drift.append(Drift(rid, pid, DIFFERS, diff))
            report.drift += [
                Drift(rid, pid, SHOULD_BE_INACTIVE, {"is_active": (False, True)})
                for rid, item in sorted(theirs.items())
                if rid not in live and item.get("is_active")
            ]
        if progress:
            progress(report)
    for pid in sorted(set(held) - seen):
        report.drift += [
            Drift(rid, pid, SHOULD_BE_INACTIVE, {"is_active": (False, True)})
            for rid, item in sorted(held[pid].items())
            if item.get("is_active")
        ]
    if report.drift:
        dirty = support.dirty_products(syncer.db, report.store, report.drifting_products)
        if dirty:
            report.pending = sorted(dirty)
            report.pending_records = sum(1 for d in report.drift if d.product_id in dirty)
            report.drift = [d for d in report.drift if d.product_id not in dirty]
    return report


def fix(syncer: Syncer, report: VerifyReport) -> int:
    """Make the next flush push every drifting record again: records the store has are forgotten
    in the ledger (so they count as new); records that should be inactive get a ledger row with a
    fingerprint no record has (a flush only deactivates what the ledger says Ometria holds).
    Marks the products dirty and returns how many; the caller flushes (or wakes a worker)."""
    sh = syncer.store.store_hash
    if not report.drift:
        return 0
    forget = [d.record_id for d in report.drift if d.kind != SHOULD_BE_INACTIVE]
    deactivate = [
        (d.record_id, d.product_id, DRIFT_FINGERPRINT, True)
        for d in report.drift
        if d.kind == SHOULD_BE_INACTIVE
    ]
    return queries.repair_drift(syncer.db, sh, forget, deactivate, report.drifting_products)
