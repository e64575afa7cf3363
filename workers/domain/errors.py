"""What went wrong talking to BigCommerce or Ometria, classified so callers know what to do next.

- `TransientError`: try again later (429, 5xx, timeouts, dropped connections, truncated or invalid
  JSON). `retry_after` says how long to wait when the server said so.
- `PermanentError`: this request will never succeed as sent (a 4xx other than auth/scope); record it
  in the failed list for ops instead of retrying.
- `ConfigurationError`: the credentials, store hash, scopes or URLs are wrong; nothing succeeds until
  someone fixes the configuration (401/403, a 404 on a store-level endpoint).

Messages never contain tokens or keys: clients build them from the method, the path and a short,
redacted excerpt of the response body — never from request headers — and `redact()` scrubs any
configured secret that a server might echo back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Literal

import requests

from workers.domain.text import clean

Kind = Literal["transient", "permanent", "configuration"]

REDACTED = "[redacted]"
BODY_EXCERPT_CHARS = 300


class SyncError(Exception):
    """Base of every classified failure; `kind` tells a task whether to retry, park or stop."""

    kind: ClassVar[Kind] = "permanent"

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.status = status

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}({self.message!r}, status={self.status!r}, retry_after={self.retry_after!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only arguments survive pickling (Celery may serialise exceptions)
        return (_rebuild, (type(self), self.message, self.retry_after, self.status))


def _rebuild(cls: type[SyncError], message: str, retry_after: float | None, status: int | None) -> SyncError:
    return cls(message, retry_after=retry_after, status=status)


class TransientError(SyncError):
    """Worth retrying after `retry_after` seconds (or the caller's own back-off when None)."""

    kind: ClassVar[Kind] = "transient"


class PermanentError(SyncError):
    """Retrying the same request cannot help; park it in the failed list."""

    kind: ClassVar[Kind] = "permanent"


class ConfigurationError(SyncError):
    """Credentials, scopes, store hash or URLs are wrong; every request will fail until fixed."""

    kind: ClassVar[Kind] = "configuration"


class NotFoundError(ValueError):
    """A store, product, category or failed task that does not exist was named; nothing was changed.
    The CLI prints the message and exits 1; the admin API answers 404."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every non-empty secret replaced (longest first, so overlapping secrets go whole)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def body_excerpt(text: str, secrets: Iterable[str], limit: int = BODY_EXCERPT_CHARS) -> str:
    """A one-line, redacted, bounded excerpt of a response body, for error messages; escape sequences
    and control characters removed (workers.domain.text.clean)."""
    secrets = list(secrets)
    flat = redact(" ".join(clean(redact(text, secrets)).split()), secrets)
    return flat if len(flat) <= limit else flat[:limit] + "…"


def from_request_exception(exc: Exception, service: str, what: str, secrets: Iterable[str]) -> SyncError:
    """Classify a `requests` failure that produced no response (timeout, refused, reset, bad URL)."""
    detail = body_excerpt(str(exc), secrets, limit=200)
    if isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema,
    ):
        return ConfigurationError(f"{service} {what}: the API URL is not usable ({type(exc).__name__})")
    if isinstance(exc, requests.Timeout):
        return TransientError(f"{service} {what}: timed out ({type(exc).__name__})")
    return TransientError(f"{service} {what}: {type(exc).__name__}: {detail}")
