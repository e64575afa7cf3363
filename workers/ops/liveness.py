"""Liveness at run time: heartbeats, health read from the database, incidents and their alerts.

- `read_health(settings)`: the facts in the database judged by `workers.domain.health.assess`
  (what `bcsync status`, `bcsync doctor`, the admin page and `/metrics` show).
- `evaluate(settings, evaluator)`: turns the health into incidents (a part silent, a store paused,
  hooks deactivated, the failed list grown). Each incident's change is a compare-and-set on its row,
  so when beat and every worker evaluate the same change exactly one of them wins it and queues
  its message (alert, later recovery) in the same transaction.
- `deliver(settings)`: sends queued messages to ALERT_WEBHOOK_URL, each taken under a lease;
  a failure is retried with back-off, never raised.
- `HeartbeatThread`: a daemon thread in each worker (started on worker_ready) that records the
  worker's heartbeat every BCSYNC_HEARTBEAT_SECONDS, then evaluates and delivers. Beat records
  its own heartbeat on its tick and calls `Evaluations.kick()`, which evaluates in a thread of its
  own so a slow receiver never holds the schedule up. So alerts go out while either part lives.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from workers.clients.alerts import AlertDeliveryError, post_alert
from workers.domain import health as H
from workers.ops.redact import Redactor
from workers.settings import Settings
from workers.store import liveness as L
from workers.store import queries

log = logging.getLogger(__name__)

SEND_LEASE = 30.0  # a sender that died mid-POST gives the message back after this
MAX_ATTEMPTS = 60  # about 4 h at the 5-min ceiling; then the message is dropped (and logged)
RETRY_CEILING = 300.0


def process_name(hostname: str | None = None) -> str:
    return f"{hostname or socket.gethostname()}:{os.getpid()}"


def schedule_of(settings: Settings) -> H.Schedule:
    return H.Schedule(
        heartbeat=settings.heartbeat_seconds,
        sweep=settings.sweep_seconds,
        reconcile=settings.reconcile_seconds,
        debounce=settings.debounce_seconds,
        max_wait=settings.max_wait_seconds,
        lease=settings.lease_seconds,
    )


def read_health(settings: Settings, now: float | None = None) -> H.Health:
    now = time.time() if now is None else now
    seen, facts = L.health_facts(
        settings.database_url, {sh: st.rate_reserve for sh, st in settings.stores.items()}
    )
    return H.assess(seen, list(facts.values()), schedule_of(settings), now)


def record_heartbeat(settings: Settings, part: str, process: str, now: float | None = None) -> None:
    queries.record_heartbeat(settings.database_url, part, process, time.time() if now is None else now)


# --- incidents -------------------------------------------------------------------------------


def _message(
    cond: H.Condition,
    decision: H.Decision,
    row: L.IncidentRow | None,
    evaluator: str,
    now: float,
    red: Redactor,
) -> dict[str, Any]:
    opened_at = now if decision.opened else (row.opened_at if row else now)
    summary = cond.summary if decision.message == "alert" else f"recovered: {cond.summary}"
    return {
        "source": "bcsync",
        "event": decision.message,
        "status": "firing" if decision.message == "alert" else "resolved",
        "incident": cond.key,
        "condition": cond.kind,
        "store": cond.store,
        "part": cond.part,
        "summary": red.text(summary),
        "since": H.iso(cond.since) if decision.message == "alert" else None,
        "opened_at": H.iso(opened_at),
        "closed_at": H.iso(now) if decision.closed else None,
        "at": H.iso(now),
        "detected_by": evaluator,
    }


def evaluate(settings: Settings, evaluator: str, now: float | None = None) -> list[dict[str, Any]]:
    """Open and close incidents from the current health; returns the messages this evaluator queued
    (queued only when ALERT_WEBHOOK_URL is set; incidents are kept either way)."""
    now = time.time() if now is None else now
    conds = sorted(H.conditions(read_health(settings, now)), key=lambda c: c.key)
    red = Redactor()
    from workers.ops.observability import secrets_to_hide

    red.add(secrets_to_hide(settings))
    planned: list[tuple[H.Condition, H.Decision, L.IncidentChange]] = []

    def plan(rows: dict[str, L.IncidentRow]) -> list[L.IncidentChange]:
        planned.clear()  # (a retried transaction plans afresh)
        for cond in conds:
            row = rows.get(cond.key)
            if row is not None and max(row.opened_at, row.closed_at, row.changed_at) > now:
                continue  # another evaluator changed it after this one's snapshot: its view is fresher
            state = H.IncidentState(row.is_open, row.value, row.changed_at) if row else H.IncidentState()
            decision = H.decide(state, cond, now)
            if decision is None:
                continue
            values: dict[str, Any] = {
                "is_open": decision.is_open,
                "value": decision.value,
                "changed_at": decision.changed_at,
                "detail": red.text(cond.summary)[:2000],
            }
            if decision.opened:
                values["opened_at"] = now
            if decision.closed:
                values["closed_at"] = now
            message = None
            if decision.message is not None and settings.alert_webhook_url:
                message = _message(cond, decision, row, evaluator, now, red)
            change = L.IncidentChange(cond.key, row.version if row else 0, values, row is None, message)
            planned.append((cond, decision, change))
        return [change for _, _, change in planned]

    won = L.change_incidents(settings.database_url, plan, now)
    queued: list[dict[str, Any]] = []
    for (cond, decision, change), made in zip(planned, won, strict=True):
        if not made or decision.message is None:
            continue  # another evaluator made this change first (its message, not ours), or no message
        log.warning(
            "incident %s %s: %s",
            "opened" if decision.opened else "closed",
            cond.key,
            red.text(cond.summary),
        )
        if change.message is not None:
            queued.append(change.message)
    return queued


def deliver(
    settings: Settings, now: float | None = None, post: Callable[[str, dict[str, Any]], None] = post_alert
) -> int:
    """Send the queued messages that are due; returns how many were delivered. Never raises for
    the receiver: a failure is recorded and retried with back-off."""
    url = settings.alert_webhook_url
    if not url:
        return 0
    now = time.time() if now is None else now
    due = L.take_due(settings.database_url, now, SEND_LEASE)
    sent = 0
    for message_id, attempts, payload in due:
        try:
            post(url, payload)
        except AlertDeliveryError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 — whatever the receiver does, the process goes on
            error = f"alert not delivered ({type(exc).__name__})"
        else:
            L.mark_sent(settings.database_url, message_id, time.time())
            sent += 1
            continue
        if attempts >= MAX_ATTEMPTS:
            log.error(
                "alert %s for %s dropped after %d attempts: %s",
                payload["event"],
                payload["incident"],
                attempts,
                error,
            )
            retry_at = now + 10 * 365 * 86400.0  # never again
        else:
            retry_at = now + min(RETRY_CEILING, 2.0**attempts)
            log.warning(
                "alert %s for %s not delivered (attempt %d, retried): %s",
                payload["event"],
                payload["incident"],
                attempts,
                error,
            )
        L.mark_failed(settings.database_url, message_id, error, retry_at)
    return sent


def evaluate_and_deliver(settings: Settings, evaluator: str) -> None:
    """One round, for the heartbeat thread and beat: nothing it meets stops the caller."""
    try:
        evaluate(settings, evaluator)
    except Exception as exc:  # noqa: BLE001 — the database away: the next round tries again
        log.warning("liveness: evaluation failed (%s: %s)", type(exc).__name__, exc)
    try:
        deliver(settings)
    except Exception as exc:  # noqa: BLE001
        log.warning("liveness: alert delivery failed (%s: %s)", type(exc).__name__, exc)


# --- the threads -----------------------------------------------------------------------------


class HeartbeatThread(threading.Thread):
    """Records `part`'s heartbeat every `settings.heartbeat_seconds`, then evaluates and delivers."""

    def __init__(self, settings: Settings, part: str, process: str) -> None:
        super().__init__(name=f"bcsync-heartbeat-{part}", daemon=True)
        self.settings, self.part, self.process = settings, part, process
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            started = time.time()
            try:
                record_heartbeat(self.settings, self.part, self.process, started)
            except Exception as exc:  # noqa: BLE001 — the database away: try again next beat
                log.warning("liveness: %s heartbeat not recorded (%s)", self.part, type(exc).__name__)
            evaluate_and_deliver(self.settings, f"{self.part} {self.process}")
            self._stop_event.wait(max(0.05, self.settings.heartbeat_seconds - (time.time() - started)))

    def stop(self, timeout: float = 5.0) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout)


class Evaluations:
    """Beat's evaluations: at most one running at a time, in a thread, so the tick never waits."""

    def __init__(self, settings: Settings, evaluator: str) -> None:
        self.settings, self.evaluator = settings, evaluator
        self._thread: threading.Thread | None = None

    def kick(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(
            target=evaluate_and_deliver,
            args=(self.settings, self.evaluator),
            name="bcsync-evaluate",
            daemon=True,
        )
        self._thread.start()
