"""The one reader of rate-limit headers (BigCommerce's `X-Rate-Limit-*`, Ometria's
`X-QueueSize-*`, anybody's `Retry-After`): numbers out of an answer's headers, by any case."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from workers.domain import retry


def number(headers: Mapping[str, str], name: str) -> float | None:
    """The header `name` (any case) as a number; None when absent or not a number."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


def whole(headers: Mapping[str, str], name: str) -> int | None:
    """The header as a whole number (a finite one), else None."""
    value = number(headers, name)
    return int(value) if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class RateHeaders:
    left: float | None = None  # X-Rate-Limit-Requests-Left
    quota: float | None = None  # X-Rate-Limit-Requests-Quota
    reset_ms: float | None = None  # X-Rate-Limit-Time-Reset-Ms
    retry_after: float | None = None  # Retry-After (seconds)
    queue_left: float | None = None  # X-QueueSize-Remaining
    queue_limit: float | None = None  # X-QueueSize-Limit

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> RateHeaders:
        return cls(
            left=number(headers, "X-Rate-Limit-Requests-Left"),
            quota=number(headers, "X-Rate-Limit-Requests-Quota"),
            reset_ms=number(headers, "X-Rate-Limit-Time-Reset-Ms"),
            retry_after=number(headers, "Retry-After"),
            queue_left=number(headers, "X-QueueSize-Remaining"),
            queue_limit=number(headers, "X-QueueSize-Limit"),
        )

    def wait_429(self, default: float) -> float:
        """How long a 429 with these headers asks to wait (`workers.domain.retry.rate_limit_wait`)."""
        return retry.rate_limit_wait(self.reset_ms, self.retry_after, default)
