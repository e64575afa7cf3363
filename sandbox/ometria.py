"""Simulated Ometria push API (one account), faithful to reference/FACTS.md, for tests and `bcsync sandbox`.

Routes (auth: header `X-Ometria-Auth` equal to the account's key, else 403):

- `POST /v2/push` — body a JSON array of 1..100 records of ONE `@type`. Checked synchronously, each failure
  a 4xx for the whole request: Content-Type must be JSON (415), body JSON (400 "Payload invalid: ..."),
  an array of 1..100 items, one `@type`, no record over `RECORD_MAX_BYTES` serialized
  ("Payload invalid: Record is too large."). Then 200 `{"status":"OK","request_id","accepted","rejected"}`:
  items that are not objects or have no usable `@type`/`id` are counted as rejected; the accepted ones are
  validated field by field the way Ometria does it asynchronously — an invalid record is NOT stored and
  leaves an entry in the error log instead (the response still counts it as accepted). For determinism the
  sandbox applies this "asynchronous" step before answering, so a client may read the effect at once.
  Rate: more than `push_rate` accepted pushes within any 1 s (sliding) → 429. Optional queue
  (`queue_limit` records, draining at `queue_drain_rate` records/s): every push answer then carries
  `X-QueueSize-Limit` and `X-QueueSize-Remaining`, and a push while the backlog is at the limit → 429.
- `GET /v2/push/_errors` — the latest 100 record errors, newest first:
  `[{"error_message","error_path","request_id","record_id","created"}]` (`error_path` like "root > price").
- `GET /v2/products?limit=10&offset=0&includeVariants=false&active=true|false` — a bare JSON array of
  product objects (the envelope of Ometria's documented "List Products": `200 OK: List of Product
  objects`, `limit` default 10 and at most 250, `offset` default 0, parents only unless
  `includeVariants=true`, optional `active` filter), in order of first creation, as stored after merges
  (without the `@merge` directive). `GET /v2/products/<id>` — one product, or 404.

Control routes (never rate-limited, faulted or counted): `GET /_sandbox/records`, `GET /_sandbox/stats`,
`POST /_sandbox/reset` (records, errors, stats, rate window, queue), `GET|POST /_sandbox/config`
(`push_rate`, `queue_limit`, `queue_drain_rate`, `api_key`; the key itself is never echoed), plus the
fault/counter routes of `sandbox.faults.install`.

Merge semantics: a record without `"@merge": true` replaces the stored record whole; with it, the sent
top-level fields overwrite the stored ones and unsent fields are kept (so `attributes`, `properties` and
`listings`, being single fields, are replaced wholesale).
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Request, Response, jsonify, request
from markupsafe import escape

from sandbox.faults import Counters, Faults, install

MAX_RECORDS_PER_PUSH = 100
# Ometria documents "60KB per record". The sandbox counts 60,000 bytes of compact UTF-8 JSON, the stricter
# reading, so a client that fits here fits under either reading.
RECORD_MAX_BYTES = 60_000
RECORD_TOO_LARGE = "Payload invalid: Record is too large."
ERROR_LOG_SIZE = 100
PRODUCTS_MAX_LIMIT = 250
PRODUCTS_DEFAULT_LIMIT = 10
DEFAULT_QUEUE_DRAIN_RATE = 1000.0
INVALID = "not a valid value"

_STRING_OR_NULL = (
    "sku",
    "title",
    "currency",
    "url",
    "image_url",
    "special_price_dt_from",
    "special_price_dt_to",
)
_NUMBER_OR_NULL = ("price", "special_price")
_BOOLEAN = ("is_active", "is_variant", "is_in_stock")
_LISTING_STRING_OR_NULL = ("title", "currency", "url", "image_url")
_LISTING_NUMBER_OR_NULL = ("price", "special_price")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _empty_stats() -> dict[str, int]:
    return {
        "pushes": 0,  # push requests answered 200
        "records_received": 0,  # items in those pushes
        "accepted": 0,  # counted as accepted in the answers
        "rejected": 0,  # counted as rejected in the answers (unusable items)
        "invalid": 0,  # accepted, then failed validation: logged, not stored
        "stored": 0,  # applied to the records
        "rate_limited": 0,  # 429s (rate or queue)
        "queue_full": 0,  # of which because of the queue
        "bad_requests": 0,  # 4xx other than 403/429 on push
        "forbidden": 0,  # 403s on any /v2 route
    }


def product_errors(record: dict[str, Any]) -> list[tuple[str, str]]:
    """Field errors of a product record as (error_path, error_message); empty when valid."""
    errors: list[tuple[str, str]] = []
    rid = record.get("id")
    if not isinstance(rid, str) or not rid:
        errors.append(("root > id", INVALID))
    for name in _STRING_OR_NULL:
        if name in record and record[name] is not None and not isinstance(record[name], str):
            errors.append((f"root > {name}", INVALID))
    for name in _NUMBER_OR_NULL:
        if name in record and record[name] is not None and not _is_number(record[name]):
            errors.append((f"root > {name}", INVALID))
    for name in _BOOLEAN:
        if name in record and not isinstance(record[name], bool):
            errors.append((f"root > {name}", INVALID))
    if "attributes" in record:
        attributes = record["attributes"]
        if not isinstance(attributes, list):
            errors.append(("root > attributes", INVALID))
        else:
            for i, attribute in enumerate(attributes):
                if not isinstance(attribute, dict):
                    errors.append((f"root > attributes > {i}", INVALID))
                    continue
                for key in ("type", "id", "label"):
                    value = attribute.get(key)
                    if not isinstance(value, str) or (key != "label" and not value):
                        errors.append((f"root > attributes > {i} > {key}", INVALID))
    if "properties" in record and not isinstance(record["properties"], dict):
        errors.append(("root > properties", INVALID))
    if "stores" in record and record["stores"] is not None and not isinstance(record["stores"], list):
        errors.append(("root > stores", INVALID))
    if "listings" in record:
        listings = record["listings"]
        if not isinstance(listings, list):
            errors.append(("root > listings", INVALID))
        else:
            for i, listing in enumerate(listings):
                errors.extend(_listing_errors(i, listing))
    return errors


def _listing_errors(i: int, listing: Any) -> list[tuple[str, str]]:
    path = f"root > listings > {i}"
    if not isinstance(listing, dict):
        return [(path, INVALID)]
    errors: list[tuple[str, str]] = []
    store = listing.get("store")
    if not isinstance(store, str) or not store:
        errors.append((f"{path} > store", INVALID))
    for name in _LISTING_STRING_OR_NULL:
        if name in listing and listing[name] is not None and not isinstance(listing[name], str):
            errors.append((f"{path} > {name}", INVALID))
    for name in _LISTING_NUMBER_OR_NULL:
        if name in listing and listing[name] is not None and not _is_number(listing[name]):
            errors.append((f"{path} > {name}", INVALID))
    if "is_active" in listing and not isinstance(listing["is_active"], bool):
        errors.append((f"{path} > is_active", INVALID))
    return errors


class OmetriaAccount:
    """One Ometria account's state: stored records, error log, rate window, queue, statistics."""

    def __init__(
        self,
        api_key: str,
        push_rate: float = 8.0,
        queue_limit: int | None = None,
        queue_drain_rate: float = DEFAULT_QUEUE_DRAIN_RATE,
    ) -> None:
        self.lock = threading.RLock()
        self.api_key = api_key
        self.push_rate = float(push_rate)
        self.queue_limit = queue_limit
        self.queue_drain_rate = float(queue_drain_rate)
        self.records: dict[str, dict] = {}  # product records by id
        self.recent: deque[tuple[float, str]] = deque(maxlen=25)  # (when, record id), for the page at /
        self.other_records: dict[str, dict[str, dict]] = {}  # other @types: by type, then id
        self.errors: deque[dict] = deque(maxlen=ERROR_LOG_SIZE)
        self.stats: dict[str, int] = _empty_stats()
        self._push_times: deque[float] = deque()
        self._queued = 0.0
        self._queue_at = time.monotonic()

    def __repr__(self) -> str:
        return (
            f"OmetriaAccount(records={len(self.records)}, push_rate={self.push_rate}, "
            f"queue_limit={self.queue_limit})"
        )

    # -- configuration -----------------------------------------------------------------------------
    def configure(self, **config: Any) -> dict:
        known = {"push_rate", "queue_limit", "queue_drain_rate", "api_key"}
        unknown = set(config) - known
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        with self.lock:
            if "push_rate" in config:
                rate = config["push_rate"]
                if not _is_number(rate) or rate <= 0:
                    raise ValueError("push_rate must be a number > 0")
                self.push_rate = float(rate)
            if "queue_limit" in config:
                limit = config["queue_limit"]
                if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
                    raise ValueError("queue_limit must be a positive integer or null")
                self.queue_limit = limit
            if "queue_drain_rate" in config:
                drain = config["queue_drain_rate"]
                if not _is_number(drain) or drain < 0:
                    raise ValueError("queue_drain_rate must be a number >= 0")
                self._drain(time.monotonic())
                self.queue_drain_rate = float(drain)
            if "api_key" in config:
                key = config["api_key"]
                if not isinstance(key, str) or not key:
                    raise ValueError("api_key must be a non-empty string")
                self.api_key = key
            return self.public_config()

    def public_config(self) -> dict:
        with self.lock:
            return {
                "push_rate": self.push_rate,
                "queue_limit": self.queue_limit,
                "queue_drain_rate": self.queue_drain_rate,
                "api_key_set": bool(self.api_key),
            }

    def reset(self) -> None:
        with self.lock:
            self.records.clear()
            self.recent.clear()
            self.other_records.clear()
            self.errors.clear()
            self.stats = _empty_stats()
            self._push_times.clear()
            self._queued = 0.0
            self._queue_at = time.monotonic()

    def authorised(self, key: str | None) -> bool:
        return key is not None and hmac.compare_digest(key.encode(), self.api_key.encode())

    # -- rate and queue ----------------------------------------------------------------------------
    def take_push_slot(self, now: float) -> bool:
        """True (and the push counted in the window) if under push_rate requests in the last second."""
        with self.lock:
            while self._push_times and self._push_times[0] <= now - 1.0:
                self._push_times.popleft()
            if len(self._push_times) >= self.push_rate:
                return False
            self._push_times.append(now)
            return True

    def _drain(self, now: float) -> None:
        self._queued = max(0.0, self._queued - (now - self._queue_at) * self.queue_drain_rate)
        self._queue_at = now

    def queue_full(self, now: float) -> bool:
        with self.lock:
            if self.queue_limit is None:
                return False
            self._drain(now)
            return self._queued >= self.queue_limit

    def enqueue(self, n: int, now: float) -> None:
        with self.lock:
            if self.queue_limit is not None:
                self._drain(now)
                self._queued += n

    def queue_headers(self, now: float) -> dict[str, str]:
        with self.lock:
            if self.queue_limit is None:
                return {}
            self._drain(now)
            remaining = max(0, int(self.queue_limit - self._queued))
            return {"X-QueueSize-Limit": str(self.queue_limit), "X-QueueSize-Remaining": str(remaining)}

    # -- records -----------------------------------------------------------------------------------
    def log_error(self, request_id: str, record_id: Any, path: str, message: str) -> None:
        with self.lock:
            self.errors.appendleft(
                {
                    "error_message": message,
                    "error_path": path,
                    "request_id": request_id,
                    "record_id": record_id if isinstance(record_id, str | int) else None,
                    "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                }
            )

    def apply(self, record: dict[str, Any]) -> None:
        """Store one valid record with Ometria's merge semantics."""
        rtype = record["@type"]
        rid = str(record["id"])
        merge = record.get("@merge") is True
        clean = {k: v for k, v in record.items() if k != "@merge"}
        with self.lock:
            store = self.records if rtype == "product" else self.other_records.setdefault(rtype, {})
            if merge and rid in store:
                store[rid] = {**store[rid], **clean}
            else:
                store[rid] = clean
            self.stats["stored"] += 1
            self.recent.appendleft((time.time(), rid))

    def products(self, include_variants: bool, active: bool | None) -> list[dict]:
        with self.lock:
            items = list(self.records.values())
        if not include_variants:
            items = [r for r in items if r.get("is_variant") is not True]
        if active is not None:
            items = [r for r in items if (r.get("is_active") is not False) == active]
        return items

    def count(self, stat: str, n: int = 1) -> None:
        with self.lock:
            self.stats[stat] += n


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"status": "ERROR", "message": message})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _parse_bool(value: str | None, default: bool | None) -> bool | None:
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(value)


