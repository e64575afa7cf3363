"""Retrying one API call in place, inside a flush, by a `workers.domain.retry.Policy` (tenacity)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from workers.domain.errors import TransientError
from workers.domain.retry import Policy

T = TypeVar("T")


def call_with_retries(
    policy: Policy,
    call: Callable[[], T],
    *,
    before_sleep: Callable[[TransientError, float], None] | None = None,
) -> tuple[T, int]:
    """`call()`, tried up to `policy.attempts` times while it raises a TransientError whose hint
    fits the policy (a longer hint is raised at once: the caller hands the work back to wait it
    out). Between tries the policy's delay, never less than the hint. Returns (result, tries)."""

    def retryable(exc: BaseException) -> bool:
        return isinstance(exc, TransientError) and policy.fits(exc.retry_after)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hint = exc.retry_after if isinstance(exc, TransientError) else None
        return policy.delay(state.attempt_number, hint)

    def announce(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if before_sleep is not None and isinstance(exc, TransientError) and state.next_action is not None:
            before_sleep(exc, state.next_action.sleep)

    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        retry=retry_if_exception(retryable),
        wait=wait,
        sleep=lambda seconds: time.sleep(seconds),
        before_sleep=announce,
        reraise=True,
    )
    tries = 0

    def counted() -> T:
        nonlocal tries
        tries += 1
        return call()

    return retrying(counted), tries
