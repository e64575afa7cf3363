"""What a flush pushes: map the fetched products, keep the records whose fingerprint changed, and
deactivate gone products and variants that vanished from a product that remains (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from workers.domain.fingerprint import changed
from workers.domain.mapping import MappingContext, Prices, deactivation, map_product

Planned = tuple[dict, str, int]  # (record, fingerprint, product id)


def plan(
    ctx: MappingContext,
    products: Sequence[dict],
    gone_ids: Iterable[int],
    ledger: dict[str, tuple[int, str]],
    prices: Prices | None = None,
    metafields: Mapping[int, Mapping[str, str]] | None = None,
) -> list[Planned]:
    """The records to push (record, fingerprint, product id): changed ones, plus deactivations
    of gone products and of variants that vanished from a product that remains. `ledger` is
    {record id: (product id, fingerprint)} of what Ometria last accepted; `prices` the
    price-list records and `metafields` the products' metafields (by product id) to map with."""
    metafields = metafields or {}
    fps = {rid: fp for rid, (_pid, fp) in ledger.items()}
    by_product: dict[int, list[str]] = {}
    for rid, (pid, _fp) in ledger.items():
        by_product.setdefault(pid, []).append(rid)
    out: list[Planned] = []
    for product in products:
        pid = int(product["id"])
        records = map_product(product, ctx, prices, metafields.get(pid))
        live = {r["id"] for r in records}
        stale = [deactivation(rid) for rid in by_product.get(pid, ()) if rid not in live]
        out += [(r, fp, pid) for r, fp in changed([*records, *stale], fps)]
    for pid in gone_ids:
        out += [
            (r, fp, pid) for r, fp in changed([deactivation(rid) for rid in by_product.get(pid, ())], fps)
        ]
    return out
