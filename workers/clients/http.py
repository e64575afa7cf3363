"""The one way both API clients send a request: through the shared budget, with a timeout, never
following a redirect (a token must not travel to another host), failures classified."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import requests

from workers.domain.errors import TransientError, body_excerpt, from_request_exception
from workers.domain.tally import TALLY


class Budget(Protocol):
    def acquire(self) -> None: ...  # blocks until one request may be sent

    def observe(self, status: int, headers: Mapping[str, str]) -> None: ...  # every answer's (0: none)


class Counted:
    """A client's budget, with every answer counted for GET /metrics (requests by store and status)."""

    def __init__(self, budget: Budget, api: str, store_hash: str) -> None:
        self.inner, self.api, self.store_hash = budget, api, store_hash

    def acquire(self) -> None:
        self.inner.acquire()

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        TALLY.request(self.api, self.store_hash, status)
        self.inner.observe(status, headers)


def send(
    session: requests.Session,
    budget: Budget,
    method: str,
    url: str,
    *,
    service: str,
    what: str,
    secrets: Iterable[str],
    **kwargs: Any,
) -> requests.Response:
    """acquire → request → observe. A failure with no answer is observed as status 0 (so the budget
    frees the request's slot) and raised as a classified SyncError."""
    budget.acquire()
    try:
        resp = session.request(method, url, allow_redirects=False, **kwargs)
    except requests.RequestException as exc:
        budget.observe(0, {})
        raise from_request_exception(exc, service, what, secrets) from None
    budget.observe(resp.status_code, resp.headers)
    return resp


def json_of(resp: requests.Response, *, service: str, what: str, secrets: Iterable[str]) -> Any:
    """A 2xx answer's JSON; a body that is not JSON (truncated, garbage) is a transient error."""
    try:
        return resp.json()
    except ValueError:
        raise TransientError(
            f"{service} {what}: HTTP {resp.status_code} with a body that is not JSON "
            f"({body_excerpt(resp.text, secrets, 120)})",
            status=resp.status_code,
        ) from None
