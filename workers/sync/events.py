"""A product's timeline from the event log (`bcsync events --product ID`, the admin page's events).

    events_for_product(settings, store_hash, product_id, since=None, limit=1000) -> list[TimelineEvent]
    recent_events(settings, store_hash, since=None, limit=200) -> list[TimelineEvent]
    known_product(settings, store_hash, product_id) -> bool

Oldest first: each accepted callback for the product (scope, webhook id), each flush batch that
fetched it (batch id, the BigCommerce call, its records changed / unchanged, or gone), each Ometria
push that carried its records (Ometria's request id, accepted / rejected), its failures, replays
and resyncs, and the store's pauses and resumes. `since` is unix seconds (see
workers.store.failures.parse_time for "2h", ISO 8601, …). Events are kept EVENTS_RETENTION_DAYS.
Raises NotFoundError for a store that is not configured; an unknown product is simply an empty
list (`known_product` tells the two apart).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from workers.settings import Settings
from workers.store import events as event_log
from workers.store import support
from workers.store.models import PRODUCT
from workers.sync.known import require_store


def _iso(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class TimelineEvent:
    """One event: `kind` one of callback, flush, push, failure, replay, resync, pause, resume;
    `ref` the webhook id / batch id / Ometria request id / failed-task id it names; `detail` its
    facts (scope, call, records, accepted, rejected, error, …); `summary` one readable line."""

    id: int
    at: float
    kind: str
    store: str
    product_id: int | None
    ref: str | None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def at_iso(self) -> str:
        return _iso(self.at)

    @property
    def summary(self) -> str:
        return describe(self.kind, self.ref, self.detail)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at_iso,
            "kind": self.kind,
            "store": self.store,
            "product_id": self.product_id,
            "ref": self.ref,
            "detail": self.detail,
            "summary": self.summary,
        }


def describe(kind: str, ref: str | None, d: dict[str, Any]) -> str:
    """One line for people, from an event's kind, reference and detail."""
    if kind == event_log.CALLBACK:
        return f"BigCommerce callback {d.get('scope') or '(scope unknown)'}" + (
            f", webhook-id {ref}" if ref else ", no webhook-id (X-Webhook-Secret)"
        )
    if kind == event_log.FLUSH:
        call = d.get("call") or "GET /v3/catalog/products"
        if d.get("gone"):
            return f"batch {ref}: {call} did not return it (gone from the store)"
        return (
            f"batch {ref}: fetched by {call}; {d.get('changed', 0)} record(s) changed, "
            f"{d.get('unchanged', 0)} unchanged"
        )
    if kind == event_log.PUSH:
        records = ", ".join(d.get("records") or ())
        outcome = "accepted" if d.get("accepted") else "rejected"
        if d.get("refused_locally"):
            return f"not sent: {records} refused locally ({d.get('error', '')})"
        return (
            f"Ometria request {ref or '(no request id)'} {outcome}: {records}"
            + (
                f" (request: {d.get('accepted_count')} accepted, {d.get('rejected_count')} rejected)"
                if "accepted_count" in d
                else ""
            )
            + (f"; batch {d['batch']}" if d.get("batch") else "")
        )
    if kind == event_log.FAILURE:
        return f"failed (failed task #{ref}): {d.get('error', '')}".rstrip()
    if kind == event_log.REPLAY:
        return f"replay of failed task #{ref}" + (f": {d['outcome']}" if d.get("outcome") else "")
    if kind == event_log.RESYNC:
        return f"resync ({d.get('mode', 'repair')})" + (f": {d['outcome']}" if d.get("outcome") else "")
    if kind == event_log.PAUSE:
        return f"store paused: {d.get('reason', '')}"
    if kind == event_log.RESUME:
        return "store resumed" + (f" (was: {d['was']})" if d.get("was") else "")
    return kind


def events_for_product(
    settings: Settings, store_hash: str, product_id: int, since: float | None = None, limit: int = 1000
) -> list[TimelineEvent]:
    """The product's timeline (and the store's pauses/resumes), oldest first, at most `limit`
    (the newest ones when there are more)."""
    require_store(settings, store_hash)
    rows = support.timeline(settings.database_url, store_hash, PRODUCT, int(product_id), since, limit)
    return [_view(r) for r in rows]


def recent_events(
    settings: Settings, store_hash: str, since: float | None = None, limit: int = 200
) -> list[TimelineEvent]:
    """The store's latest events (every product), oldest first."""
    require_store(settings, store_hash)
    return [_view(r) for r in support.recent_events(settings.database_url, store_hash, since, limit)]


def _view(r: dict[str, Any]) -> TimelineEvent:
    return TimelineEvent(
        id=r["id"],
        at=r["at"],
        kind=r["kind"],
        store=r["store"],
        product_id=r["entity_id"],
        ref=r["ref"],
        detail=r["detail"],
    )


def known_product(settings: Settings, store_hash: str, product_id: int) -> bool:
    """Whether we know of the product at all: an event in the log or a record ever pushed."""
    require_store(settings, store_hash)
    return support.known_product(settings.database_url, store_hash, int(product_id))
