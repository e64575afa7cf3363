"""The store's state and its event stream: every section of `Store` (see `sandbox.store`) works on the
tables set up here, under one re-entrant lock, and reports what it changed through `_emit`."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable

from sandbox.store.common import EPOCH_BASE, Listener, NotFound, Result, _copy_data, sku_data


class StoreState:
    """Tables, ids, lock, listeners and the callback log shared by the store's sections."""

    def _init_state(
        self,
        store_hash: str,
        site_url: str,
        currency: str,
        seed: int,
        clock: Callable[[], float],
        categories_in: str,
    ) -> None:
        self.store_hash = store_hash
        self.site_url = site_url
        self.currency = currency
        self.seed = seed
        self.clock = clock
        # `categories:in=a,b`: the spec reads "in all of them", common use (and FACTS.md) "in any";
        # "any" by default, switchable (POST /_sandbox/config) so clients can be tested against both.
        self.categories_in = categories_in
        self.created_at = EPOCH_BASE - 86400 * 30
        self._cdn = f"https://cdn11.bigcommerce.com/s-{store_hash}"
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._events: deque[dict] = deque(maxlen=200_000)
        self._event_counts: Counter[str] = Counter()
        self._event_seq = 0
        self._products: dict[int, dict] = {}
        self._names: dict[str, int] = {}  # product names are unique in BigCommerce
        self._ids: list[int] = []  # sorted product ids
        self._modified: dict[int, int] = {}  # product id -> date_modified epoch
        self._variants: dict[int, list[dict]] = {}  # option variants of complex products
        self._images: dict[int, list[dict]] = {}
        self._custom_fields: dict[int, list[dict]] = {}
        self._by_category: dict[int, set[int]] = {}
        self._categories: dict[int, dict] = {}
        self._brands: dict[int, dict] = {}
        self._hooks: dict[int, dict] = {}
        self._pending: set[int] = set()  # products whose details are not generated yet
        self.details_seconds = 0.0
        self.generation_seconds = 0.0
        # Details (variants, images, custom fields) are made on first use; a big store also fills them in
        # the background so that later reads find them ready. `wait_ready()` waits for that.
        self._ready = threading.Event()
        self._next = {  # ids of entities created after generation
            "product": 1,
            "variant": 1_000_000_001,
            "option": 1_000_000_001,
            "value": 1_000_000_001,
            "image": 1_000_000_001,
            "field": 1_000_000_001,
            "category": 18,
            "brand": 35,
            "hook": 22561593,
            "metafield": 1,
            "price_list": 1,
            "assignment": 1,
        }
        self._metafields: dict[int, dict] = {}  # metafield id -> record (its product is "pid")
        self._product_metafields: dict[int, list[int]] = {}  # product id -> its metafield ids
        # storefronts, currencies, price lists: set up by `Store.__init__` (storefront_generation)
        self._channels: dict[int, dict] = {}
        self._channel_products: dict[int, set[int]] = {}
        self._trees: dict[int, dict] = {}
        self._currencies: dict[str, dict] = {}
        self._price_lists: dict[int, dict] = {}
        self._pl_assignments: dict[int, dict] = {}
        self._price_records: dict[int, dict[tuple[int, str], dict]] = {}
        self.channel_callbacks = False  # store/channel/{id}/category/* callbacks (multi-storefront only)

    def _id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    # ------------------------------------------------------------------ lookups every section uses
    def _core(self, product_id: int) -> dict:
        core = self._products.get(product_id)
        if core is None:
            raise NotFound(f"product {product_id}")
        self._details(product_id)
        return core

    def _touch(self, pid: int) -> None:
        self._modified[pid] = int(self.clock())

    # ------------------------------------------------------------------ events
    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def events(self, since: int = 0) -> list[dict]:
        """Callbacks fired (the newest 200,000), each {"seq", "scope", "data", "at"}, with seq > `since`."""
        with self._lock:
            return [e for e in self._events if e["seq"] > since]

    def event_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._event_counts)

    @property
    def last_event_seq(self) -> int:
        with self._lock:
            return self._event_seq

    def replay(self, scope: str, data: dict) -> Result:
        """Fire a callback without changing anything: what a BigCommerce re-delivery looks like."""
        return self._emit([(scope, data)])

    def _emit(self, pending: list[tuple[str, dict]], entity: dict | None = None) -> Result:
        with self._lock:
            listeners = list(self._listeners)
            now = self.clock()
            out = []
            for scope, data in pending:
                self._event_seq += 1
                self._event_counts[scope] += 1
                self._events.append({"seq": self._event_seq, "scope": scope, "data": data, "at": now})
                out.append({"scope": scope, "data": data})
        for event in out:  # outside the lock: a listener may read the store
            for listener in listeners:
                listener(event["scope"], _copy_data(event["data"]))
        return Result(events=out, entity=entity)

    @staticmethod
    def _product_event(scope: str, pid: int) -> tuple[str, dict]:
        return scope, {"type": "product", "id": pid}

    @staticmethod
    def _sku_event(scope: str, pid: int, variant: dict) -> tuple[str, dict]:
        return scope, sku_data(pid, variant)
