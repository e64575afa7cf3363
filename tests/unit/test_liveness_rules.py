"""The rules of liveness (workers.domain.health), pure: thresholds derived from the schedule, each
check judged against its own, a part never seen given a grace, and incidents that open once and
close once (the failed list's growth included). The same rules through real processes:
tests/integration/test_liveness.py."""

from __future__ import annotations

from workers.domain import health as H


def test_thresholds_follow_the_schedule() -> None:
    t = H.Thresholds.derive(
        H.Schedule(heartbeat=5, sweep=10, reconcile=300, debounce=2, max_wait=30, lease=120)
    )
    assert (t.worker, t.beat) == (15, 15)
    assert t.flush == 2 + 30 + 2 * 10 + H.SLACK_SECONDS
    assert t.push == t.flush + 120 and t.oldest_dirty == t.push
    assert t.sweep == 2 * 300 + H.SLACK_SECONDS


def test_parts_and_stores_are_judged_against_their_thresholds() -> None:
    now = 10_000.0
    sched = H.Schedule(heartbeat=5)
    seen = [
        H.ProcessSeen("worker", "w:1", now - 4, now - 500),
        H.ProcessSeen("beat", "b:1", now - 16, now - 400),
    ]
    facts = H.StoreFacts(
        "s1",
        last_flush_at=now - 500,
        last_push_at=now - 500,
        last_sweep_at=now - 10,
        dirty=3,
        oldest_dirty_at=now - 300,
        quota=150,
        quota_left=5,
        quota_window_reset_at=now + 10,
        quota_seen_at=now - 1,
        hooks_inactive=2,
        hooks_checked_at=now - 60,
    )
    health = H.assess(seen, [facts], sched, now)
    assert health.part("worker").state == H.OK and health.part("beat").state == H.UNHEALTHY
    s = health.stores[0]
    states = {c.name: c.state for c in s.checks}
    assert states == {
        "flush": H.UNHEALTHY,
        "push": H.UNHEALTHY,
        "sweep": H.OK,
        "oldest_dirty": H.UNHEALTHY,
        "quota": H.UNHEALTHY,
        "hooks": H.UNHEALTHY,
        "paused": H.OK,
    }
    assert not health.healthy
    # a quiet store: nothing to flush is not silence, and a reset quota window is whole again
    idle = H.StoreFacts(
        "s1",
        last_sweep_at=now - 10,
        quota=150,
        quota_left=5,
        quota_window_reset_at=now - 1,
        quota_seen_at=now - 40,
    )
    states = {c.name: c.state for c in H.assess(seen, [idle], sched, now).stores[0].checks}
    assert states["flush"] == H.IDLE and states["push"] == H.IDLE and states["quota"] == H.OK


def test_a_part_never_seen_is_judged_only_after_a_grace() -> None:
    sched = H.Schedule(heartbeat=5)
    assert H.assess([], [], sched, 100.0).part("worker").state == H.NEVER  # nothing ever ran: preflight
    beat = [H.ProcessSeen("beat", "b:1", 1000.0, 1000.0)]
    assert H.assess(beat, [], sched, 1000.0 + 15 + H.NEVER_GRACE_SECONDS - 1).part("worker").state == H.NEVER
    assert (
        H.assess(beat, [], sched, 1000.0 + 15 + H.NEVER_GRACE_SECONDS + 1).part("worker").state == H.UNHEALTHY
    )


def test_an_incident_opens_once_and_closes_once() -> None:
    on = H.Condition("silent:worker", H.PART_SILENT, True, "worker: silent")
    off = H.Condition("silent:worker", H.PART_SILENT, False, "worker: 1 live")
    opened = H.decide(H.IncidentState(), on, 1.0)
    assert opened and opened.message == "alert" and opened.is_open
    assert H.decide(H.IncidentState(is_open=True), on, 2.0) is None
    closed = H.decide(H.IncidentState(is_open=True), off, 3.0)
    assert closed and closed.message == "recovery" and not closed.is_open
    assert H.decide(H.IncidentState(), off, 4.0) is None


def test_the_failed_list_alerts_when_it_grows_and_recovers_when_it_stops() -> None:
    def cond(n: int) -> H.Condition:
        return H.Condition("failed:s1", H.FAILED_GREW, n > 0, f"{n} failures", "s1", measure=float(n))

    d = H.decide(H.IncidentState(False, 0.0, 0.0), cond(2), 100.0)
    assert d and d.message == "alert" and d.value == 2
    d = H.decide(H.IncidentState(True, 2.0, 100.0), cond(5), 200.0)  # grows further: same incident
    assert d and d.message is None and d.value == 5 and d.changed_at == 200.0
    assert H.decide(H.IncidentState(True, 5.0, 200.0), cond(5), 200.0 + H.FAILED_QUIET_SECONDS - 1) is None
    d = H.decide(H.IncidentState(True, 5.0, 200.0), cond(5), 200.0 + H.FAILED_QUIET_SECONDS)
    assert d and d.message == "recovery" and d.value == 5
    assert H.decide(H.IncidentState(False, 5.0, 0.0), cond(5), 9999.0) is None  # the old five: no news
    d = H.decide(H.IncidentState(False, 5.0, 0.0), cond(6), 9999.0)
    assert d and d.message == "alert"  # a new one
    d = H.decide(H.IncidentState(True, 6.0, 9999.0), cond(0), 10000.0)  # replayed: over at once
    assert d and d.message == "recovery"
