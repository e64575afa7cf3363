"""BigCommerce storefront lookups: channels' sites, category trees and currencies, the store's
currency, price lists and their records, product metafields, storefront API tokens.
`BigCommerceClient` inherits them (`StorefrontLookups`), so callers use them as client methods;
they send through the client's own `_pages` / `_request`.

`MAX_PAGE`, `SERVICE`, `CategoryTree` and `data_object` live here so that
`workers.clients.bigcommerce` (which re-exports them) and this module share them without an
import cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workers.domain.errors import ConfigurationError, TransientError

log = logging.getLogger("workers.clients.bigcommerce")  # the client's logger, as before the split

MAX_PAGE = 250  # BigCommerce's largest page (and id:in batch) for catalog lists
SERVICE = "BigCommerce"


@dataclass(frozen=True)
class CategoryTree:
    """Every category's name and children (key 0 holds the top-level categories)."""

    names: dict[int, str] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=dict)
    trees: dict[int, list[int]] = field(default_factory=dict)  # tree id -> its category ids (trees API)


def data_object(body: Any, what: str) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise TransientError(f"{SERVICE} {what}: the answer has no data object")
    return data


class StorefrontLookups:
    """The storefront, price-list, currency and metafield calls of `BigCommerceClient`."""

    if TYPE_CHECKING:

        def _pages(
            self, path: str, params: Mapping[str, Any], limit: int
        ) -> Iterator[list[dict[str, Any]]]: ...

        def _request(
            self,
            method: str,
            path: str,
            *,
            params: Mapping[str, Any] | None = None,
            json: Any = None,
            store_level: bool = True,
            not_found: str | None = None,
        ) -> Any: ...

    def category_tree(self) -> CategoryTree:
        """Names and parent -> children of every category, from the category-trees API (all pages),
        falling back to the older /catalog/categories when the trees API is not there (404)."""
        try:
            rows = [
                (c.get("category_id"), c)
                for page in self._pages("/v3/catalog/trees/categories", {}, MAX_PAGE)
                for c in page
            ]
        except ConfigurationError as exc:
            if exc.status != 404:
                raise
            log.info("category trees API answered 404; falling back to /catalog/categories")
            rows = [
                (c.get("id"), c) for page in self._pages("/v3/catalog/categories", {}, MAX_PAGE) for c in page
            ]
        names: dict[int, str] = {}
        children: dict[int, list[int]] = {}
        trees: dict[int, list[int]] = {}
        for cid, row in rows:
            if not isinstance(cid, int):
                continue
            names[cid] = str(row.get("name") or "")
            parent = row.get("parent_id")
            children.setdefault(parent if isinstance(parent, int) else 0, []).append(cid)
            tree = row.get("tree_id")
            if isinstance(tree, int):
                trees.setdefault(tree, []).append(cid)
        return CategoryTree(names=names, children=children, trees=trees)

    def site_url(self, channel_id: int) -> str:
        """The channel's storefront URL without a trailing slash (product URLs are appended to it)."""
        body = self._request(
            "GET",
            f"/v3/channels/{int(channel_id)}/site",
            not_found=f"channel {channel_id} has no site: check BIGCOMMERCE_CHANNEL_ID",
        )
        url = data_object(body, f"GET /v3/channels/{channel_id}/site").get("url")
        if not isinstance(url, str) or not url:
            raise ConfigurationError(f"{SERVICE}: channel {channel_id}'s site has no URL")
        return url.rstrip("/")

    def currency(self) -> str:
        """The store's default currency code (`GET /v2/store` -> `currency`)."""
        body = self._request("GET", "/v2/store")
        code = body.get("currency") if isinstance(body, dict) else None
        if not isinstance(code, str) or not code:
            raise TransientError(f"{SERVICE} GET /v2/store: the answer has no currency")
        return code

    def create_storefront_token(self, channel_id: int, expires_at: int, cors_origins: list[str]) -> str:
        if not 1 <= len(cors_origins) <= 2:
            raise ValueError("a storefront token takes 1 or 2 allowed CORS origins")
        body = {
            "channel_id": int(channel_id),
            "expires_at": int(expires_at),
            "allowed_cors_origins": cors_origins,
        }
        data = data_object(
            self._request("POST", "/v3/storefront/api-token", json=body), "POST /v3/storefront/api-token"
        )
        token = data.get("token")
        if not isinstance(token, str) or not token:
            raise TransientError(f"{SERVICE} POST /v3/storefront/api-token: the answer has no token")
        return token

    def channel_trees(self, channel_ids: Sequence[int]) -> dict[int, list[int]]:
        """Tree id -> the channels it serves, for the trees of `channel_ids` (one call)."""
        params = {"channel_id:in": ",".join(str(int(c)) for c in channel_ids)}
        out: dict[int, list[int]] = {}
        for page in self._pages("/v3/catalog/trees", params, MAX_PAGE):
            for tree in page:
                if isinstance(tree.get("id"), int):
                    out[tree["id"]] = [c for c in tree.get("channels") or () if isinstance(c, int)]
        return out

    def channel_currency(self, channel_id: int) -> str | None:
        """The channel's default currency (`currency-assignments`), None when it has none."""
        path = f"/v3/channels/{int(channel_id)}/currency-assignments"
        body = self._request(
            "GET", path, not_found=f"channel {channel_id} not found: check BIGCOMMERCE_CHANNEL_IDS"
        )
        data = body.get("data") if isinstance(body, dict) else None
        rows = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
        for row in rows:
            if (
                isinstance(row, dict)
                and isinstance(row.get("default_currency"), str)
                and row["default_currency"]
            ):
                return str(row["default_currency"]).upper()
        return None

    def currencies(self) -> list[dict[str, Any]]:
        """`GET /v2/currencies`: code, exchange rate (per unit of the default), decimal places, default."""
        body = self._request("GET", "/v2/currencies", params={"limit": MAX_PAGE})
        if not isinstance(body, list):
            raise TransientError(f"{SERVICE} GET /v2/currencies: the answer is not a list")
        return [c for c in body if isinstance(c, dict)]

    def price_lists(self) -> dict[int, bool]:
        """Price list id -> active."""
        return {
            p["id"]: p.get("active") is True
            for page in self._pages("/v3/pricelists", {}, MAX_PAGE)
            for p in page
            if isinstance(p.get("id"), int)
        }

    def price_list_assignments(self, channel_ids: Sequence[int]) -> list[dict[str, Any]]:
        params = {"channel_id:in": ",".join(str(int(c)) for c in channel_ids)}
        return [a for page in self._pages("/v3/pricelists/assignments", params, MAX_PAGE) for a in page]

    def price_records(
        self, price_list_id: int, product_ids: Sequence[int], currency: str | None = None
    ) -> list[dict[str, Any]]:
        """The records of ≤250 products in one price list (every page: a product has a record per
        variant and currency), optionally of one currency."""
        unique = list(dict.fromkeys(int(i) for i in product_ids))
        if len(unique) > MAX_PAGE:
            raise ValueError(f"at most {MAX_PAGE} product ids per call, got {len(unique)}")
        if not unique:
            return []
        params: dict[str, Any] = {"product_id:in": ",".join(map(str, unique))}
        if currency:
            params["currency"] = currency.lower()
        path = f"/v3/pricelists/{int(price_list_id)}/records"
        return [r for page in self._pages(path, params, MAX_PAGE) for r in page]

    def price_list_product_ids(self, price_list_id: int) -> set[int]:
        """Every product a price list has a record for (its records, all pages)."""
        path = f"/v3/pricelists/{int(price_list_id)}/records"
        return {
            r["product_id"]
            for page in self._pages(path, {}, MAX_PAGE)
            for r in page
            if isinstance(r.get("product_id"), int)
        }

    def product_metafields(
        self,
        namespaces: Sequence[str],
        *,
        product_ids: Sequence[int] | None = None,
        date_modified_min: str | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of product metafields of `namespaces` (all products'), by product ids (≤250) or
        modified since a time."""
        params: dict[str, Any] = {"namespace:in": ",".join(namespaces)}
        if product_ids is not None:
            params["resource_id:in"] = ",".join(str(int(i)) for i in product_ids)
        if date_modified_min:
            params["date_modified:min"] = date_modified_min
        yield from self._pages("/v3/catalog/products/metafields", params, MAX_PAGE)
