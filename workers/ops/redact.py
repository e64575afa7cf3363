"""Keep secrets out of logs and error reports: every configured secret, and anything shaped like an
auth header or a webhook signature, becomes the one marker, `workers.domain.errors.REDACTED`
("[redacted]", as in error messages, which `workers.domain.errors.redact` scrubs); escape sequences
and control characters (from upstream text quoted in a message) are removed (workers.domain.text.clean).

- `install_log_redaction(secrets)`: a `logging.Filter` on the root logger's handlers, plus a wrapper
  around the LogRecord factory so that handlers added later (or on other loggers) see redacted
  records too. Messages, arguments, formatted tracebacks and stack info are redacted.
- `scrub_event(event, hint)` / `scrub_breadcrumb(crumb, hint)`: sentry-sdk's `before_send` and
  `before_breadcrumb` hooks; they redact every string in the event, recursively, and mask the values
  of keys that name a credential (headers such as `X-Webhook-Secret`, `Authorization`, ...).

Secrets are remembered for the life of the process (a set that only grows). No Flask here.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from workers.domain.errors import REDACTED
from workers.domain.text import clean

MASK = REDACTED  # one marker for logs, Sentry events and error messages alike

# sentry-sdk's events and breadcrumbs are TypedDicts; a scrubbed one has the same shape.
_Event = TypeVar("_Event", bound=Mapping[str, Any])

# "X-Auth-Token: abc", "'X-Ometria-Auth': 'abc'", "webhook-signature=v1,abc v1,def", ...
_HEADER_VALUE = re.compile(
    r"(?i)\b(x-auth-token|x-ometria-auth|x-webhook-secret|authorization|webhook-signature)"
    r"(['\"]?\s*[:=]\s*['\"]?)([^'\"\r\n]+)"
)
# A Standard Webhooks signature anywhere: "v1,<base64 of 32 bytes>".
_SIGNATURE = re.compile(r"\bv1,[A-Za-z0-9+/]{16,}={0,2}")
# Keys whose value is a credential, wherever they appear in a Sentry event.
_SENSITIVE_KEY = re.compile(
    r"(?i)(secret|token|signature|passw|auth|api[-_]?key|cookie|credential|session|dsn)"
)


class Redactor:
    """Replaces known secrets and credential-shaped text; thread-safe, secrets only accumulate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None

    def add(self, secrets: Iterable[str]) -> None:
        new = {s for s in secrets if isinstance(s, str) and s}
        with self._lock:
            if new <= self._secrets:
                return
            self._secrets = self._secrets | new
            longest_first = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in longest_first))

    def text(self, value: str) -> str:
        value = clean(value)  # upstream text quoted in a log line carries no terminal escapes either
        pattern = self._pattern
        if pattern is not None:
            value = pattern.sub(MASK, value)
        value = _HEADER_VALUE.sub(lambda m: m.group(1) + m.group(2) + MASK, value)
        return _SIGNATURE.sub("v1," + MASK, value)

    def record(self, record: logging.LogRecord) -> None:
        """Redact a log record in place (idempotent)."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it later; redact the parts
            message = None
        if message is not None:
            redacted = self.text(message)
            if redacted != message:
                record.msg, record.args = redacted, None
        elif isinstance(record.msg, str):
            record.msg = self.text(record.msg)
            record.args = None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            formatted = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            redacted = self.text(formatted)
            if redacted != formatted:
                record.exc_text = redacted
        elif record.exc_text:
            record.exc_text = self.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.text(record.stack_info)


_redactor = Redactor()


def redact(text: str) -> str:
    """The text with every known secret and credential-shaped value replaced by the marker."""
    return _redactor.text(text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        _redactor.record(record)
        return True


_filter = RedactingFilter()
_factory_installed = False
_factory_lock = threading.Lock()


def install_log_redaction(secrets: Iterable[str]) -> None:
    """Redact `secrets` (and header/signature-shaped text) from every log record; idempotent."""
    global _factory_installed
    _redactor.add(secrets)
    for handler in logging.getLogger().handlers:
        if _filter not in handler.filters:
            handler.addFilter(_filter)
    with _factory_lock:
        if not _factory_installed:
            previous = logging.getLogRecordFactory()

            def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                _redactor.record(record)
                return record

            logging.setLogRecordFactory(redacting_factory)
            _factory_installed = True


def add_secrets(secrets: Iterable[str]) -> None:
    """Remember more secrets without touching logging (e.g. for Sentry only)."""
    _redactor.add(secrets)


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 64:
        return MASK
    if isinstance(value, str):
        return _redactor.text(value)
    if isinstance(value, bytes | bytearray):
        return _redactor.text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            name = _redactor.text(key) if isinstance(key, str) else key
            if isinstance(key, str) and _SENSITIVE_KEY.search(key) and isinstance(item, str | bytes | int):
                out[name] = MASK if item not in ("", b"") else item
            else:
                out[name] = _scrub(item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        items = [_scrub(item, depth + 1) for item in value]
        # [name, value] header pairs (e.g. breadcrumb data): mask by the name
        if len(items) == 2 and isinstance(value[0], str) and _SENSITIVE_KEY.search(value[0]):
            items[1] = MASK
        return items if isinstance(value, list) else tuple(items)
    return value


def scrub_event(event: _Event, hint: dict[str, Any] | None = None) -> _Event | None:
    """sentry-sdk `before_send`: the event with every secret removed; dropped if scrubbing fails."""
    try:
        return _scrub(event)
    except Exception:  # never let an unscrubbed event through
        return None


def scrub_breadcrumb(crumb: _Event, hint: dict[str, Any] | None = None) -> _Event | None:
    """sentry-sdk `before_breadcrumb`."""
    return scrub_event(crumb, hint)
