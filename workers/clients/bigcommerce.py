"""BigCommerce REST client: the only module that knows BigCommerce's URLs, headers, pagination and
rate-limit headers. Everything else asks for products, categories, brands, hooks in domain words.

Every request goes through `budget.acquire()` before it is sent and `budget.observe(status, headers)`
after every response (including errors), so one shared budget sees each store's X-Rate-Limit-*
headers. Every request has a (connect, read) timeout.

Failures are raised as `workers.domain.errors` classes:
- 429 -> TransientError, `retry_after` from X-Rate-Limit-Time-Reset-Ms (ms -> s), else Retry-After,
  else `PLATFORM_BACKOFF` (a 429 without rate headers means platform load);
- 5xx, timeouts, connection errors, truncated / non-JSON / wrongly shaped answers -> TransientError;
- 3xx, 401/403 -> ConfigurationError; 404 on a store-level endpoint -> ConfigurationError (wrong store
  hash, channel, or a token without the scope); 404 on one hook -> PermanentError;
- any other 4xx -> PermanentError with BigCommerce's title/errors.

The client never retries, not even on 429: a 429 means the store's quota (shared by every app and
every worker) is gone, and the budget already pauses every worker until the window resets; the tasks
retry with `retry_after`. Retrying in here would hide the back-off from the budget and hold a worker
and its claimed batch while sleeping. The access token is sent only as a request header, never
logged, and is redacted from any message that echoes a response body. Redirects are not followed
(requests would carry X-Auth-Token to whatever host a redirect names); a 3xx is a
ConfigurationError pointing at BIGCOMMERCE_API_URL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import requests

from workers.clients.bigcommerce_storefronts import MAX_PAGE as MAX_PAGE  # re-exported
from workers.clients.bigcommerce_storefronts import SERVICE as SERVICE
from workers.clients.bigcommerce_storefronts import CategoryTree as CategoryTree
from workers.clients.bigcommerce_storefronts import StorefrontLookups
from workers.clients.bigcommerce_storefronts import data_object as _data
from workers.clients.http import Budget, Counted, json_of, send
from workers.clients.ratelimit import RateHeaders
from workers.domain import retry
from workers.domain.errors import (
    ConfigurationError,
    PermanentError,
    SyncError,
    TransientError,
    body_excerpt,
)
from workers.settings import StoreConfig

log = logging.getLogger(__name__)

PLATFORM_BACKOFF = retry.PLATFORM_BACKOFF  # seconds to wait after a 429 that carries no rate-limit headers
PRODUCT_INCLUDE = "variants,images,custom_fields,channels"  # channels: the assignments, at no extra call

# which API-account scope a 403 on a path most likely lacks (the first matching prefix wins)
_SCOPE_HINTS: tuple[tuple[str, str], ...] = (
    ("/v3/catalog", "Products (read-only or modify)"),
    ("/v3/hooks", "the scopes of the hooked resources (Products for catalog events)"),
    ("/v3/channels", "Channel Settings (read-only) / Sites & Routes"),
    ("/v3/pricelists", "Price Lists (read-only)"),
    ("/v2/currencies", "Information & Settings (read-only)"),
    ("/v3/storefront/api-token", "Storefront API Tokens (manage)"),
    ("/v2/store", "Information & Settings (read-only)"),
)


class NoBudget:
    """No pacing at all: for one-off commands and tests that do not share a quota."""

    def acquire(self) -> None:
        return None

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        return None


class BigCommerceClient(StorefrontLookups):
    """One store's REST client; the storefront lookups come from `StorefrontLookups`."""

    def __init__(
        self,
        store: StoreConfig,
        budget: Budget | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
    ) -> None:
        self.store_hash = store.store_hash
        self.budget: Budget = Counted(budget or NoBudget(), "bigcommerce", store.store_hash)
        self.session = session or requests.Session()
        self.timeout = timeout
        self.requests_sent = 0
        self._root = f"{store.api_url.rstrip('/')}/stores/{store.store_hash}"
        self._secrets = tuple(s for s in (store.access_token, *store.secrets) if s)
        self._headers = {
            "X-Auth-Token": store.access_token,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    def __repr__(self) -> str:
        return f"BigCommerceClient(store_hash={self.store_hash!r}, root={self._root!r})"

    # -- catalog ---------------------------------------------------------------------------------

    def products_by_ids(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """The products among `ids` that exist, with variants, images and custom fields: one call.

        A product missing from the answer no longer exists (or is hidden from this token).
        """
        unique = list(dict.fromkeys(ids))
        if len(unique) > MAX_PAGE:
            raise ValueError(f"at most {MAX_PAGE} product ids per call, got {len(unique)}")
        if any(isinstance(i, bool) or not isinstance(i, int) or i <= 0 for i in unique):
            raise ValueError("product ids must be positive integers")
        if not unique:
            return []
        params = {"id:in": ",".join(map(str, unique)), "include": PRODUCT_INCLUDE}
        return [p for page in self._pages("/v3/catalog/products", params, MAX_PAGE) for p in page]

    def existing_product_ids(self, ids: Sequence[int]) -> set[int]:
        """Which of `ids` the store has: one light call per 250 (ids only)."""
        unique = list(dict.fromkeys(int(i) for i in ids))
        found: set[int] = set()
        for start in range(0, len(unique), MAX_PAGE):
            chunk = unique[start : start + MAX_PAGE]
            params = {"id:in": ",".join(map(str, chunk)), "include_fields": "id"}
            for page in self._pages("/v3/catalog/products", params, MAX_PAGE):
                found.update(int(p["id"]) for p in page)
        return found

    def iter_product_pages(
        self,
        *,
        date_modified_min: str | None = None,
        category_id: int | None = None,
        id_min: int | None = None,
        include: str = PRODUCT_INCLUDE,
        include_fields: str | None = None,
        page_size: int = MAX_PAGE,
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of products (sorted by id, so products created mid-walk land at the end).

        `category_id` filters with `categories:in` on ONE category: whether several ids mean "any"
        or "all" is unclear, so fan out one category per walk.
        """
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE}")
        params: dict[str, Any] = {"sort": "id", "direction": "asc"}
        if include:
            params["include"] = include
        if include_fields:
            params["include_fields"] = include_fields
        if date_modified_min:
            params["date_modified:min"] = date_modified_min
        if category_id is not None:
            params["categories:in"] = int(category_id)
        if id_min is not None:
            params["id:min"] = int(id_min)
        yield from self._pages("/v3/catalog/products", params, page_size)

    def brand_names(self) -> dict[int, str]:
        return {
            b["id"]: str(b.get("name") or "")
            for page in self._pages("/v3/catalog/brands", {"include_fields": "id,name"}, MAX_PAGE)
            for b in page
            if isinstance(b.get("id"), int)
        }

    # -- webhooks --------------------------------------------------------------------------------

    def list_hooks(self) -> list[dict[str, Any]]:
        return [h for page in self._pages("/v3/hooks", {}, MAX_PAGE) for h in page]

    def create_hook(
        self, scope: str, destination: str, headers: Mapping[str, str] | None = None, is_active: bool = True
    ) -> dict[str, Any]:
        body = {
            "scope": scope,
            "destination": destination,
            "is_active": is_active,
            "headers": dict(headers or {}),
        }
        return _data(self._request("POST", "/v3/hooks", json=body), "POST /v3/hooks")

    def update_hook(self, hook_id: int, **fields: Any) -> dict[str, Any]:
        """PUT the given fields (scope, destination, is_active, headers); a gone hook -> PermanentError."""
        if not fields:
            raise ValueError("update_hook needs at least one field")
        path = f"/v3/hooks/{int(hook_id)}"
        return _data(self._request("PUT", path, json=fields, store_level=False), f"PUT {path}")

    # -- transport -------------------------------------------------------------------------------

    def _pages(self, path: str, params: Mapping[str, Any], limit: int) -> Iterator[list[dict[str, Any]]]:
        """Follow meta.pagination: current_page/total_pages, else links.next; stops on an empty page."""
        page = 1
        while True:
            body = self._request("GET", path, params={**params, "limit": limit, "page": page})
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
                raise TransientError(f"{SERVICE} GET {path}: the answer has no data list")
            if not data:
                return
            yield data
            pagination = (body.get("meta") or {}).get("pagination") or {}
            total_pages, current = pagination.get("total_pages"), pagination.get("current_page")
            current = current if isinstance(current, int) else page
            if isinstance(total_pages, int):
                if current >= total_pages:
                    return
            elif not (pagination.get("links") or {}).get("next"):
                return
            page = max(page, current) + 1

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        store_level: bool = True,
        not_found: str | None = None,
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
            json=json,
            headers=self._headers,
            timeout=self.timeout,
        )
        if 200 <= resp.status_code < 300:
            return json_of(resp, service=SERVICE, what=what, secrets=self._secrets) if resp.content else None
        raise classify(
            resp,
            what,
            path,
            store_hash=self.store_hash,
            secrets=self._secrets,
            store_level=store_level,
            not_found=not_found,
        )


def classify(
    resp: requests.Response,
    what: str,
    path: str,
    *,
    store_hash: str,
    secrets: Sequence[str],
    store_level: bool = True,
    not_found: str | None = None,
) -> SyncError:
    """What a BigCommerce answer that is not a 2xx means (the module docstring's list)."""
    status, headers = resp.status_code, resp.headers
    prefix = f"{SERVICE} {what} (store {store_hash}): HTTP {status}"
    rate = RateHeaders.of(headers)
    if status == 429:
        wait = rate.wait_429(PLATFORM_BACKOFF)
        if rate.reset_ms is not None:
            message = f"{prefix}: the store's quota is used up; the window resets in {wait:.1f}s"
        else:
            message = f"{prefix} without rate-limit headers (platform load): back off"
        return TransientError(message, retry_after=wait, status=status)
    detail = _error_detail(resp, secrets)
    if status >= 500:
        return TransientError(f"{prefix} {detail}".rstrip(), retry_after=rate.retry_after, status=status)
    if 300 <= status < 400:
        location = body_excerpt(str(headers.get("Location", "?")), secrets, 120)
        hint = "set BIGCOMMERCE_API_URL to the API host itself"
        return ConfigurationError(f"{prefix}: redirected to {location}; {hint}", status=status)
    if status == 401:
        hint = "the access token was rejected; check BIGCOMMERCE_ACCESS_TOKEN and BIGCOMMERCE_STORE_HASH"
        return ConfigurationError(f"{prefix}: {hint}", status=status)
    if status == 403:
        scope = next((hint for start, hint in _SCOPE_HINTS if path.startswith(start)), "the needed scope")
        return ConfigurationError(f"{prefix}: the API account lacks a scope; grant {scope}", status=status)
    if status == 404 and store_level:
        hint = not_found or (
            "check BIGCOMMERCE_STORE_HASH and BIGCOMMERCE_API_URL, and that the API account has the "
            "scope for this endpoint"
        )
        return ConfigurationError(f"{prefix}: {hint}", status=status)
    return PermanentError(f"{prefix} {detail}".rstrip(), status=status)


def _error_detail(resp: requests.Response, secrets: Sequence[str]) -> str:
    """BigCommerce's `title` (+ `errors`) when the body is its JSON error shape, else a body excerpt."""
    try:
        body = resp.json()
    except ValueError:
        return body_excerpt(resp.text, secrets) if resp.text else ""
    if isinstance(body, dict) and body.get("title"):
        errors = body.get("errors")
        text = str(body["title"]) + (f" {errors}" if errors else "")
        return body_excerpt(text, secrets)
    return body_excerpt(resp.text, secrets)
