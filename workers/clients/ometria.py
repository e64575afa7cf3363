"""Ometria Data API client: the only module that knows Ometria's URLs, headers and limits.

`push` sends one request of 1..100 records of one `@type` (POST /v2/push).
Every request goes through `budget.acquire()` first and `budget.observe(status, headers)` after
every response, so the shared Ometria budget sees 429s and the queue headers. The last
X-QueueSize-Remaining / X-QueueSize-Limit seen are kept in `last_queue_remaining` /
`last_queue_limit` (None when Ometria did not send them).

Failures (`workers.domain.errors`): 429 -> TransientError (`retry_after` from Retry-After, else 1 s);
401/403 -> ConfigurationError ("bad Ometria API key"); 404 -> ConfigurationError (OMETRIA_API_URL);
400 and other 4xx -> PermanentError carrying Ometria's message; 5xx, timeouts, connection errors and
answers that are not the expected JSON -> TransientError (a push is an upsert, so sending it again
is harmless). A push answered OK with `rejected > 0` is not an exception: the PushResult says so,
and `errors()` lists why. Records over Ometria's 60 KB limit are refused before sending with
`RecordTooLargeError` naming them, so a caller can set them aside and push the rest.
No retries in here (the tasks retry); redirects are not followed, so the key never travels to
another host.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from workers.clients.bigcommerce import Budget, NoBudget
from workers.clients.http import Counted, json_of, send
from workers.clients.ratelimit import RateHeaders, whole
from workers.domain import retry
from workers.domain.errors import (
    ConfigurationError,
    PermanentError,
    SyncError,
    TransientError,
    body_excerpt,
)
from workers.domain.tally import TALLY
from workers.settings import StoreConfig

MAX_RECORDS = 100  # per push request
MAX_RECORD_BYTES = 60_000  # "60KB per record"; the decimal reading, to stay on the safe side
MAX_PRODUCTS_PAGE = 250
DEFAULT_RETRY_AFTER = retry.OMETRIA_RETRY_AFTER
SERVICE = "Ometria"


@dataclass
class PushResult:
    accepted: int
    rejected: int
    request_id: str


class RecordTooLargeError(PermanentError):
    """Some records exceed Ometria's per-record size; `record_ids` says which (nothing was sent)."""

    def __init__(self, message: str, *, record_ids: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.record_ids = list(record_ids)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_too_large, (self.message, self.record_ids))


def _rebuild_too_large(message: str, record_ids: list[str]) -> RecordTooLargeError:
    return RecordTooLargeError(message, record_ids=record_ids)


