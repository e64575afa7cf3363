"""Pausing and resuming a store's sync (`bcsync pause|resume [STORE]`, the admin page).

    pause_store(settings, store_hash, reason) -> PauseStatus
    resume_store(settings, store_hash) -> PauseStatus      (the status after; `.changed`: was it paused)
    pause_status(settings, store_hash) -> PauseStatus      (reads only; creates nothing)

A paused store still records every callback (the receiver answers 200 as usual); its dirty rows
wait. An operator's pause lasts until `resume_store`; a pause the flush made after a configuration
error (bad API key, wrong URL) lifts by itself at `until` (the flush then tries again) or at once
with `resume_store`. Each pause and resume is written to the event log. Every function raises
workers.domain.errors.NotFoundError for a store that is not configured, and changes nothing then.
The caller wakes a flush after a resume (the CLI and admin page do).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from workers.settings import Settings
from workers.store import pauses, support
from workers.sync.known import require_store


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else None


@dataclass(frozen=True)
class PauseStatus:
    """Whether a store is paused, by whom (`kind`: "operator" or "configuration"), why (`reason`,
    already free of secrets), since / until when (unix seconds; `until` None = until resumed),
    `lifts`: one sentence saying how the pause ends, `rate_limited`: {api: until} for budgets a 429
    paused (those lift by themselves), `changed`: whether the call that returned it changed anything."""

    store: str
    paused: bool
    kind: str | None = None
    reason: str | None = None
    since: float | None = None
    until: float | None = None
    lifts: str = ""
    rate_limited: dict[str, float] = field(default_factory=dict)
    changed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "paused": self.paused,
            "kind": self.kind,
            "reason": self.reason,
            "since": _iso(self.since),
            "until": _iso(self.until),
            "lifts": self.lifts,
            "rate_limited": {api: _iso(t) for api, t in self.rate_limited.items()},
            "changed": self.changed,
        }

    def sentence(self) -> str:
        """e.g. "store abc paused by an operator since 2026-01-01T10:00:00Z: maintenance; lifts
        with `bcsync resume abc`" or "store abc is not paused"."""
        if not self.paused:
            text = f"store {self.store} is not paused"
        else:
            who = "by an operator" if self.kind == pauses.OPERATOR else "after a configuration error"
            since = f" since {_iso(self.since)}" if self.since else ""
            text = f"store {self.store} paused {who}{since}: {self.reason or 'no reason given'}; {self.lifts}"
        for api, until in sorted(self.rate_limited.items()):
            text += f"; {api} rate-limited until {_iso(until)} (lifts by itself)"
        return text


def pause_status(settings: Settings, store_hash: str, *, changed: bool = False) -> PauseStatus:
    """The store's pause as it is now; creates nothing."""
    require_store(settings, store_hash)
    state = support.pause_state(settings.database_url, store_hash)
    limits = state["rate_limited"]
    if not state["paused_until"] or state["paused_until"] <= time.time():
        return PauseStatus(store_hash, False, rate_limited=limits, changed=changed)
    if state["pause_kind"] == pauses.OPERATOR:
        return PauseStatus(
            store_hash,
            True,
            kind=pauses.OPERATOR,
            reason=state["pause_reason"],
            since=state["paused_at"],
            until=None,
            lifts=f"lifts with `bcsync resume {store_hash}` (or Resume on the admin page)",
            rate_limited=limits,
            changed=changed,
        )
    until = state["paused_until"]
    return PauseStatus(
        store_hash,
        True,
        kind=pauses.CONFIGURATION,
        reason=state["pause_reason"],
        since=state["paused_at"],
        until=until,
        lifts=(
            f"lifts by itself at {_iso(until)} when the flush tries again (fix the "
            f"configuration first), or now with `bcsync resume {store_hash}`"
        ),
        rate_limited=limits,
        changed=changed,
    )


def pause_store(settings: Settings, store_hash: str, reason: str) -> PauseStatus:
    """Pause the store's flushes until resume_store (a second pause takes the new reason and time).
    Returns the status after."""
    require_store(settings, store_hash)
    reason = " ".join(str(reason or "").split())[:500] or "paused by an operator"
    support.pause(settings.database_url, store_hash, reason)
    return pause_status(settings, store_hash, changed=True)


def resume_store(settings: Settings, store_hash: str) -> PauseStatus:
    """Lift the store's pause (whoever made it); `changed` False when it was not paused."""
    require_store(settings, store_hash)
    changed = support.resume(settings.database_url, store_hash)
    return pause_status(settings, store_hash, changed=changed)
