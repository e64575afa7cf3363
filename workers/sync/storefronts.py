"""Storefronts (issue 12): the per-store lookups of the configured channels, the price-list records
and metafields a flush needs, and the storefront callbacks that name no product turned into dirty
products. Nothing here costs a BigCommerce call per product:

- lookups (cached with the category and brand names, refreshed on the same schedule and by the
  callbacks that change them): each channel's site, default currency (`currency-assignments`), the
  anonymous shopper's price list (the channel's assignment without a customer group, if active),
  `/v2/currencies` for the exchange rates, and which category trees serve which channels;
- price-list records: per flush, per price list in use, one `product_id:in` call (paged) per 250
  products;
- metafields of the configured namespaces: from the `product_metafields` table, kept current by
  the metafield callbacks (one `resource_id:in` call per 250 products named) and the
  `date_modified` sweep of `/catalog/products/metafields`.

A lookup a token may lack the scope for (price lists, currency assignments, trees) answering 403 or
404 counts as "none" with a warning, so a store whose API account predates these features keeps
syncing as before; `bcsync doctor` names the missing scope.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from workers.clients.bigcommerce import MAX_PAGE, BigCommerceClient, CategoryTree
from workers.domain.errors import ConfigurationError
from workers.domain.mapping import Channel, MappingContext, Prices, default_store_id
from workers.settings import StoreConfig
from workers.store import storefronts as table
from workers.store.storage import METAFIELD, PRICE_LIST, TREE, VARIANT

log = logging.getLogger(__name__)


def _optional(what: str, store_hash: str, call: Any, default: Any) -> Any:
    try:
        return call()
    except ConfigurationError as exc:
        if exc.status not in (403, 404):
            raise
        log.warning("store %s: %s unavailable (%s); treated as none", store_hash, what, exc)
        return default


def fetch_lookups(bc: BigCommerceClient, store: StoreConfig, tree: CategoryTree, currency: str) -> dict:
    """The storefront part of the cached lookups (JSON-able)."""
    sh, channel_ids = store.store_hash, list(store.channel_ids)
    trees = _optional("category trees", sh, lambda: bc.channel_trees(channel_ids), {})
    channels: list[dict[str, Any]] = []
    for cid in channel_ids:
        code = _optional("currency assignments", sh, lambda c=cid: bc.channel_currency(c), None)
        channels.append({"id": cid, "site_url": bc.site_url(cid), "currency": (code or currency).upper()})
    assignments = _optional("price-list assignments", sh, lambda: bc.price_list_assignments(channel_ids), [])
    anonymous: dict[int, int] = {}
    for a in assignments:
        cid, pl = a.get("channel_id"), a.get("price_list_id")
        if isinstance(cid, int) and isinstance(pl, int) and not a.get("customer_group_id"):
            anonymous[cid] = min(pl, anonymous.get(cid, pl))
    active = _optional("price lists", sh, bc.price_lists, {}) if anonymous else {}
    foreign = {c["currency"] for c in channels} - {currency.upper()}
    rates: dict[str, tuple[float, int]] = {}
    if foreign:
        for row in bc.currencies():
            code = str(row.get("currency_code") or "").upper()
            try:
                rates[code] = (float(row["currency_exchange_rate"]), int(row.get("decimal_places", 2)))
            except (KeyError, TypeError, ValueError):
                continue
    for ch in channels:
        pl = anonymous.get(ch["id"])
        ch["price_list_id"] = pl if pl is not None and active.get(pl) else None
        if ch["currency"] in foreign:
            if ch["currency"] not in rates:
                log.warning("store %s: no exchange rate for %s; prices left unconverted", sh, ch["currency"])
            rate, places = rates.get(ch["currency"], (None, 2))
            ch["rate"], ch["places"] = rate, places
    allowed: list[int] | None = None
    if trees and tree.trees:
        allowed = sorted({c for tid in trees for c in tree.trees.get(tid, ())})
    return {"channels": channels, "tree_ids": sorted(trees), "allowed_categories": allowed}


def build_context(cached: Mapping[str, Any], store: StoreConfig) -> MappingContext:
    """The mapping context of the cached lookups (older caches without channels: one channel)."""
    site_url = str(cached["site_url"]).rstrip("/")
    primary_store = store.store_id_for(store.channel_ids[0]) or default_store_id(site_url)
    channels = tuple(
        Channel(
            id=int(ch["id"]),
            store_id=store.store_id_for(int(ch["id"])),
            site_url=str(ch["site_url"]),
            currency=str(ch["currency"]),
            rate=ch.get("rate"),
            decimal_places=int(ch.get("places", 2)),
            price_list_id=ch.get("price_list_id"),
        )
        for ch in cached.get("channels") or ()
    )
    allowed = cached.get("allowed_categories")
    return MappingContext(
        currency=cached["currency"],
        site_url=site_url,
        store_id=primary_store,
        category_names={int(k): v for k, v in cached["categories"].items()},
        brand_names={int(k): v for k, v in cached["brands"].items()},
        channels=channels,
        categories=None if allowed is None else frozenset(int(c) for c in allowed),
    )


def price_lists_in_use(ctx: MappingContext) -> dict[int, set[str]]:
    """Price list id -> the currencies the configured channels read from it."""
    out: dict[int, set[str]] = {}
    for ch in ctx.channels:
        if ch.price_list_id is not None:
            out.setdefault(ch.price_list_id, set()).add(ch.currency)
    return out


def fetch_prices(bc: BigCommerceClient, ctx: MappingContext, product_ids: Sequence[int]) -> Prices:
    """The records of these products in every price list in use: per list, one call (paged) per
    250 products, of the one currency the channels read when there is one."""
    prices: dict[tuple[int, int, str], tuple[Any, Any]] = {}
    ids = sorted({int(i) for i in product_ids})
    for pl, currencies in sorted(price_lists_in_use(ctx).items()):
        only = next(iter(currencies)) if len(currencies) == 1 else None
        for start in range(0, len(ids), MAX_PAGE):
            for r in bc.price_records(pl, ids[start : start + MAX_PAGE], currency=only):
                vid, code = r.get("variant_id"), str(r.get("currency") or "").upper()
                if isinstance(vid, int) and code in currencies:
                    prices[(pl, vid, code)] = (r.get("price"), r.get("sale_price"))
    return prices


def variant_pairs(products: Iterable[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """(variant id, product id) of every variant of these products (base variants too)."""
    out = []
    for p in products:
        pid = p.get("id")
        for v in p.get("variants") or ():
            if isinstance(v, dict) and isinstance(v.get("id"), int) and isinstance(pid, int):
                out.append((v["id"], pid))
    return out


def category_membership_changed(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> set[int]:
    """Categories that joined or left the configured channels' trees between two lookups."""
    old = (before or {}).get("allowed_categories")
    new = after.get("allowed_categories")
    if old is None and new is None:
        return set()
    every = set((before or {}).get("categories") or ()) | set(after.get("categories") or ())
    old_set = {int(c) for c in old} if old is not None else {int(c) for c in every}
    new_set = {int(c) for c in new} if new is not None else {int(c) for c in every}
    return old_set ^ new_set


