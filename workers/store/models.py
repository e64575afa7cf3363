"""The tables (SQLAlchemy models): dirty rows, the ledger, failures, webhook ids, beat runs,
heartbeats, per-store state, the shared rate budget, admin sessions and wrong-token counts. Times are
float unix seconds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from workers.domain.text import clean

PRODUCT = "product"
CATEGORY = "category"
# storefront callbacks that name no product (issue 12): a worker turns them into dirty products
VARIANT = "variant"  # a price-list record's variant: its product (workers.store.storefronts)
PRICE_LIST = "pricelist"  # a price list changed as a whole: the products it prices
TREE = "tree"  # a channel's category tree: the products in its categories
METAFIELD = "metafield"  # a product whose metafields changed: read them again, then the product


class Base(DeclarativeBase):
    pass


class CleanText(TypeDecorator[str]):
    """Text that may come from upstream (error texts, response excerpts, Ometria's error_message):
    written and read back without escape sequences or control characters (workers.domain.text.clean),
    so neither a terminal nor a page ever gets them, whatever wrote the row and whenever."""

    impl: type[TypeEngine[Any]] = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return clean(value) if isinstance(value, str) else value

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return clean(value) if isinstance(value, str) else value


class CleanString(CleanText):
    """CleanText for a VARCHAR column."""

    impl = String
    cache_ok = True


class Dirty(Base):
    __tablename__ = "dirty"
    store_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    entity: Mapped[str] = mapped_column(String(16), primary_key=True)
    entity_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str] = mapped_column(String(32), default="webhook")
    first_seen: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    not_before: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(CleanText, nullable=True)

    __table_args__ = (Index("ix_dirty_claimable", "store_hash", "entity", "lease_until", "not_before"),)


class Ledger(Base):
    __tablename__ = "ledger"
    store_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    product_id: Mapped[int] = mapped_column(BigInteger, index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    pushed_at: Mapped[float] = mapped_column(Float)
    # the category ids of the parent record Ometria holds, as ",12,15," (NULL: none, or a variant):
    # products of a deleted category no longer show in BigCommerce's categories:in, but here.
    categories: Mapped[str | None] = mapped_column(Text, nullable=True)


class FailedTask(Base):
    __tablename__ = "failed_tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_hash: Mapped[str] = mapped_column(String(64), index=True)
    task: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(16))
    entity_ids: Mapped[list[int]] = mapped_column(JSON)
    record_id: Mapped[str | None] = mapped_column(CleanString(128), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # transient | permanent | configuration
    error: Mapped[str] = mapped_column(CleanText)
    traceback: Mapped[str] = mapped_column(CleanText, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_failed_at: Mapped[float] = mapped_column(Float)
    last_failed_at: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="failed", index=True)  # failed|replayed|discarded


class SeenWebhook(Base):
    """A callback's webhook id already recorded for a store: `digest` is the SHA-256 (hex) of the whole
    `webhook-id` (workers.store.state.webhook_digest): two stores may send the same id, and ids of any
    length never collide."""

    __tablename__ = "seen_webhooks"
    store_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[float] = mapped_column(Float, index=True)


class BeatRun(Base):
    """When each beat schedule entry last ran: shared by every beat, so the schedule survives a restart
    and two beats running at once (a rolling deploy) run each entry once per interval."""

    __tablename__ = "beat_runs"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[float] = mapped_column(Float)
    beat: Mapped[str] = mapped_column(String(128))  # host:pid of the beat that ran it


class Heartbeat(Base):
    """The last sign of life of each long-running process (beat ticks; workers)."""

    __tablename__ = "heartbeats"
    part: Mapped[str] = mapped_column(String(16), primary_key=True)  # worker | beat
    process: Mapped[str] = mapped_column(String(128), primary_key=True)  # host:pid
    last_seen: Mapped[float] = mapped_column(Float, index=True)
    started_at: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")  # first heartbeat


class StoreState(Base):
    __tablename__ = "store_state"
    store_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    lookups: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    lookups_at: Mapped[float] = mapped_column(Float, default=0.0)
    last_sweep_at: Mapped[float] = mapped_column(Float, default=0.0)
    paused_until: Mapped[float] = mapped_column(Float, default=0.0)
    pause_reason: Mapped[str | None] = mapped_column(CleanText, nullable=True)
    flush_due_at: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    seen_errors: Mapped[list[str] | None] = mapped_column(
        JSON, nullable=True
    )  # Ometria _errors already filed
    last_flush_at: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")  # a batch released
    last_push_at: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")  # Ometria accepted
    hooks_checked_at: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    hooks_inactive: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # at that check
    # who paused the store: "operator" (until resumed) or NULL/"configuration" (the flush, lifts at
    # paused_until); see workers.store.pauses
    pause_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    paused_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Event(Base):
    """The event log (workers.store.events): one row per event and entity id; store-wide events
    (pause, resume) have no entity. Kept EVENTS_RETENTION_DAYS."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    store_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    entity: Mapped[str | None] = mapped_column(String(16), nullable=True)
    entity_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ref: Mapped[str | None] = mapped_column(String(128), nullable=True)  # webhook / batch / request / task id
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (Index("ix_events_entity", "store_hash", "entity", "entity_id", "at"),)


class RateBudget(Base):
    __tablename__ = "rate_budget"
    store_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    api: Mapped[str] = mapped_column(String(16), primary_key=True)
    quota: Mapped[int] = mapped_column(Integer, default=150)
    left: Mapped[int] = mapped_column(Integer, default=150)
    window_reset_at: Mapped[float] = mapped_column(Float, default=0.0)
    paused_until: Mapped[float] = mapped_column(Float, default=0.0)
    in_flight: Mapped[int] = mapped_column(Integer, default=0)
    slots: Mapped[list[list[Any]] | None] = mapped_column(JSON, nullable=True)  # [token, started] in flight
    observed_at: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")  # last rate headers


class Incident(Base):
    """One row per alert condition (e.g. `silent:worker`, `paused:<store>`): open or closed. Every
    evaluator changes a row only by compare-and-set on `version`, so of several processes judging
    the same change exactly one opens (or closes) the incident and queues its message."""

    __tablename__ = "incidents"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    is_open: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[float] = mapped_column(Float)
    closed_at: Mapped[float] = mapped_column(Float)
    changed_at: Mapped[float] = mapped_column(Float)  # when `value` last moved
    value: Mapped[float] = mapped_column(Float)  # what the condition measures (failed-list baseline)
    detail: Mapped[str] = mapped_column(Text)


class AlertOutbox(Base):
    """Messages for ALERT_WEBHOOK_URL, written with the incident's change and sent (retried) after."""

    __tablename__ = "alert_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident: Mapped[str] = mapped_column(String(160))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    lease_until: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_alert_outbox_pending", "sent_at", "next_attempt_at"),)


