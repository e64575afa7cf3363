"""What every section of the simulated BigCommerce API shares: JSON and error responses, query-argument
parsing, pagination (meta.pagination), include/exclude_fields, and the hook destination rule."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Request, Response, request

SANDBOX_CLIENT_ID = "sandbox-client-id"  # the API account's client id (hooks belong to a client)
ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
MAX_LIMIT = 250
DEFAULT_LIMIT = 50
OPTIONS_PAGE_CAP = 10  # include=options|modifiers caps a page at 10 (FACTS.md)
V3 = "/stores/<store_hash>/v3"  # the URL prefix of every v3 route
V2 = "/stores/<store_hash>/v2"
PREFIX = re.compile(r"^/stores/(?P<hash>[^/]+)/(?P<version>v2|v3)(?P<rest>/.*)?$")
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


class ApiError(Exception):
    def __init__(self, status: int, title: str, errors: dict[str, str] | None = None):
        super().__init__(title)
        self.status, self.title, self.errors = status, title, errors or {}


_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), check_circular=False
)  # plain data only


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = _ENCODER.encode(payload).encode()
    response = Response(body, status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_body(status: int, title: str, errors: dict[str, str] | None = None) -> dict:
    """BigCommerce v3's error shape: {"status", "title", "type", "errors"}."""
    return {"status": status, "title": title, "type": ERROR_TYPE, "errors": errors or {}}


def error_response(
    status: int, title: str, errors: dict[str, str] | None = None, v2: bool = False
) -> Response:
    if v2:  # the v2 API answers errors as a list of {"status", "message"}
        return json_response([{"status": status, "message": title}], status)
    return json_response(error_body(status, title, errors), status)


def endpoint_name(req: Request) -> str:
    """Counter / concurrency key: the route without the store prefix ("/catalog/products/{product_id}")."""
    rule = req.url_rule.rule if req.url_rule is not None else req.path
    if rule.startswith(V3):
        rule = rule[len(V3) :]
    elif rule.startswith("/stores/<store_hash>"):
        rule = rule[len("/stores/<store_hash>") :]
    return _CONVERTER.sub(r"{\1}", rule)


def int_list(name: str, raw: str | None) -> list[int] | None:
    if raw is None:
        return None
    try:
        return [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise ApiError(
            422, f"The filter {name} must be a comma-separated list of integers", {name: "invalid"}
        ) from None


def int_arg(name: str, default: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(422, f"The parameter {name} must be an integer", {name: "invalid"}) from None


def bool_arg(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise ApiError(422, f"The parameter {name} must be true or false", {name: "invalid"})


def page_args(cap: int = MAX_LIMIT) -> tuple[int, int]:
    # limit over 250 is served as 250 (BigCommerce: "the maximum number of products returned is 250")
    limit = int_arg("limit", DEFAULT_LIMIT) or DEFAULT_LIMIT
    if limit < 1:
        raise ApiError(422, "The parameter limit must be at least 1", {"limit": "invalid"})
    page = max(1, int_arg("page", 1) or 1)
    return page, min(limit, cap)


def pagination(total: int, count: int, page: int, limit: int) -> dict:
    """meta.pagination as BigCommerce gives it; links are query strings keeping the other parameters."""
    total_pages = math.ceil(total / limit) if limit else 0
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "limit")]

    def link(p: int) -> str:
        return "?" + urlencode([*kept, ("limit", limit), ("page", p)], safe=":,")

    links = {"current": link(page)}
    if page > 1:
        links["previous"] = link(page - 1)
    if page < total_pages:
        links["next"] = link(page + 1)
    return {
        "pagination": {
            "total": total,
            "count": count,
            "per_page": limit,
            "current_page": page,
            "total_pages": total_pages,
            "links": links,
        }
    }


def paged(items: list[dict], cap: int = MAX_LIMIT) -> Response:
    page, limit = page_args(cap)
    chunk = items[(page - 1) * limit : page * limit]
    return json_response({"data": chunk, "meta": pagination(len(items), len(chunk), page, limit)})


def csv_arg(name: str) -> list[str]:
    raw = request.args.get(name, "")
    return [x.strip() for x in raw.split(",") if x.strip()]


def shape_fields(
    item: dict, include_fields: list[str], exclude_fields: list[str], keep: tuple[str, ...]
) -> dict:
    """include_fields: only id + those (+ requested sub-resources); exclude_fields: all but those (not id)."""
    if include_fields:
        wanted = {"id", *include_fields, *keep}
        item = {k: v for k, v in item.items() if k in wanted}
    if exclude_fields:
        dropped = set(exclude_fields) - {"id"}
        item = {k: v for k, v in item.items() if k not in dropped}
    return item


def body_object() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "Input is invalid.", {"body": "expected a JSON object"})
    return body


def destination_error(destination: Any) -> str | None:
    """BigCommerce wants https on port 443. Sandbox relaxation: http or https on 127.0.0.1 / localhost
    with any port is accepted too, so hooks can point at a receiver on loopback."""
    if not isinstance(destination, str) or not destination:
        return "error.path.missing."
    parts = urlsplit(destination)
    try:
        port = parts.port
    except ValueError:
        return "destination port is invalid"
    if parts.hostname in ("127.0.0.1", "localhost") and parts.scheme in ("http", "https"):
        return None
    if parts.scheme != "https" or not parts.hostname:
        return "destination must be an https URL"
    if port not in (None, 443):
        return "destination must be served on port 443"
    return None


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _comparison(kind: str, value: int) -> Callable[[Any], bool]:
    if kind == "min":
        return lambda v: v >= value
    if kind == "max":
        return lambda v: v <= value
    if kind == "gt":
        return lambda v: v > value
    return lambda v: v < value


def _cursor(position: int) -> str:
    return b64url(str(position).encode())


def _position(name: str, cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, f"The cursor {name} is invalid", {name: "invalid"}) from None


def cursor_paged(items: list[dict], cap: int = MAX_LIMIT) -> Response:
    """The price-list APIs' paging: `page` gives meta.pagination only; `before`/`after` give
    meta.cursor_pagination only; neither (or only `limit`) gives both (price_lists.v3.yml)."""
    args = request.args
    before, after = args.get("before"), args.get("after")
    if (before or after) and args.get("page"):
        raise ApiError(422, "page cannot be used with before or after", {"page": "invalid"})
    page, limit = page_args(cap)
    if after:
        start = _position("after", after) + 1
    elif before:
        start = max(0, _position("before", before) - limit)
    else:
        start = (page - 1) * limit
    end = min(len(items), _position("before", before) if before else start + limit)
    chunk = items[start:end]
    meta: dict[str, Any] = {}
    if not (before or after):
        meta.update(pagination(len(items), len(chunk), page, limit))
        meta["pagination"].pop("links", None)
    if not args.get("page"):
        kept = [(k, v) for k, v in args.items(multi=True) if k not in ("page", "limit", "before", "after")]

        def link(key: str, position: int) -> str:
            return "?" + urlencode([*kept, ("limit", limit), (key, _cursor(position))], safe=":,")

        cursors: dict[str, Any] = {"count": len(chunk), "per_page": limit}
        links: dict[str, str] = {}
        if chunk:
            cursors["start_cursor"], cursors["end_cursor"] = _cursor(start), _cursor(end - 1)
            links["current"] = (
                link("after", start - 1) if start else "?" + urlencode([*kept, ("limit", limit)])
            )
            if start > 0:
                links["previous"] = link("before", start)
            if end < len(items):
                links["next"] = link("after", end - 1)
        cursors["links"] = links
        meta["cursor_pagination"] = cursors
    return json_response({"data": chunk, "meta": meta})
