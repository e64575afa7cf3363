"""The simulated Ometria push API's routes (see `sandbox.ometria`)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, Request, Response, jsonify, request
from markupsafe import escape

from sandbox.faults import Counters, Faults, install
from sandbox.ometria.account import OmetriaAccount
from sandbox.ometria.records import (
    INVALID,
    MAX_RECORDS_PER_PUSH,
    PRODUCTS_DEFAULT_LIMIT,
    PRODUCTS_MAX_LIMIT,
    RECORD_MAX_BYTES,
    RECORD_TOO_LARGE,
    product_errors,
)


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
        account.note_push(request_id, [str(r.get("id")) for r in accepted])
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
