"""Authenticating BigCommerce's webhook callbacks, per store, over the raw body.

Per store, every check that applies must pass:
- WEBHOOK_SECRET set: the `X-Webhook-Secret` header equals it (hmac.compare_digest, constant time).
- BIGCOMMERCE_CLIENT_SECRET set: Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
  `webhook-signature`), when present, verify with the `standardwebhooks` library (key = base64 of
  the client secret; every v1 signature in the header is tried; the header's timestamp within ±5 min
  of now — never the payload's created_at). With only the client secret set they are required.
- A partial set of the Standard Webhooks headers is refused whatever is configured.

Which store's credentials: the body's `producer`, read leniently before anything is trusted. When
it names a configured store only that store's credentials are tried, so one store's secret never
authenticates another store's callbacks. When it names no configured store (or the body is not
JSON) every store's credentials are tried: a request that passes one of them is authentic and goes
on to be refused as 400 (bad body) or 404 (unknown store); one that passes none is 401. So an
unauthenticated caller learns nothing about which stores exist: it always gets 401.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from standardwebhooks import Webhook

from workers.settings import StoreConfig

SECRET_HEADER = "X-Webhook-Secret"  # noqa: S105 (a header name)
ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER = "webhook-id", "webhook-timestamp", "webhook-signature"
STANDARD_HEADERS = (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_V1_SIGNATURE = re.compile(r"v1,[A-Za-z0-9+/]+={0,2}")


class RequestHeaders(Protocol):
    """What authentication reads of a request's headers: werkzeug's `Headers` (case-insensitive) or,
    in tests and tools, a plain dict."""

    def get(self, key: str, default: str, /) -> str: ...
    def __contains__(self, key: str, /) -> bool: ...
    def __getitem__(self, key: str, /) -> str: ...


class AuthenticationFailed(Exception):
    """Why a callback is not authentic (for the log; the client only hears "authentication failed")."""


@dataclass(frozen=True)
class Authenticated:
    """Stores whose credentials the request passed, and its Standard Webhooks id if it carried one."""

    stores: frozenset[str]
    webhook_id: str | None


class StoreVerifier:
    """The webhook credentials of one store."""

    def __init__(self, store: StoreConfig) -> None:
        self.store_hash = store.store_hash
        self._secret = store.webhook_secret.encode() if store.webhook_secret else None
        self._signing = (
            Webhook(base64.b64encode(store.client_secret.encode()).decode()) if store.client_secret else None
        )

    def __repr__(self) -> str:
        return f"StoreVerifier({self.store_hash!r})"

    def problem(self, headers: RequestHeaders, body: bytes, signed: dict[str, str] | None) -> str | None:
        """None when every configured check passes, else what failed."""
        failed = None
        if self._secret is not None:
            given = headers.get(SECRET_HEADER, "").encode("latin-1", "replace")
            if not hmac.compare_digest(given, self._secret):
                failed = f"{SECRET_HEADER} {'wrong' if SECRET_HEADER in headers else 'missing'}"
        if self._signing is not None:
            if signed is not None:
                failed = failed or _signature_problem(self._signing, body, signed)
            elif self._secret is None:
                failed = failed or "Standard Webhooks signature headers missing"
        return failed


def _signature_problem(signing: Webhook, body: bytes, signed: dict[str, str]) -> str | None:
    if not _TIMESTAMP.fullmatch(signed[TIMESTAMP_HEADER]):
        return "webhook-timestamp is not unix seconds"
    # The library stops at the first entry it cannot parse; hand it only well-formed v1 entries.
    entries = signed[SIGNATURE_HEADER].split(" ")
    usable = [s for s in entries if _V1_SIGNATURE.fullmatch(s) and _is_base64(s[3:])]
    if not usable:
        return "webhook-signature holds no v1 signature"
    try:
        signing.verify(body, {**signed, SIGNATURE_HEADER: " ".join(usable)}, json_parse=False)
    except Exception as exc:  # WebhookVerificationError, a body that is not UTF-8, ...
        return f"signature not verified ({exc})"[:120]
    return None


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


class Authenticator:
    def __init__(self, stores: Iterable[StoreConfig]) -> None:
        self._stores = {st.store_hash: StoreVerifier(st) for st in stores}

    def authenticate(self, headers: RequestHeaders, body: bytes, claimed_store: str | None) -> Authenticated:
        """The stores this request authenticates as; AuthenticationFailed when none."""
        present = [h for h in STANDARD_HEADERS if h in headers]
        if present and len(present) < len(STANDARD_HEADERS):
            missing = sorted(set(STANDARD_HEADERS) - set(present))
            raise AuthenticationFailed(f"incomplete Standard Webhooks headers (missing {', '.join(missing)})")
        signed = {h: headers[h] for h in STANDARD_HEADERS} if present else None
        if claimed_store in self._stores:
            candidates = [self._stores[claimed_store]]
        else:
            candidates = list(self._stores.values())
        problems = {v.store_hash: v.problem(headers, body, signed) for v in candidates}
        passed = frozenset(store for store, problem in problems.items() if problem is None)
        if not passed:
            raise AuthenticationFailed("; ".join(sorted({p for p in problems.values() if p})))
        return Authenticated(stores=passed, webhook_id=(signed[ID_HEADER] or None) if signed else None)
