"""A store's pause, as `store_state` keeps it: who paused it (an operator, or a configuration error
the flush met), why, since when and until when.

- operator pause (`bcsync pause`, the admin page): no flush pushes anything until someone resumes
  it; `paused_until` holds OPERATOR_UNTIL, a date no clock reaches.
- configuration pause (a bad API key, a wrong URL: workers.sync.flush): lifts by itself at
  `paused_until`, when the flush tries again; `pause_kind` is NULL for those (the flush writes only
  the time and the reason), or "configuration".
Reading never creates a row: a store that has none was never paused.
"""

from __future__ import annotations

import time

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workers.store import storage
from workers.store.storage import Dirty, RateBudget, StoreState

OPERATOR = "operator"
CONFIGURATION = "configuration"
OPERATOR_UNTIL = 253402300799.0  # 9999-12-31T23:59:59Z: "until resumed", and still a valid timestamp


def state_of(session: Session, store_hash: str) -> StoreState | None:
    """The store's state row, or None (never created here)."""
    return session.get(StoreState, store_hash)


def pause(session: Session, store_hash: str, reason: str, now: float | None = None) -> StoreState:
    """An operator pause: flushes stop until `resume`."""
    now = time.time() if now is None else now
    state = storage.store_state(session, store_hash)
    state.paused_until, state.pause_reason = OPERATOR_UNTIL, reason
    state.pause_kind, state.paused_at = OPERATOR, now
    return state


def resume(session: Session, store_hash: str) -> bool:
    """Lift any pause of the store (operator or configuration) and make its waiting rows claimable
    at once. False when it was not paused (nothing changed)."""
    state = state_of(session, store_hash)
    if state is None or not state.paused_until or state.paused_until <= time.time():
        return False
    state.paused_until, state.pause_reason, state.pause_kind, state.paused_at = 0.0, None, None, None
    session.execute(update(Dirty).where(Dirty.store_hash == store_hash).values(not_before=0.0))
    return True


def rate_limits(session: Session, store_hash: str, now: float | None = None) -> dict[str, float]:
    """{api: until} for the store's budgets paused by a 429 right now."""
    now = time.time() if now is None else now
    rows = session.execute(
        select(RateBudget.api, RateBudget.paused_until).where(
            RateBudget.store_hash == store_hash, RateBudget.paused_until > now
        )
    )
    return {api: float(until) for api, until in rows}


def operator_paused(session: Session) -> set[str]:
    """Stores an operator paused (the sweep leaves them alone)."""
    rows = session.scalars(
        select(StoreState.store_hash).where(StoreState.pause_kind == OPERATOR, StoreState.paused_until > 0)
    )
    return set(rows)