def lists_of(cached: Mapping[str, Any] | None) -> set[int]:
    return {
        int(ch["price_list_id"]) for ch in (cached or {}).get("channels") or () if ch.get("price_list_id")
    }


# --- storefront callbacks -> dirty products ------------------------------------------------------


def expand(syncer: Any, limit: int = 500) -> int:
    """Turn dirty variants, price lists, trees and metafield-changed products into dirty products
    (`syncer`: a workers.sync.flush.Syncer). Returns how many products were marked."""
    sh, db = syncer.store.store_hash, syncer.db
    marked = 0
    for entity in (VARIANT, METAFIELD, PRICE_LIST, TREE):
        token = uuid.uuid4().hex
        claimed = table.claim_rows(db, sh, entity, token, limit, syncer.lease)
        if not claimed:
            continue
        try:
            products: set[int] = set()
            categories: set[int] = set()
            if entity == VARIANT:
                owners = table.variant_owners(db, sh, claimed)
                products = set(owners.values())
                unknown = sorted(set(claimed) - set(owners))
                if unknown:
                    log.info(
                        "store %s: %d price-list variant(s) not seen yet: %s", sh, len(unknown), unknown[:10]
                    )
            elif entity == METAFIELD:
                spaces = list(syncer.store.metafield_namespaces)
                for start in range(0, len(claimed), MAX_PAGE) if spaces else ():
                    chunk = claimed[start : start + MAX_PAGE]
                    rows = [
                        m for page in syncer.bc.product_metafields(spaces, product_ids=chunk) for m in page
                    ]
                    products |= table.store_metafields(db, sh, chunk, rows)
            elif entity == PRICE_LIST:
                before = syncer.lookups()
                syncer.context(refresh=True)  # the assignment or the list's state may have changed
                after = syncer.lookups()
                in_use = lists_of(before) | lists_of(after)
                for pl in claimed:
                    if pl not in in_use:
                        continue  # no configured channel reads it, before or now: nothing changes
                    try:
                        products |= syncer.bc.price_list_product_ids(pl)
                    except ConfigurationError as exc:
                        if exc.status != 404:
                            raise
                        # deleted: whatever Ometria holds may have its prices
                        products |= table.active_product_ids(db, sh)
            else:  # TREE
                before = syncer.lookups()
                syncer.context(refresh=True)
                categories = category_membership_changed(before, syncer.lookups())
            marked += table.finish_expansion(
                db, sh, entity, token, claimed, sorted(products), sorted(categories)
            )
        except Exception as exc:  # noqa: BLE001 — given back for a later retry, whatever went wrong
            retry = time.time() + max(5.0, float(getattr(exc, "retry_after", None) or 0.0))
            table.give_back(db, sh, entity, token, claimed, str(exc)[:500], retry)
            log.warning("store %s: expanding dirty %s rows failed, will retry: %s", sh, entity, exc)
    return marked


def sweep_metafields(syncer: Any, since_stamp: str) -> int:
    """Metafields of the configured namespaces modified since `since_stamp`: into the table, and
    the products whose metafields changed marked dirty. Returns products marked."""
    spaces = list(syncer.store.metafield_namespaces)
    if not spaces:
        return 0
    sh, marked = syncer.store.store_hash, 0
    for page in syncer.bc.product_metafields(spaces, date_modified_min=since_stamp):
        marked += table.merge_metafields(syncer.db, sh, page, "metafield")
    return marked


def load_metafields(syncer: Any) -> int:
    """Every metafield of the configured namespaces (the initial load, `resync all`): the table
    becomes exactly what BigCommerce has, a page of 250 a call. Returns how many were read."""
    spaces = list(syncer.store.metafield_namespaces)
    if not spaces:
        return 0
    rows = [m for page in syncer.bc.product_metafields(spaces) for m in page]
    table.reload_metafields(syncer.db, syncer.store.store_hash, rows)
    return len(rows)
