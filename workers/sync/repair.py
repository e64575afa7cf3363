"""Support's resync: the repair of named products or categories, and the dry-run preview.

    repair_products(syncer, product_ids) -> Repair        mark them for a whole re-push (caller flushes)
    repair_categories(syncer, category_ids) -> Repair     the same for every product in them
    force_all(syncer) -> int                              `resync all --force`: every record re-pushed
    preview_products(syncer, product_ids) -> Preview      what `resync product --dry-run` shows
    preview_categories(syncer, category_ids) -> Preview
    preview_all(syncer, force=False, limit=50) -> Preview what `resync all [--force] --dry-run` shows
    preview_for(settings, store_hash, entity, ids) -> Preview      the same for a shell (admin page):
    repair_for(settings, store_hash, entity, ids) -> Repair        checks the store, builds the Syncer
                                                                  (entity "product" or "category")

A repair pushes the products' current records whole, whatever the ledger says (Ometria's copy may
have drifted from what we last pushed): their ledger fingerprints are set to DRIFT_FINGERPRINT, one
no record has, so the ordinary flush pushes every record (and the deactivation of every variant that
vanished) and then records the real fingerprints. An id the store does not have is pushed as gone
if we ever pushed it (the ledger knows it); one we never pushed is `not_found` and nothing is marked
for it. `resync all` stays the cheap delta walk of workers.sync.flush; `force_all` first sets every
ledger fingerprint of the store to DRIFT_FINGERPRINT so the walk pushes everything.

A preview pushes nothing and changes nothing: per record that would be pushed, each field's old
value (Ometria's copy, read back) → new value (the mapping of the store's product now).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from workers.domain.fingerprint import changed, fingerprint
from workers.domain.mapping import deactivation, map_product
from workers.settings import Settings
from workers.store import support
from workers.store.models import CATEGORY
from workers.sync.flush import FETCH_BATCH, Syncer
from workers.sync.known import require_store
from workers.sync.verify import DRIFT_FINGERPRINT

IGNORED_FIELDS = frozenset({"@type", "@merge", "id"})

NEW, UPDATE, DEACTIVATE, SAME = "new", "update", "deactivate", "same"


@dataclass
class Repair:
    """What a repair marked: `products` found in the store, `gone` (not in the store, pushed before:
    their records go inactive), `not_found` (neither: nothing marked, the caller says so, exit 1),
    `categories_not_found` for repair_categories."""

    store: str
    products: list[int] = field(default_factory=list)
    gone: list[int] = field(default_factory=list)
    not_found: list[int] = field(default_factory=list)
    categories_not_found: list[int] = field(default_factory=list)

    @property
    def marked(self) -> list[int]:
        return sorted({*self.products, *self.gone})


@dataclass
class RecordChange:
    """One record a push would send: `change` is new (Ometria has none), update (fields differ),
    deactivate (gone product / vanished variant) or same (a repair re-pushes it anyway);
    `fields` {name: (old = Ometria's value or None, new = the value pushed)} for fields that differ."""

    record_id: str
    product_id: int
    change: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "product_id": self.product_id,
            "change": self.change,
            "fields": {k: {"old": a, "new": b} for k, (a, b) in self.fields.items()},
        }


@dataclass
class Preview:
    """A dry run: `records` that would be pushed (at most `limit` of them are detailed in
    `changes`; `total` counts all), `products` examined, `not_found` ids (neither in the store nor
    ever pushed), `gone` products that would be deactivated. Nothing was pushed or changed."""

    store: str
    products: int = 0
    total: int = 0
    changes: list[RecordChange] = field(default_factory=list)
    not_found: list[int] = field(default_factory=list)
    categories_not_found: list[int] = field(default_factory=list)
    gone: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "products": self.products,
            "records": self.total,
            "changes": [c.to_dict() for c in self.changes],
            "not_found": self.not_found,
            "categories_not_found": self.categories_not_found,
            "gone": self.gone,
            "pushed": 0,
        }


def _same(a: Any, b: Any) -> bool:
    return fingerprint({"v": a}) == fingerprint({"v": b})


def field_changes(new: dict[str, Any], old: dict[str, Any] | None) -> dict[str, tuple[Any, Any]]:
    """{field: (old, new)} for the fields of `new` whose value `old` does not have."""
    held = old or {}
    return {
        k: (held.get(k), v) for k, v in new.items() if k not in IGNORED_FIELDS and not _same(v, held.get(k))
    }


def _record_change(record: dict[str, Any], pid: int, old: dict[str, Any] | None) -> RecordChange:
    diff = field_changes(record, old)
    if record.get("@merge"):
        kind = DEACTIVATE
    elif old is None:
        kind = NEW
    else:
        kind = UPDATE if diff else SAME
    return RecordChange(str(record["id"]), pid, kind, diff)


