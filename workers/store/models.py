"""The tables (SQLAlchemy models): dirty rows, the ledger, failures, webhook ids, beat runs,
heartbeats, per-store state and the shared rate budget. Times are float unix seconds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

PRODUCT = "product"
CATEGORY = "category"


class Base(DeclarativeBase):
    pass


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
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

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
    record_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # transient | permanent | configuration
    error: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_failed_at: Mapped[float] = mapped_column(Float)
    last_failed_at: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="failed", index=True)  # failed|replayed|discarded


class SeenWebhook(Base):
    __tablename__ = "seen_webhooks"
    webhook_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    store_hash: Mapped[str] = mapped_column(String(64))
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


class StoreState(Base):
    __tablename__ = "store_state"
    store_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    lookups: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    lookups_at: Mapped[float] = mapped_column(Float, default=0.0)
    last_sweep_at: Mapped[float] = mapped_column(Float, default=0.0)
    paused_until: Mapped[float] = mapped_column(Float, default=0.0)
    pause_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    flush_due_at: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    seen_errors: Mapped[list[str] | None] = mapped_column(
        JSON, nullable=True
    )  # Ometria _errors already filed
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
    at: Mapped[float] = mapped_column(Float)  # no index of its own: the receiver writes a row per callback
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
