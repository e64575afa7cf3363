"""Celery beat's schedule kept in the database instead of a local shelve file.

Why the database and not a file or celery-redbeat: every process already needs the database and it
is the service's source of truth, while the broker may be Redis, RabbitMQ or the embedded file
transport (redbeat would add Redis to deployments that have none). A local file dies with the
container and is per host, so a restarted or second beat would not know what the first one ran.

Each entry's last run is one row (`beat_runs`). Before sending a due task a beat takes the run by
compare-and-set on the last run it saw: of two beats running at once (a rolling deploy overlaps
them; Kubernetes may too) exactly one sends each run, and the other adopts the winner's time. A
restarted beat reads the rows and goes on where the schedule was. Beat ticks at least every
BCSYNC_HEARTBEAT_SECONDS and records its heartbeat (`heartbeats`), so a silent beat is seen; after
each heartbeat it evaluates incidents and sends their alerts in a thread of its own
(workers.ops.liveness), so a dead worker is still reported while beat lives.
"""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime
from typing import Any

from celery.beat import ScheduleEntry, Scheduler

from workers.ops.liveness import Evaluations, process_name
from workers.settings import get_settings
from workers.store import queries
from workers.store.migrate import upgrade

log = logging.getLogger(__name__)


class DatabaseScheduler(Scheduler):
    """celery.beat.Scheduler whose last-run times live in the database (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        settings = get_settings()
        self._url = settings.database_url
        self._heartbeat = settings.heartbeat_seconds
        self._me = process_name(socket.gethostname())
        self._evaluations = Evaluations(settings, f"beat {self._me}")
        self._seen: dict[str, float] = {}  # entry name -> last run recorded in the database
        self._beat_at = 0.0
        kwargs.pop("schedule_filename", None)
        super().__init__(*args, **kwargs)

    def setup_schedule(self) -> None:
        upgrade(self._url)  # runs before beat_init: the tables must exist now
        self.install_default_entries(self.data)
        self.merge_inplace(self.app.conf.beat_schedule)
        self._seen = queries.beat_runs(self._url, self.schedule, time.time())
        for name, entry in self.schedule.items():
            entry.last_run_at = datetime.fromtimestamp(self._seen[name], UTC)
        log.info("beat: schedule read from the database (%d entries)", len(self._seen))

    def tick(self, *args: Any, **kwargs: Any) -> float:
        now = time.time()
        if now - self._beat_at >= self._heartbeat * 0.9:
            try:
                queries.record_heartbeat(self._url, "beat", self._me, now)
                self._beat_at = now
            except Exception as exc:  # noqa: BLE001 — the database away: the run claims fail too
                log.warning("beat: heartbeat not recorded: %s", exc)
            self._evaluations.kick()
        # wake at least once per heartbeat, however far the next due entry is
        return min(float(super().tick(*args, **kwargs)), self._heartbeat)

    def apply_entry(self, entry: ScheduleEntry, producer: Any = None) -> None:
        """Send the due run only if this beat takes it; otherwise adopt the other beat's time."""
        name = entry.name
        now = time.time()
        try:
            other = queries.claim_beat_run(self._url, name, self._seen.get(name, 0.0), now, self._me)
        except Exception as exc:  # noqa: BLE001 — database away: the task could not run either
            log.warning("beat: could not take the run of %s (%s); not sent, next run as scheduled", name, exc)
            return
        if other is not None:
            log.info("beat: %s already sent by another beat; skipped", name)
            self._seen[name] = other
            self.schedule[name].last_run_at = datetime.fromtimestamp(other, UTC)
            return
        self._seen[name] = now
        self.schedule[name].last_run_at = datetime.fromtimestamp(now, UTC)
        super().apply_entry(entry, producer=producer)

    @property
    def info(self) -> str:
        return "    . db -> beat_runs table"