# --- which ids exist ---------------------------------------------------------------------------


def split_known(syncer: Syncer, product_ids: Iterable[int]) -> tuple[list[int], list[int], list[int]]:
    """(in the store, gone but pushed before, never known) — one light BigCommerce call per 250."""
    ids = sorted({int(i) for i in product_ids})
    present = syncer.bc.existing_product_ids(ids) if ids else set()
    ledger = support.ledger_for(syncer.db, syncer.store.store_hash, ids)
    pushed = {pid for pid, _fp in ledger.values()}
    return (
        [i for i in ids if i in present],
        [i for i in ids if i not in present and i in pushed],
        [i for i in ids if i not in present and i not in pushed],
    )


def category_members(syncer: Syncer, category_ids: Iterable[int]) -> tuple[list[int], list[int]]:
    """(products in these categories and their descendants — as BigCommerce lists them, and as
    Ometria holds them per the ledger —, the category ids that are neither in the store's tree nor
    in any record we pushed)."""
    sh = syncer.store.store_hash
    wanted = sorted({int(c) for c in category_ids})
    children = syncer.children(refresh=True)
    ctx = syncer.context()
    members: set[int] = set()
    unknown: list[int] = []
    for cid in wanted:
        seen, todo = set(), [cid]
        while todo:
            c = todo.pop()
            if c not in seen:
                seen.add(c)
                todo += children.get(c, [])
        held = support.products_in_categories(syncer.db, sh, seen)
        listed: set[int] = set()
        if cid in ctx.category_names:
            for c in sorted(seen):
                for page in syncer.bc.iter_product_pages(category_id=c, include="", include_fields="id"):
                    listed.update(int(p["id"]) for p in page)
        elif not held:
            unknown.append(cid)
            continue
        members |= held | listed
    return sorted(members), unknown


# --- repair ------------------------------------------------------------------------------------


def _force(syncer: Syncer, repair: Repair, mode: str) -> Repair:
    sh = syncer.store.store_hash
    marked = repair.marked
    if not marked:
        return repair
    support.mark_for_repush(syncer.db, sh, repair.products, repair.gone, DRIFT_FINGERPRINT, mode)
    return repair


def repair_products(syncer: Syncer, product_ids: Sequence[int]) -> Repair:
    """Mark these products for a whole re-push (see the module's docstring); the caller flushes
    (workers.cli.flushing.flush_here, or a wake-up). Ids never known are left alone in `not_found`."""
    present, gone, unknown = split_known(syncer, product_ids)
    repair = Repair(syncer.store.store_hash, products=present, gone=gone, not_found=unknown)
    return _force(syncer, repair, "repair")


def repair_categories(syncer: Syncer, category_ids: Sequence[int]) -> Repair:
    """repair_products for every product of these categories (and their descendants)."""
    members, unknown = category_members(syncer, category_ids)
    present, gone, _never = split_known(syncer, members)
    repair = Repair(syncer.store.store_hash, products=present, gone=gone, categories_not_found=unknown)
    return _force(syncer, repair, "category repair")


def force_all(syncer: Syncer) -> int:
    """Before `resync all --force`: every ledger fingerprint of the store set to DRIFT_FINGERPRINT,
    so the walk pushes every record. Returns the ledger rows reset."""
    return support.force_all(syncer.db, syncer.store.store_hash, DRIFT_FINGERPRINT)


# --- preview -----------------------------------------------------------------------------------


def _planned_whole(syncer: Syncer, products: Sequence[dict], gone: Sequence[int]) -> list[tuple[dict, int]]:
    """Every record a repair pushes: the products' current records, deactivations of their vanished
    variants, and of every record of the gone products."""
    ctx = syncer.context()
    ledger = support.ledger_for(
        syncer.db, syncer.store.store_hash, [int(p["id"]) for p in products] + list(gone)
    )
    by_product: dict[int, list[str]] = {}
    for rid, (pid, _fp) in ledger.items():
        by_product.setdefault(pid, []).append(rid)
    out: list[tuple[dict, int]] = []
    for product in products:
        pid = int(product["id"])
        records = map_product(product, ctx)
        live = {r["id"] for r in records}
        out += [(r, pid) for r in records]
        out += [(deactivation(rid), pid) for rid in sorted(by_product.get(pid, ())) if rid not in live]
    for pid in gone:
        out += [(deactivation(rid), pid) for rid in sorted(by_product.get(pid, ()))]
    return out