def _endpoint_name(req: Request) -> str:
    return req.url_rule.rule if req.url_rule is not None else req.path


def create_ometria_app(account: OmetriaAccount, faults: Faults, counters: Counters) -> Flask:
    app = Flask("sandbox.ometria")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    install(app, faults, counters, _endpoint_name)

    def forbidden() -> Response | None:
        if account.authorised(request.headers.get("X-Ometria-Auth")):
            return None
        account.count("forbidden")
        return _error(403, "Forbidden: invalid or missing X-Ometria-Auth API key")

    @app.post("/v2/push")
    def push() -> Response:
        denied = forbidden()
        if denied is not None:
            return denied
        now = time.monotonic()
        if account.queue_full(now):
            account.count("rate_limited")
            account.count("queue_full")
            return _error(429, "Too many requests: import queue is full", account.queue_headers(now))
        if not account.take_push_slot(now):
            account.count("rate_limited")
            return _error(429, "Too many requests", account.queue_headers(now))
        headers = account.queue_headers(now)

        def bad(status: int, message: str) -> Response:
            account.count("bad_requests")
            return _error(status, message, headers)

        if request.mimetype != "application/json":
            return bad(415, "Content-Type must be application/json")
        try:
            body = json.loads(request.get_data())
        except (ValueError, UnicodeDecodeError):
            return bad(400, "Payload invalid: body is not valid JSON")
        if not isinstance(body, list):
            return bad(400, "Payload invalid: expected a JSON array of records")
        if not body:
            return bad(400, "Payload invalid: no records")
        if len(body) > MAX_RECORDS_PER_PUSH:
            return bad(400, f"Payload invalid: at most {MAX_RECORDS_PER_PUSH} records per request")
        types = {
            item["@type"] for item in body if isinstance(item, dict) and isinstance(item.get("@type"), str)
        }
        if len(types) > 1:
            return bad(
                400,
                "Payload invalid: all records of a request must have the same @type "
                f"(got {', '.join(sorted(types))})",
            )
        for item in body:
            size = len(json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
            if size > RECORD_MAX_BYTES:
                return bad(400, RECORD_TOO_LARGE)

        request_id = str(uuid.uuid4())
        accepted: list[dict] = []
        rejected = 0
        for item in body:
            usable = (
                isinstance(item, dict)
                and isinstance(item.get("@type"), str)
                and item["@type"]
                and isinstance(item.get("id"), str | int)
                and not isinstance(item.get("id"), bool)
                and item.get("id") != ""
            )
            if usable:
                accepted.append(item)
            else:
                rejected += 1
                if not isinstance(item, dict):
                    account.log_error(request_id, None, "root", INVALID)
                elif not isinstance(item.get("@type"), str) or not item["@type"]:
                    account.log_error(request_id, item.get("id"), "root > @type", INVALID)
                else:
                    account.log_error(request_id, item.get("id"), "root > id", INVALID)
        for record in accepted:
            errors = product_errors(record) if record["@type"] == "product" else []
            if errors:
                account.count("invalid")
                for path, message in errors:
                    account.log_error(request_id, record.get("id"), path, message)
            else:
                account.apply(record)
        account.enqueue(len(accepted), now)
        account.count("pushes")
        account.count("records_received", len(body))
        account.count("accepted", len(accepted))
        account.count("rejected", rejected)
        response = jsonify(
            {"status": "OK", "request_id": request_id, "accepted": len(accepted), "rejected": rejected}
        )
        for key, value in account.queue_headers(time.monotonic()).items():
            response.headers[key] = value
        return response

    @app.get("/v2/push/_errors")
    def push_errors() -> Response:
        denied = forbidden()
        if denied is not None:
            return denied
        with account.lock:
            return jsonify(list(account.errors))

    @app.get("/v2/products")
    def list_products() -> Response:
        denied = forbidden()
        if denied is not None:
            return denied
        try:
            limit = int(request.args.get("limit", PRODUCTS_DEFAULT_LIMIT))
            offset = int(request.args.get("offset", 0))
        except ValueError:
            return _error(400, "limit and offset must be integers")
        if not 1 <= limit <= PRODUCTS_MAX_LIMIT or offset < 0:
            return _error(400, f"limit must be 1..{PRODUCTS_MAX_LIMIT} and offset >= 0")
        try:
            include_variants = _parse_bool(request.args.get("includeVariants"), False)
            active = _parse_bool(request.args.get("active"), None)
        except ValueError:
            return _error(400, "includeVariants and active must be true or false")
        items = account.products(bool(include_variants), active)
        return jsonify(items[offset : offset + limit])

    @app.get("/v2/products/<path:product_id>")
    def get_product(product_id: str) -> Response:
        denied = forbidden()
        if denied is not None:
            return denied
        with account.lock:
            record = account.records.get(product_id)
        if record is None:
            return _error(404, "Product not found")
        return jsonify(record)

    @app.get("/")
    def overview() -> Response:
        """A page for people: what the sandbox Ometria holds and the latest records it received."""
        with account.lock:
            stats = dict(account.stats)
            rows = [(when, account.records.get(rid) or {"id": rid}) for when, rid in account.recent]
            total = len(account.records)
        columns = ("id", "title", "price", "special_price", "is_active", "is_in_stock")
        cells = "".join(
            f"<tr><td>{datetime.fromtimestamp(when, UTC):%H:%M:%S}</td>"
            + "".join(f"<td>{escape(str(r.get(c, '')))}</td>" for c in columns)
            + "</tr>"
            for when, r in rows
        )
        html = (
            "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=3>"
            "<title>Sandbox Ometria</title><style>body{font:14px sans-serif;margin:2em}"
            "td,th{padding:2px 10px;text-align:left}</style>"
            f"<h1>Sandbox Ometria</h1><p>{total} product records stored · {stats['pushes']} pushes · "
            f"{stats['accepted']} records accepted · {stats['rejected']} rejected</p>"
            "<table><tr><th>received (UTC)</th><th>id</th><th>title</th><th>price</th>"
            f"<th>special_price</th><th>is_active</th><th>is_in_stock</th></tr>{cells}</table>"
        )
        return Response(html, mimetype="text/html")

    @app.get("/_sandbox/records")
    def sandbox_records() -> Response:
        with account.lock:
            return jsonify(dict(account.records))

    @app.get("/_sandbox/stats")
    def sandbox_stats() -> Response:
        with account.lock:
            stats = dict(account.stats)
            stats["records"] = len(account.records)
            stats["errors_logged"] = len(account.errors)
        return jsonify(stats)

    @app.post("/_sandbox/reset")
    def sandbox_reset() -> Response:
        account.reset()
        return jsonify({"status": "OK"})

    @app.get("/_sandbox/config")
    def sandbox_config_read() -> Response:
        return jsonify(account.public_config())

    @app.post("/_sandbox/config")
    def sandbox_config() -> Response | tuple[Response, int]:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify({"error": "expected a JSON object of settings"}), 400
        try:
            return jsonify(account.configure(**body))
        except ValueError as exc:
            return jsonify({"error": str(exc)}), 400

    return app
