"""Liveness, judged (pure): is every part doing what its schedule says it should, per store?

Inputs are plain facts read from the database (`ProcessSeen`, `StoreFacts`); `assess()` turns them
into `Health`: one `Check` per part, each with the age of its last sign of life and a threshold
derived from its own schedule (`Thresholds.derive`):

| check | last sign | unhealthy when | threshold |
|---|---|---|---|
| worker | newest worker heartbeat | older than the threshold | 3 × BCSYNC_HEARTBEAT_SECONDS |
| beat | newest beat tick | older than the threshold | 3 × BCSYNC_HEARTBEAT_SECONDS |
| flush | last batch flushed | a dirty row older, none since | debounce + max wait + 2 × sweep + 30 s |
| push | last push Ometria accepted | likewise | flush threshold + lease |
| sweep | last date_modified sweep | older than the threshold | 2 × reconcile + 30 s |
| oldest dirty | first_seen of the oldest dirty row | older than the threshold | the push threshold |
| quota | BigCommerce quota last seen | what is left this window ≤ the store's reserve | the reserve |
| hooks | last hook check | it found hooks BigCommerce deactivated | — |
| paused | the store's pause | paused | — |

A part never seen is not judged until the deployment (its first process) has run for the
threshold plus `NEVER_GRACE_SECONDS`, so a rolling start does not raise a false alarm.

`conditions()` says which incidents are active (a part silent, a store paused, hooks deactivated,
the failed list grown) and `decide()` the transition of one incident: pure, so that every evaluator
(beat and each worker) reaches the same verdict; the store applies it by compare-and-set.

The facts, the schedule, the thresholds and the verdict records live in
`workers.domain.health_model`; they are importable from here as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workers.domain.health_model import (
    FAILED_QUIET_SECONDS,
    HEARTBEAT_MULTIPLE,
    IDLE,
    NEVER,
    NEVER_GRACE_SECONDS,
    OK,
    SLACK_SECONDS,
    UNHEALTHY,
    UNTIL_RESUMED,
    Check,
    Health,
    ProcessSeen,
    Schedule,
    StoreFacts,
    StoreHealth,
    Thresholds,
    iso,
    seconds,
)

__all__ = [
    "SLACK_SECONDS",
    "NEVER_GRACE_SECONDS",
    "FAILED_QUIET_SECONDS",
    "HEARTBEAT_MULTIPLE",
    "OK",
    "UNHEALTHY",
    "NEVER",
    "IDLE",
    "UNTIL_RESUMED",
    "ProcessSeen",
    "StoreFacts",
    "Schedule",
    "Thresholds",
    "Check",
    "StoreHealth",
    "Health",
    "iso",
    "seconds",
    "assess_store",
    "assess",
    "PART_SILENT",
    "STORE_PAUSED",
    "HOOKS_DEACTIVATED",
    "FAILED_GREW",
    "SILENT_STORE_CHECKS",
    "Condition",
    "conditions",
    "IncidentState",
    "Decision",
    "decide",
]


# --- judging ---------------------------------------------------------------------------------


def _process_check(
    name: str, seen: Sequence[ProcessSeen], first_start: float | None, threshold: float, now: float
) -> Check:
    mine = [p for p in seen if p.part == name]
    if not mine:
        if first_start is None:
            return Check(name, NEVER, None, threshold, f"no {name} has ever run against this database")
        running = now - first_start
        if running > threshold + NEVER_GRACE_SECONDS:
            return Check(
                name,
                UNHEALTHY,
                None,
                threshold,
                f"no {name} seen, though the service has run for {seconds(running)}",
            )
        return Check(
            name, NEVER, None, threshold, f"no {name} seen yet (the service started {seconds(running)} ago)"
        )
    newest = max(mine, key=lambda p: p.last_seen)
    age = now - newest.last_seen
    live = sum(1 for p in mine if now - p.last_seen <= threshold)
    if age > threshold:
        detail = f"silent for {seconds(age)} (threshold {seconds(threshold)}); last {newest.process}"
        return Check(name, UNHEALTHY, newest.last_seen, threshold, detail, age=age, value=0)
    detail = f"{live} live, newest {newest.process} {seconds(age)} ago"
    return Check(name, OK, newest.last_seen, threshold, detail, age=age, value=live)


def _work_check(name: str, what: str, last: float, facts: StoreFacts, threshold: float, now: float) -> Check:
    """flush and push: judged only while a dirty row has waited longer than the threshold."""
    last_or_none = last or None
    age = now - last if last else None
    if facts.paused_until > now:
        return Check(name, IDLE, last_or_none, threshold, "the store is paused", age=age)
    waiting = now - facts.oldest_dirty_at if facts.dirty and facts.oldest_dirty_at else 0.0
    if waiting <= threshold:
        detail = f"last {what} {seconds(age)} ago" if age is not None else f"no {what} yet"
        return Check(name, IDLE if not facts.dirty else OK, last_or_none, threshold, detail, age=age)
    if age is not None and age <= threshold:
        return Check(
            name, OK, last, threshold, f"last {what} {seconds(age)} ago; backlog being worked", age=age
        )
    since = f"last {what} {seconds(age)} ago" if age is not None else f"no {what} ever"
    detail = f"{facts.dirty} dirty row(s), the oldest waiting {seconds(waiting)}; {since}"
    return Check(name, UNHEALTHY, last_or_none, threshold, detail, age=age)


def assess_store(facts: StoreFacts, t: Thresholds, first_start: float | None, now: float) -> StoreHealth:
    checks = [
        _work_check("flush", "flush", facts.last_flush_at, facts, t.flush, now),
        _work_check("push", "accepted push", facts.last_push_at, facts, t.push, now),
    ]
    if facts.last_sweep_at:
        age = now - facts.last_sweep_at
        state = UNHEALTHY if age > t.sweep else OK
        checks.append(
            Check("sweep", state, facts.last_sweep_at, t.sweep, f"last sweep {seconds(age)} ago", age=age)
        )
    elif first_start is not None and now - first_start > t.sweep + NEVER_GRACE_SECONDS:
        checks.append(
            Check(
                "sweep",
                UNHEALTHY,
                None,
                t.sweep,
                f"no sweep, though the service has run for {seconds(now - first_start)}",
            )
        )
    else:
        checks.append(Check("sweep", NEVER, None, t.sweep, "no sweep yet"))
    if facts.dirty and facts.oldest_dirty_at:
        waiting = now - facts.oldest_dirty_at
        state = UNHEALTHY if waiting > t.oldest_dirty else OK
        detail = f"{facts.dirty} dirty row(s), the oldest {seconds(waiting)} old"
        checks.append(
            Check("oldest_dirty", state, facts.oldest_dirty_at, t.oldest_dirty, detail, age=waiting)
        )
    else:
        checks.append(Check("oldest_dirty", IDLE, None, t.oldest_dirty, "nothing dirty", age=0.0))
    if facts.quota_seen_at and facts.quota is not None and facts.quota_left is not None:
        left = facts.quota_left if facts.quota_window_reset_at > now else facts.quota
        state = UNHEALTHY if left <= facts.reserve else OK
        detail = (
            f"{left} of {facts.quota} requests left this window (reserve {facts.reserve}), "
            f"seen {seconds(now - facts.quota_seen_at)} ago"
        )
        checks.append(
            Check(
                "quota",
                state,
                facts.quota_seen_at,
                float(facts.reserve),
                detail,
                age=now - facts.quota_seen_at,
                value=left,
            )
        )
    else:
        checks.append(Check("quota", NEVER, None, float(facts.reserve), "no BigCommerce answer seen yet"))
    if facts.hooks_inactive:
        detail = f"{facts.hooks_inactive} hook(s) found deactivated by BigCommerce at the last check"
        checks.append(
            Check("hooks", UNHEALTHY, facts.hooks_checked_at, None, detail, value=facts.hooks_inactive)
        )
    elif facts.hooks_checked_at:
        checks.append(
            Check("hooks", OK, facts.hooks_checked_at, None, "every hook active at the last check", value=0)
        )
    else:
        checks.append(Check("hooks", NEVER, None, None, "no hook check yet", value=0))
    if facts.paused_until > now:
        # an operator's pause lasts until resumed (workers.store.pauses keeps a date no clock reaches)
        until = (
            "by an operator until resumed (bcsync resume)"
            if facts.pause_kind == "operator" or facts.paused_until >= UNTIL_RESUMED
            else f"until {iso(facts.paused_until)}"
        )
        detail = f"paused {until}: {facts.pause_reason or 'no reason recorded'}"
        checks.append(Check("paused", UNHEALTHY, None, None, detail, value=1))
    else:
        checks.append(Check("paused", OK, None, None, "not paused", value=0))
    return StoreHealth(facts.store, checks, facts)


def assess(
    processes: Sequence[ProcessSeen], stores: Sequence[StoreFacts], schedule: Schedule, now: float
) -> Health:
    t = Thresholds.derive(schedule)
    first_start = min((p.started_at for p in processes), default=None)
    parts = [
        _process_check("worker", processes, first_start, t.worker, now),
        _process_check("beat", processes, first_start, t.beat, now),
    ]
    judged = [assess_store(f, t, first_start, now) for f in sorted(stores, key=lambda f: f.store)]
    return Health(now, parts, judged, t, list(processes))


# --- incidents -------------------------------------------------------------------------------

PART_SILENT, STORE_PAUSED, HOOKS_DEACTIVATED, FAILED_GREW = (
    "part_silent",
    "store_paused",
    "hooks_deactivated",
    "failed_list_grew",
)
SILENT_STORE_CHECKS = ("flush", "push", "sweep")


@dataclass(frozen=True)
class Condition:
    # silent:worker | silent:beat | silent:<check>:<store> | paused:<store> | hooks:<store> | failed:<store>
    key: str
    kind: str
    active: bool
    summary: str
    store: str | None = None
    part: str | None = None
    since: float | None = None  # when the condition began (the last sign of life), if known
    measure: float = 0.0  # the failed list's size for failed_list_grew


def conditions(health: Health) -> list[Condition]:
    out = []
    for c in health.parts:
        out.append(
            Condition(
                f"silent:{c.name}", PART_SILENT, c.unhealthy, f"{c.name}: {c.detail}", None, c.name, c.last
            )
        )
    for s in health.stores:
        for name in SILENT_STORE_CHECKS:
            c = s.check(name)
            out.append(
                Condition(
                    f"silent:{name}:{s.store}",
                    PART_SILENT,
                    c.unhealthy,
                    f"store {s.store} {name}: {c.detail}",
                    s.store,
                    name,
                    c.last,
                )
            )
        paused = s.check("paused")
        out.append(
            Condition(
                f"paused:{s.store}",
                STORE_PAUSED,
                paused.unhealthy,
                f"store {s.store} {paused.detail}",
                s.store,
            )
        )
        hooks = s.check("hooks")
        out.append(
            Condition(
                f"hooks:{s.store}",
                HOOKS_DEACTIVATED,
                hooks.unhealthy,
                f"store {s.store}: {hooks.detail}",
                s.store,
                since=hooks.last,
            )
        )
        out.append(
            Condition(
                f"failed:{s.store}",
                FAILED_GREW,
                s.facts.failed > 0,
                f"store {s.store}: {s.facts.failed} open failure(s) in the failed list",
                s.store,
                measure=float(s.facts.failed),
            )
        )
    return out


@dataclass(frozen=True)
class IncidentState:
    is_open: bool = False
    value: float = 0.0
    changed_at: float = 0.0


@dataclass(frozen=True)
class Decision:
    is_open: bool
    value: float
    changed_at: float
    message: str | None  # "alert" | "recovery" | None (a silent update)
    opened: bool = False
    closed: bool = False


def decide(state: IncidentState, cond: Condition, now: float) -> Decision | None:
    """The incident's next state, or None when nothing changes."""
    if cond.kind != FAILED_GREW:
        if cond.active and not state.is_open:
            return Decision(True, 0.0, now, "alert", opened=True)
        if not cond.active and state.is_open:
            return Decision(False, 0.0, now, "recovery", closed=True)
        return None
    count, baseline = cond.measure, state.value
    if not state.is_open:
        if count > baseline:
            return Decision(True, count, now, "alert", opened=True)
        if count < baseline:
            return Decision(False, count, state.changed_at, None)
        return None
    if count > baseline:
        return Decision(True, count, now, None)
    if count == 0 or now - state.changed_at >= FAILED_QUIET_SECONDS:
        return Decision(False, count, now, "recovery", closed=True)
    if count < baseline:
        return Decision(True, count, state.changed_at, None)
    return None
