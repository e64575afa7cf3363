"""What liveness is judged from and what it says (pure): the facts read from the database
(`ProcessSeen`, `StoreFacts`), the schedule and the thresholds derived from it (`Schedule`,
`Thresholds.derive`), and the verdict records (`Check`, `StoreHealth`, `Health`).
`workers.domain.health` judges them (`assess`) and turns the verdicts into incidents; every name
here is importable from there too."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

SLACK_SECONDS = 30.0  # a task queued behind others, a slow BigCommerce page: not yet silence
NEVER_GRACE_SECONDS = 60.0  # how long a part may be missing after the deployment's first start
FAILED_QUIET_SECONDS = 1800.0  # the failed list's growth is over after this long without a new failure
HEARTBEAT_MULTIPLE = 3.0

OK, UNHEALTHY, NEVER, IDLE = "ok", "unhealthy", "never", "idle"


UNTIL_RESUMED = 253402300799.0  # 9999-12-31T23:59:59Z: workers.store.pauses.OPERATOR_UNTIL


@dataclass(frozen=True)
class ProcessSeen:
    part: str  # worker | beat
    process: str  # host:pid
    last_seen: float
    started_at: float


@dataclass(frozen=True)
class StoreFacts:
    store: str
    last_flush_at: float = 0.0
    last_push_at: float = 0.0
    last_sweep_at: float = 0.0
    hooks_checked_at: float = 0.0
    hooks_inactive: int = 0
    paused_until: float = 0.0
    pause_reason: str = ""
    pause_kind: str = ""  # operator (bcsync pause: until resumed) | configuration | "" (a flush's)
    dirty: int = 0
    oldest_dirty_at: float = 0.0  # first_seen of the oldest dirty row (0: none)
    failed: int = 0
    quota: int | None = None  # BigCommerce requests per window, as last seen
    quota_left: int | None = None
    quota_window_reset_at: float = 0.0
    quota_seen_at: float = 0.0
    reserve: int = 10  # requests per window left for the store's other apps


@dataclass(frozen=True)
class Schedule:
    """The settings thresholds derive from (workers.settings.Settings has them all)."""

    heartbeat: float = 10.0
    sweep: float = 10.0
    reconcile: float = 300.0
    debounce: float = 2.0
    max_wait: float = 30.0
    lease: float = 120.0


@dataclass(frozen=True)
class Thresholds:
    worker: float
    beat: float
    flush: float
    push: float
    sweep: float
    oldest_dirty: float

    @classmethod
    def derive(cls, s: Schedule) -> Thresholds:
        flush = s.debounce + s.max_wait + 2 * s.sweep + SLACK_SECONDS
        return cls(
            worker=HEARTBEAT_MULTIPLE * s.heartbeat,
            beat=HEARTBEAT_MULTIPLE * s.heartbeat,
            flush=flush,
            push=flush + s.lease,
            sweep=2 * s.reconcile + SLACK_SECONDS,
            oldest_dirty=flush + s.lease,
        )

    def as_dict(self) -> dict[str, float]:
        return dict(vars(self))


@dataclass(frozen=True)
class Check:
    name: str  # worker | beat | flush | push | sweep | oldest_dirty | quota | hooks | paused
    state: str  # ok | unhealthy | never (not seen yet, not judged) | idle (nothing to do)
    last: float | None  # unix time of the last sign (None: never)
    threshold: float | None
    detail: str
    age: float | None = None
    value: float | None = None  # what the check measures when it is not a time (quota left, hooks)

    @property
    def unhealthy(self) -> bool:
        return self.state == UNHEALTHY

    def as_dict(self) -> dict[str, object]:
        return {
            "check": self.name,
            "state": self.state,
            "healthy": not self.unhealthy,
            "last": iso(self.last),
            "age_s": None if self.age is None else round(self.age, 1),
            "threshold_s": self.threshold,
            "value": self.value,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class StoreHealth:
    store: str
    checks: list[Check]
    facts: StoreFacts

    @property
    def healthy(self) -> bool:
        return not any(c.unhealthy for c in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)


@dataclass(frozen=True)
class Health:
    now: float
    parts: list[Check]  # worker, beat: shared by every store
    stores: list[StoreHealth]
    thresholds: Thresholds
    processes: list[ProcessSeen] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not any(c.unhealthy for c in self.parts) and all(s.healthy for s in self.stores)

    def part(self, name: str) -> Check:
        return next(c for c in self.parts if c.name == name)

    def unhealthy(self) -> list[tuple[str, Check]]:
        """(store or "", check) for every unhealthy check."""
        out = [("", c) for c in self.parts if c.unhealthy]
        return out + [(s.store, c) for s in self.stores for c in s.checks if c.unhealthy]

    def as_dict(self) -> dict[str, object]:
        return {
            "now": iso(self.now),
            "healthy": self.healthy,
            "thresholds_s": self.thresholds.as_dict(),
            "parts": {c.name: c.as_dict() for c in self.parts},
            "processes": [
                {
                    "part": p.part,
                    "process": p.process,
                    "last_seen": iso(p.last_seen),
                    "started_at": iso(p.started_at),
                }
                for p in self.processes
            ],
            "stores": {
                s.store: {"healthy": s.healthy, "checks": {c.name: c.as_dict() for c in s.checks}}
                for s in self.stores
            },
        }


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else None


def seconds(value: float) -> str:
    value = max(0.0, value)
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"