class ProductMetafield(Base):
    """A product's metafield of a configured namespace, as "<namespace>.<key>" -> value."""

    __tablename__ = "product_metafields"
    store_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    metafield_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class VariantProduct(Base):
    """Which product a variant (option or base) belongs to: price-list callbacks name variants."""

    __tablename__ = "variant_products"
    store_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    variant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    product_id: Mapped[int] = mapped_column(BigInteger, index=True)


class RollingResync(Base):
    """Where a store's rolling resync is: the last product id of the lap so far, when the lap began
    and how many products it has done, and the calls spent in the current hour."""

    __tablename__ = "rolling_resync"
    store_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    lap_started_at: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    hour_started_at: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    hour_calls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class MetricTotal(Base):
    """A worker-side counter's total since the database was created (workers.domain.tally): each
    process adds its increments after each task, so the sum over every host only ever grows."""

    __tablename__ = "metric_totals"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)  # sample name (…_total, …_bucket)
    labels: Mapped[str] = mapped_column(String(500), primary_key=True)  # JSON of sorted [name, value] pairs
    value: Mapped[float] = mapped_column(Float, default=0.0)


class AdminSession(Base):
    """A signed-in admin page session, by the SHA-256 of its random id (the cookie holds the id)."""

    __tablename__ = "admin_sessions"
    sid_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)
    last_seen_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class AuthFailure(Base):
    """Wrong admin tokens (login form or bearer header) per client address, in a fixed window."""

    __tablename__ = "auth_failures"
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[float] = mapped_column(Float, index=True)
    failures: Mapped[int] = mapped_column(Integer)
