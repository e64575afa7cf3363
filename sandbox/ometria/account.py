"""One Ometria account's state: stored records, error log, rate window, queue, statistics."""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from sandbox.ometria.records import DEFAULT_QUEUE_DRAIN_RATE, ERROR_LOG_SIZE, _is_number


def _empty_stats() -> dict[str, int]:
    return {
        "pushes": 0,  # push requests answered 200
        "records_received": 0,  # items in those pushes
        "accepted": 0,  # counted as accepted in the answers
        "rejected": 0,  # counted as rejected in the answers (unusable items)
        "invalid": 0,  # accepted, then failed validation: logged, not stored
        "stored": 0,  # applied to the records
        "rate_limited": 0,  # 429s (rate or queue)
        "queue_full": 0,  # of which because of the queue
        "bad_requests": 0,  # 4xx other than 403/429 on push
        "forbidden": 0,  # 403s on any /v2 route
    }


class OmetriaAccount:
    """One Ometria account's state: stored records, error log, rate window, queue, statistics."""

    def __init__(
        self,
        api_key: str,
        push_rate: float = 8.0,
        queue_limit: int | None = None,
        queue_drain_rate: float = DEFAULT_QUEUE_DRAIN_RATE,
    ) -> None:
        self.lock = threading.RLock()
        self.api_key = api_key
        self.push_rate = float(push_rate)
        self.queue_limit = queue_limit
        self.queue_drain_rate = float(queue_drain_rate)
        self.records: dict[str, dict] = {}  # product records by id
        self.recent: deque[tuple[float, str]] = deque(maxlen=25)  # (when, record id), for the page at /
        # (request_id, record ids) of the latest push requests answered 200: which request carried what
        self.push_log: deque[tuple[str, list[str]]] = deque(maxlen=10_000)
        self.other_records: dict[str, dict[str, dict]] = {}  # other @types: by type, then id
        self.errors: deque[dict] = deque(maxlen=ERROR_LOG_SIZE)
        self.stats: dict[str, int] = _empty_stats()
        self._push_times: deque[float] = deque()
        self._queued = 0.0
        self._queue_at = time.monotonic()

    def __repr__(self) -> str:
        return (
            f"OmetriaAccount(records={len(self.records)}, push_rate={self.push_rate}, "
            f"queue_limit={self.queue_limit})"
        )

    # -- configuration -----------------------------------------------------------------------------
    def configure(self, **config: Any) -> dict:
        known = {"push_rate", "queue_limit", "queue_drain_rate", "api_key"}
        unknown = set(config) - known
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        with self.lock:
            if "push_rate" in config:
                rate = config["push_rate"]
                if not _is_number(rate) or rate <= 0:
                    raise ValueError("push_rate must be a number > 0")
                self.push_rate = float(rate)
            if "queue_limit" in config:
                limit = config["queue_limit"]
                if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
                    raise ValueError("queue_limit must be a positive integer or null")
                self.queue_limit = limit
            if "queue_drain_rate" in config:
                drain = config["queue_drain_rate"]
                if not _is_number(drain) or drain < 0:
                    raise ValueError("queue_drain_rate must be a number >= 0")
                self._drain(time.monotonic())
                self.queue_drain_rate = float(drain)
            if "api_key" in config:
                key = config["api_key"]
                if not isinstance(key, str) or not key:
                    raise ValueError("api_key must be a non-empty string")
                self.api_key = key
            return self.public_config()

    def public_config(self) -> dict:
        with self.lock:
            return {
                "push_rate": self.push_rate,
                "queue_limit": self.queue_limit,
                "queue_drain_rate": self.queue_drain_rate,
                "api_key_set": bool(self.api_key),
            }

    def reset(self) -> None:
        with self.lock:
            self.records.clear()
            self.recent.clear()
            self.push_log.clear()
            self.other_records.clear()
            self.errors.clear()
            self.stats = _empty_stats()
            self._push_times.clear()
            self._queued = 0.0
            self._queue_at = time.monotonic()

    def authorised(self, key: str | None) -> bool:
        return key is not None and hmac.compare_digest(key.encode(), self.api_key.encode())

    # -- rate and queue ----------------------------------------------------------------------------
    def take_push_slot(self, now: float) -> bool:
        """True (and the push counted in the window) if under push_rate requests in the last second."""
        with self.lock:
            while self._push_times and self._push_times[0] <= now - 1.0:
                self._push_times.popleft()
            if len(self._push_times) >= self.push_rate:
                return False
            self._push_times.append(now)
            return True

    def _drain(self, now: float) -> None:
        self._queued = max(0.0, self._queued - (now - self._queue_at) * self.queue_drain_rate)
        self._queue_at = now

    def queue_full(self, now: float) -> bool:
        with self.lock:
            if self.queue_limit is None:
                return False
            self._drain(now)
            return self._queued >= self.queue_limit

    def enqueue(self, n: int, now: float) -> None:
        with self.lock:
            if self.queue_limit is not None:
                self._drain(now)
                self._queued += n

    def queue_headers(self, now: float) -> dict[str, str]:
        with self.lock:
            if self.queue_limit is None:
                return {}
            self._drain(now)
            remaining = max(0, int(self.queue_limit - self._queued))
            return {"X-QueueSize-Limit": str(self.queue_limit), "X-QueueSize-Remaining": str(remaining)}

    # -- records -----------------------------------------------------------------------------------
    def log_error(self, request_id: str, record_id: Any, path: str, message: str) -> None:
        with self.lock:
            self.errors.appendleft(
                {
                    "error_message": message,
                    "error_path": path,
                    "request_id": request_id,
                    "record_id": record_id if isinstance(record_id, str | int) else None,
                    "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                }
            )

    def apply(self, record: dict[str, Any]) -> None:
        """Store one valid record with Ometria's merge semantics."""
        rtype = record["@type"]
        rid = str(record["id"])
        merge = record.get("@merge") is True
        clean = {k: v for k, v in record.items() if k != "@merge"}
        with self.lock:
            store = self.records if rtype == "product" else self.other_records.setdefault(rtype, {})
            if merge and rid in store:
                store[rid] = {**store[rid], **clean}
            else:
                store[rid] = clean
            self.stats["stored"] += 1
            self.recent.appendleft((time.time(), rid))

    def products(self, include_variants: bool, active: bool | None) -> list[dict]:
        with self.lock:
            items = list(self.records.values())
        if not include_variants:
            items = [r for r in items if r.get("is_variant") is not True]
        if active is not None:
            items = [r for r in items if (r.get("is_active") is not False) == active]
        return items

    def note_push(self, request_id: str, record_ids: list[str]) -> None:
        with self.lock:
            self.push_log.append((request_id, record_ids))

    def count(self, stat: str, n: int = 1) -> None:
        with self.lock:
            self.stats[stat] += n
