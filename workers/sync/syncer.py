"""`Syncer`: one store's config, its two clients, its rows in the database and the cached lookups;
its methods are the use cases, each in its own module of `workers.sync`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from workers.clients.bigcommerce import BigCommerceClient
from workers.clients.budget import bigcommerce_budget, ometria_budget
from workers.clients.ometria import OmetriaClient
from workers.domain.mapping import MappingContext, Prices, missing_names
from workers.settings import Settings, StoreConfig
from workers.store.flushes import FlushStore
from workers.sync import batch, categories, plan, push, resync, rolling, storefronts, sweep
from workers.sync.batch import FlushReport
from workers.sync.resync import ResyncReport

LOOKUP_TTL = 900.0
NAMES_REFRESH = 60.0  # a product names a category or brand we do not know: refresh at most this often


class Syncer:
    """Everything one store needs to sync: its config, the two clients, the cached lookups."""

    def __init__(
        self,
        settings: Settings,
        store: StoreConfig,
        *,
        bc: BigCommerceClient | None = None,
        ometria: OmetriaClient | None = None,
        lease_seconds: float | None = None,
    ) -> None:
        self.settings, self.store, self.db = settings, store, settings.database_url
        self.bc = bc or BigCommerceClient(
            store, budget=bigcommerce_budget(self.db, store.store_hash, store.rate_reserve)
        )
        self.ometria = ometria or OmetriaClient(
            store, budget=ometria_budget(self.db, store.store_hash, store.ometria_push_rate)
        )
        self.lease = lease_seconds if lease_seconds is not None else settings.lease_seconds
        self.rows = FlushStore(self.db, store.store_hash)
        self._ctx: MappingContext | None = None
        self._ctx_at = 0.0
        self._children: dict[int, list[int]] = {}
        self._lookups: dict = {}

    # --- lookups ---------------------------------------------------------------------------

    def context(self, refresh: bool = False) -> MappingContext:
        """Category and brand names, site URL and currency, cached in the database for every
        process: refetched when stale (LOOKUP_TTL) or on `refresh` (a category changed); a process
        rebuilds its copy whenever another one refreshed the cache."""
        now = time.time()
        cached, cached_at = self.rows.lookups()
        stale = not cached or "children" not in cached or "channels" not in cached
        if refresh or stale or now - cached_at > LOOKUP_TTL:
            tree = self.bc.category_tree()
            currency = self.bc.currency()
            storefront = storefronts.fetch_lookups(self.bc, self.store, tree, currency)
            cached = {
                "categories": {str(k): v for k, v in tree.names.items()},
                "children": {str(k): v for k, v in tree.children.items()},
                "brands": {str(k): v for k, v in self.bc.brand_names().items()},
                "site_url": storefront["channels"][0]["site_url"],
                "currency": currency,
                **storefront,
            }
            cached_at = now
            self.rows.save_lookups(cached, cached_at)
        if self._ctx is None or cached_at != self._ctx_at:
            assert cached is not None  # fetched above when there was none
            self._ctx = storefronts.build_context(cached, self.store)
            self._lookups = dict(cached)
            self._children = {int(k): [int(c) for c in v] for k, v in cached["children"].items()}
            self._ctx_at = cached_at
        return self._ctx

    def lookups(self) -> dict:
        """The cached lookups as last loaded (JSON-able), loading them first if needed."""
        self.context()
        return self._lookups

    def extras(self, products: Sequence[dict]) -> tuple[Prices, dict[int, dict[str, str]]]:
        """What mapping these products needs beyond them: the price-list records of the lists in
        use (per list, one call per 250 products, never per product) and their metafields (from
        the database); also remembers whose each variant is (price-list callbacks name variants)."""
        ids = [int(p["id"]) for p in products]
        prices = storefronts.fetch_prices(self.bc, self.context(), ids) if ids else {}
        metafields = self.rows.record_variants(
            storefronts.variant_pairs(products), ids if self.store.metafield_namespaces else []
        )
        return prices, metafields

    def children(self, refresh: bool = False) -> dict[int, list[int]]:
        """The category tree as {category id: child ids}, from the same cache as `context`."""
        self.context(refresh=refresh)
        return self._children

    def names_for(self, products: Sequence[dict]) -> None:
        """A product in a category or of a brand we have no name for (created since the last
        refresh): refresh the lookups first, at most once a minute."""
        missing_categories, missing_brands = missing_names(products, self.context())
        if (missing_categories or missing_brands) and time.time() - self._ctx_at > NAMES_REFRESH:
            self.context(refresh=True)

    # --- the use cases -----------------------------------------------------------------------

    def plan(
        self, products: Sequence[dict], gone_ids: Iterable[int], ledger: dict[str, tuple[int, str]]
    ) -> list[tuple[dict, str, int]]:
        """The records to push (record, fingerprint, product id): see `workers.sync.plan`."""
        ctx = self.context()
        prices, metafields = self.extras(products)
        return plan.plan(ctx, products, gone_ids, ledger, prices, metafields)

    def push(
        self, planned: Sequence[tuple[dict, str, int]], token: str | None = None
    ) -> tuple[int, int, list]:
        """Push in requests of ≤100: see `workers.sync.push`. Returns (pushed, requests, refused)."""
        return push.push(self, planned, token)

    def settle_time(self, now: float | None = None) -> float:
        """Seconds to let the store's backlog settle before a flush (0: flush now)."""
        return batch.settle_time(self, now)

    def paused(self) -> float:
        """Seconds the store stays paused (a configuration error), 0 when it is not."""
        return batch.paused(self)

    def flush_batch(self) -> FlushReport | None:
        """Flush one batch of dirty products. None when there was nothing to claim."""
        return batch.flush_batch(self)

    def expand_categories(self) -> int:
        """Turn dirty categories into dirty products: see `workers.sync.categories`."""
        return categories.expand_categories(self)

    def resync_all(
        self, dry_run: bool = False, progress: Callable[[ResyncReport], None] | None = None
    ) -> ResyncReport:
        """Stream the whole catalogue and push only what changed: see `workers.sync.resync`."""
        return resync.resync_all(self, dry_run=dry_run, progress=progress)

    def rolling_step(self, now: float | None = None) -> rolling.RollingReport:
        """One tick of the rolling resync: see `workers.sync.rolling`."""
        return rolling.rolling_step(self, now)

    def sweep_modified(self, overlap: float = 120.0) -> int:
        """Mark dirty what the store modified since the last sweep: see `workers.sync.sweep`."""
        return sweep.sweep_modified(self, overlap)