def preview_products(syncer: Syncer, product_ids: Sequence[int], limit: int = 500) -> Preview:
    """What `resync product ID… ` would push, field by field, old → new; pushes nothing."""
    present, gone, unknown = split_known(syncer, product_ids)
    products = [
        p
        for i in range(0, len(present), FETCH_BATCH)
        for p in syncer.bc.products_by_ids(present[i : i + FETCH_BATCH])
    ]
    syncer.names_for(products)  # fresh names for new categories, as a flush would
    planned = _planned_whole(syncer, products, gone)
    preview = Preview(syncer.store.store_hash, products=len(products), total=len(planned), not_found=unknown)
    preview.gone = gone
    shown = planned[:limit]
    held = _ometria_copies(syncer, {str(r["id"]) for r, _pid in shown})
    preview.changes = [_record_change(r, pid, held.get(str(r["id"]))) for r, pid in shown]
    return preview


FEW = 40  # up to this many records are read back one by one; more, by one walk of Ometria's catalogue


def _ometria_copies(syncer: Syncer, record_ids: set[str]) -> dict[str, dict[str, Any]]:
    """Ometria's copy of these records (absent: it has none)."""
    if len(record_ids) <= FEW:
        found = {rid: syncer.ometria.product(rid) for rid in sorted(record_ids)}
        return {rid: item for rid, item in found.items() if item is not None}
    held: dict[str, dict[str, Any]] = {}
    for item in syncer.ometria.iter_products():
        rid = str(item.get("id"))
        if rid in record_ids:
            held[rid] = item
    return held


def preview_categories(syncer: Syncer, category_ids: Sequence[int], limit: int = 500) -> Preview:
    members, unknown = category_members(syncer, category_ids)
    preview = preview_products(syncer, members, limit) if members else Preview(syncer.store.store_hash)
    preview.not_found = []
    preview.categories_not_found = unknown
    return preview


def preview_all(syncer: Syncer, force: bool = False, limit: int = 50) -> Preview:
    """What `resync all` (deltas against the ledger) or `resync all --force` (every record) would
    push: the whole catalogue walked, the first `limit` records detailed old → new from Ometria's copy."""
    sh = syncer.store.store_hash
    preview = Preview(sh)
    samples: list[tuple[dict, int]] = []
    seen: set[int] = set()
    for page in syncer.bc.iter_product_pages():
        syncer.names_for(page)
        ids = [int(p["id"]) for p in page]
        seen.update(ids)
        ledger = support.ledger_for(syncer.db, sh, ids)
        if force:
            planned = [(r, pid) for r, pid in _planned_whole(syncer, page, [])]
        else:
            planned = [(r, pid) for r, _fp, pid in syncer.plan(page, [], ledger)]
        preview.products += len(page)
        preview.total += len(planned)
        samples += planned[: max(0, limit - len(samples))]
    known = support.active_products(syncer.db, sh)
    preview.gone = sorted(known - seen)
    if preview.gone:
        gone_planned = _planned_whole(syncer, [], preview.gone)
        if not force:
            fps = {r: fp for r, (_p, fp) in support.ledger_for(syncer.db, sh, preview.gone).items()}
            wanted = {id(r) for r, _fp in changed([r for r, _pid in gone_planned], fps)}
            gone_planned = [(r, pid) for r, pid in gone_planned if id(r) in wanted]
        preview.total += len(gone_planned)
        samples += gone_planned[: max(0, limit - len(samples))]
    held = _ometria_copies(syncer, {str(r["id"]) for r, _pid in samples})
    preview.changes = [_record_change(r, pid, held.get(str(r["id"]))) for r, pid in samples]
    return preview


# --- for the shells ------------------------------------------------------------------------------


def _syncer_for(settings: Settings, store_hash: str) -> Syncer:
    return Syncer(settings, require_store(settings, store_hash))


def preview_for(settings: Settings, store_hash: str, entity: str, ids: Sequence[int]) -> Preview:
    """A dry run of `resync product|category IDS` for a configured store (NotFoundError otherwise):
    `Preview.to_dict()` is JSON-ready; `not_found` / `categories_not_found` list the unknown ids."""
    syncer = _syncer_for(settings, store_hash)
    return preview_categories(syncer, ids) if entity == CATEGORY else preview_products(syncer, ids)


def repair_for(settings: Settings, store_hash: str, entity: str, ids: Sequence[int]) -> Repair:
    """`resync product|category IDS` for a configured store: marks the known products for a whole
    re-push (the caller then wakes a flush for the store) and leaves unknown ids alone, listed in
    `not_found` / `categories_not_found` (say so: 404 / exit 1)."""
    syncer = _syncer_for(settings, store_hash)
    return repair_categories(syncer, ids) if entity == CATEGORY else repair_products(syncer, ids)
