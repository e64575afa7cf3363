"""The transactions a store's sync runs (`workers.sync`), one method each, so that the use cases
never hold a session: claim and release a batch, renew its lease, record what Ometria accepted,
apply the failure policy's verdict, the lookups cache, the sweep watermark."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from workers.store import dirty, ledger, liveness, storefronts
from workers.store.engine import session_scope
from workers.store.failures import record_failure
from workers.store.models import PRODUCT
from workers.store.state import pause_store, store_state


@dataclass(frozen=True)
class Verdict:
    """What to do with a failed batch's rows (decided by `workers.sync.failure`):
    - `pause`: the store pauses until `at`; rows retried then; one store-wide failed entry;
    - `defer`: rows claimable again from `at`, no attempt counted (flow control);
    - `drop`: rows leave the dirty list for the failed list, `attempts` recorded;
    - `retry`: rows claimable again from `at`, one more attempt counted."""

    action: Literal["pause", "defer", "drop", "retry"]
    error: str
    at: float = 0.0
    kind: str = "transient"
    traceback: str = ""
    attempts: int = 1
    retry_in: float | None = None  # seconds from the decision to `at`


class FlushStore:
    """The database side of one store's sync (`url` + `store_hash`)."""

    def __init__(self, url: str, store_hash: str) -> None:
        self.url, self.store_hash = url, store_hash

    # --- lookups cache and pause ------------------------------------------------------------

    def lookups(self) -> tuple[dict[str, Any] | None, float]:
        """The cached lookups (category tree, brands, site URL, currency) and when they were fetched."""
        with session_scope(self.url) as s:
            state = store_state(s, self.store_hash)
            return state.lookups, state.lookups_at

    def save_lookups(self, cached: dict[str, Any], at: float) -> None:
        with session_scope(self.url) as s:
            state = store_state(s, self.store_hash)
            state.lookups, state.lookups_at = cached, at

    def paused_until(self) -> float:
        with session_scope(self.url) as s:
            return store_state(s, self.store_hash).paused_until

    # --- a batch's claim --------------------------------------------------------------------

    def backlog(self, entity: str, now: float) -> tuple[int, float, float]:
        with session_scope(self.url) as s:
            return dirty.backlog(s, self.store_hash, entity, now)

    def claim(self, entity: str, token: str, limit: int, lease_seconds: float) -> dict[int, int]:
        with session_scope(self.url) as s:
            return dirty.claim(s, self.store_hash, entity, token, limit, lease_seconds)

    def renew(self, token: str, ids: Iterable[int], lease_seconds: float) -> set[int]:
        with session_scope(self.url) as s:
            return dirty.renew_lease(s, self.store_hash, PRODUCT, token, ids, lease_seconds)

    def finish(self, token: str, ids: Sequence[int]) -> int:
        """The batch went through: its rows' failures are forgotten, and the rows whose version
        did not move are released (the others stay dirty). Returns the rows released."""
        with session_scope(self.url) as s:
            dirty.clear_attempts(s, self.store_hash, PRODUCT, token, ids)
            released = dirty.release_done(s, self.store_hash, PRODUCT, token, ids)
        with session_scope(self.url) as s:  # liveness, apart: store_state is never locked with rows
            liveness.record_flush(s, self.store_hash, pushed=False)
        return released

    def release(self, entity: str, token: str, ids: Sequence[int]) -> int:
        with session_scope(self.url) as s:
            return dirty.release_done(s, self.store_hash, entity, token, ids)

    def release_failed(
        self, entity: str, token: str, ids: Sequence[int], error: str, retry_at: float
    ) -> None:
        with session_scope(self.url) as s:
            dirty.release_failed(s, self.store_hash, entity, token, ids, error, retry_at)

    def give_back(self, token: str, ids: Sequence[int]) -> None:
        """Rows claimable again at once, no attempt counted (an interrupted flush)."""
        with session_scope(self.url) as s:
            dirty.give_back(s, self.store_hash, PRODUCT, token, ids)

    def fail(self, token: str, ids: list[int], decide: Callable[[int], Verdict]) -> Verdict:
        """Apply to the claimed rows what `decide(attempts)` says, in the transaction that counts
        the attempts (the most any of the rows has had, plus this one)."""
        sh = self.store_hash
        with session_scope(self.url) as s:
            verdict = decide(dirty.attempts_so_far(s, sh, PRODUCT, token, ids) + 1)
            if verdict.action == "pause":
                pause_store(s, sh, verdict.at, verdict.error)
                dirty.release_failed(s, sh, PRODUCT, token, ids, verdict.error, verdict.at)
                record_failure(
                    s,
                    store_hash=sh,
                    task="flush",
                    entity=PRODUCT,
                    entity_ids=[],
                    kind=verdict.kind,
                    error=verdict.error,
                    traceback=verdict.traceback,
                )
            elif verdict.action == "defer":
                dirty.give_back(s, sh, PRODUCT, token, ids, not_before=verdict.at, error=verdict.error)
            elif verdict.action == "drop":
                record_failure(
                    s,
                    store_hash=sh,
                    task="flush",
                    entity=PRODUCT,
                    entity_ids=ids,
                    kind=verdict.kind,
                    error=verdict.error,
                    traceback=verdict.traceback,
                    attempts=verdict.attempts,
                )
                dirty.drop_dirty(s, sh, PRODUCT, ids)
            else:
                dirty.release_failed(s, sh, PRODUCT, token, ids, verdict.error, verdict.at)
        return verdict

    def record_refused(self, record_id: str, product_id: int, error: str) -> None:
        """One record Ometria refuses for good: to the failed list under its product."""
        with session_scope(self.url) as s:
            record_failure(
                s,
                store_hash=self.store_hash,
                task="flush",
                entity=PRODUCT,
                entity_ids=[product_id],
                kind="permanent",
                error=error,
                record_id=record_id,
            )

    # --- ledger -----------------------------------------------------------------------------

    def ledger_for(self, product_ids: Sequence[int]) -> dict[str, tuple[int, str]]:
        with session_scope(self.url) as s:
            return ledger.ledger_for_products(s, self.store_hash, product_ids)

    def record_pushed(
        self, entries: Sequence[tuple[str, int, str, bool]], categories: Mapping[str, Sequence[int]]
    ) -> None:
        with session_scope(self.url) as s:
            ledger.record_pushed(s, self.store_hash, entries, categories=categories)
        with session_scope(self.url) as s:  # liveness: the last push Ometria accepted
            liveness.record_push(s, self.store_hash)

    # --- marking dirty: categories, resync, sweep ---------------------------------------------

    def mark(self, ids: Iterable[int], reason: str) -> int:
        with session_scope(self.url) as s:
            return dirty.mark_dirty(s, self.store_hash, PRODUCT, ids, reason)

    def mark_held_in(self, category_ids: Iterable[int], reason: str) -> set[int]:
        """Mark dirty the products whose record Ometria holds in any of these categories (per the
        ledger: also a deleted category's products); returns them."""
        with session_scope(self.url) as s:
            marked = ledger.products_in_categories(s, self.store_hash, category_ids)
            dirty.mark_dirty(s, self.store_hash, PRODUCT, sorted(marked), reason)
            return marked

    def claim_page(
        self, ids: Sequence[int], fetched_at: float, token: str, lease_seconds: float, dry_run: bool
    ) -> tuple[dict[str, tuple[int, str]], set[int] | None]:
        """A resync page: its ledger rows, and (unless `dry_run`) the products it now owns —
        claimed as new dirty rows, leaving out those already dirty or pushed since `fetched_at`."""
        sh = self.store_hash
        with session_scope(self.url) as s:
            rows = ledger.ledger_for_products(s, sh, ids)
            if dry_run:
                return rows, None
            recent = ledger.pushed_since(s, sh, ids, fetched_at)
            owned = dirty.claim_new(
                s, sh, PRODUCT, [i for i in ids if i not in recent], token, lease_seconds, "resync"
            )
            return rows, owned

    def mark_gone(self, started: float, seen: set[int], dry_run: bool) -> int:
        """Products Ometria has active (per the ledger, pushed before `started`) that a full walk did
        not see: marked dirty (unless `dry_run`) so a flush confirms they are gone. Returns how many."""
        with session_scope(self.url) as s:
            gone = sorted(ledger.active_products_pushed_before(s, self.store_hash, started) - seen)
            if gone and not dry_run:
                dirty.mark_dirty(s, self.store_hash, PRODUCT, gone, "resync-gone")
            return len(gone)

    def record_variants(
        self, pairs: Iterable[tuple[int, int]], metafield_products: Sequence[int]
    ) -> dict[int, dict[str, str]]:
        """Remember whose each variant is (price-list callbacks name variants) and read the
        metafields of `metafield_products` (none when empty), in one transaction."""
        with session_scope(self.url) as s:
            storefronts.record_variants(s, self.store_hash, pairs)
            return (
                storefronts.metafields_for(s, self.store_hash, metafield_products)
                if metafield_products
                else {}
            )

    def sweep_watermark(self) -> float:
        with session_scope(self.url) as s:
            return store_state(s, self.store_hash).last_sweep_at

    def set_sweep_watermark(self, at: float) -> None:
        with session_scope(self.url) as s:
            store_state(s, self.store_hash).last_sweep_at = at