def record_size(record: Mapping[str, Any]) -> int:
    """Bytes of the record as sent (compact UTF-8 JSON)."""
    return len(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


class OmetriaClient:
    def __init__(
        self,
        store: StoreConfig,
        budget: Budget | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
    ) -> None:
        self.store_hash = store.store_hash
        self.budget: Budget = Counted(budget or NoBudget(), "ometria", store.store_hash)
        self.session = session or requests.Session()
        self.timeout = timeout
        self.requests_sent = 0
        self.last_queue_remaining: int | None = None
        self.last_queue_limit: int | None = None
        self._root = f"{store.ometria_api_url.rstrip('/')}/v2"
        self._secrets = tuple(s for s in (store.ometria_api_key, *store.secrets) if s)
        self._headers = {
            "X-Ometria-Auth": store.ometria_api_key,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    def __repr__(self) -> str:
        return f"OmetriaClient(store_hash={self.store_hash!r}, root={self._root!r})"

    # -- push ------------------------------------------------------------------------------------

    def push(self, records: Sequence[Mapping[str, Any]]) -> PushResult:
        """One POST /v2/push of 1..100 records of one `@type`."""
        if not 1 <= len(records) <= MAX_RECORDS:
            raise ValueError(f"a push takes 1..{MAX_RECORDS} records, got {len(records)}")
        types = {r.get("@type") for r in records}
        if len(types) != 1 or None in types:
            raise ValueError(f"a push takes records of exactly one @type, got {sorted(map(str, types))}")
        body = json.dumps(list(records), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if len(body) > MAX_RECORD_BYTES + 2:  # only then can a single record be over the limit
            too_large = [str(r.get("id")) for r in records if record_size(r) > MAX_RECORD_BYTES]
            if too_large:
                raise RecordTooLargeError(
                    f"{SERVICE} push: {len(too_large)} record(s) over {MAX_RECORD_BYTES} bytes: "
                    + ", ".join(too_large[:10]),
                    record_ids=too_large,
                )
        answer = self._request("POST", "/push", data=body)
        if not isinstance(answer, dict):
            raise TransientError(f"{SERVICE} POST /push: the answer is not a JSON object")
        status = answer.get("status")
        if status is not None and str(status).upper() != "OK":
            message = _message(answer) or str(status)
            raise PermanentError(f"{SERVICE} POST /push: {body_excerpt(message, self._secrets)}")
        accepted, rejected = answer.get("accepted"), answer.get("rejected")
        if status is None and accepted is None:
            raise TransientError(f"{SERVICE} POST /push: the answer has neither status nor counts")
        rejected_count = _count(rejected, 0)
        result = PushResult(
            accepted=_count(accepted, len(records) - rejected_count),
            rejected=rejected_count,
            request_id=str(answer.get("request_id") or ""),
        )
        TALLY.inc("bcsync_ometria_records", result.accepted, store=self.store_hash, outcome="accepted")
        TALLY.inc("bcsync_ometria_records", result.rejected, store=self.store_hash, outcome="rejected")
        return result

    def errors(self) -> list[dict[str, Any]]:
        """The latest record errors Ometria found after accepting pushes (GET /v2/push/_errors)."""
        answer = self._request("GET", "/push/_errors")
        items = _items(answer, ("errors", "data", "results"))
        if items is None:
            raise TransientError(f"{SERVICE} GET /push/_errors: the answer is not a list of errors")
        return items

    # -- read back -------------------------------------------------------------------------------

    def product(self, record_id: str) -> dict[str, Any] | None:
        """Ometria's copy of one product record (GET /v2/products/{id}); None when it has none."""
        from urllib.parse import quote

        try:
            answer = self._request("GET", f"/products/{quote(str(record_id), safe='')}")
        except ConfigurationError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(answer, dict):
            raise TransientError(f"{SERVICE} GET /products/{{id}}: the answer is not a JSON object")
        return answer

    def iter_products(self, include_variants: bool = True) -> Iterator[dict[str, Any]]:
        """Every product Ometria holds, page by page (offset pagination, until an empty page: a server
        that caps `limit` lower than asked must not end the walk early)."""
        offset = 0
        while True:
            params = {"limit": MAX_PRODUCTS_PAGE, "offset": offset, "includeVariants": "true"}
            page = _items(self._request("GET", "/products", params=params), ("data", "products", "results"))
            if page is None:
                raise TransientError(f"{SERVICE} GET /products: the answer is not a list of products")
            for product in page:
                if include_variants or product.get("is_variant") is not True:
                    yield product
            if not page:
                return
            offset += len(page)

    # -- transport -------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, data: bytes | None = None
    ) -> Any:
        what = f"{method} {path}"
        self.requests_sent += 1
        resp = send(
            self.session,
            self.budget,
            method,
            self._root + path,
            service=SERVICE,
            what=what,
            secrets=self._secrets,
            params=params,
            data=data,
            headers=self._headers,
            timeout=self.timeout,
        )
        self._note_queue(resp.headers)
        if 200 <= resp.status_code < 300:
            return json_of(resp, service=SERVICE, what=what, secrets=self._secrets)
        raise self._classify(resp, what)

    def _note_queue(self, headers: Mapping[str, str]) -> None:
        if any(k.lower() == "x-queuesize-remaining" for k in headers):
            self.last_queue_remaining = whole(headers, "X-QueueSize-Remaining")
        if any(k.lower() == "x-queuesize-limit" for k in headers):
            self.last_queue_limit = whole(headers, "X-QueueSize-Limit")

    def _classify(self, resp: requests.Response, what: str) -> SyncError:
        status = resp.status_code
        prefix = f"{SERVICE} {what} (store {self.store_hash}): HTTP {status}"
        detail = _error_text(resp, self._secrets)
        rate = RateHeaders.of(resp.headers)
        if status == 429:
            queue = "" if self.last_queue_remaining is None else f" (queue room {self.last_queue_remaining})"
            return TransientError(
                f"{prefix}: rate limited{queue}",
                retry_after=retry.rate_limit_wait(None, rate.retry_after, DEFAULT_RETRY_AFTER),
                status=status,
            )
        if status >= 500:
            return TransientError(f"{prefix} {detail}".rstrip(), retry_after=rate.retry_after, status=status)
        if status in (401, 403):
            return ConfigurationError(f"{prefix}: bad Ometria API key; check OMETRIA_API_KEY", status=status)
        if status == 404 or 300 <= status < 400:
            return ConfigurationError(f"{prefix}: check OMETRIA_API_URL", status=status)
        return PermanentError(f"{prefix} {detail}".rstrip(), status=status)


def _message(answer: Mapping[str, Any]) -> str:
    for key in ("message", "error", "detail", "title", "errors"):
        if answer.get(key):
            return str(answer[key])
    return ""


def _error_text(resp: requests.Response, secrets: Sequence[str]) -> str:
    try:
        answer = resp.json()
    except ValueError:
        return body_excerpt(resp.text, secrets) if resp.text else ""
    text = _message(answer) if isinstance(answer, dict) else ""
    return body_excerpt(text or resp.text, secrets)


def _items(answer: Any, keys: Sequence[str]) -> list[dict[str, Any]] | None:
    if isinstance(answer, dict):
        answer = next((answer[k] for k in keys if isinstance(answer.get(k), list)), None)
    if isinstance(answer, list) and all(isinstance(item, dict) for item in answer):
        return answer
    return None


def _count(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
