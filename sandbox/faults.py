"""Fault injection and call counting for the sandbox's Flask apps (simulated BigCommerce and Ometria).

`install()` wires a seeded `Faults` and a `Counters` into an app:

- every request outside `/_sandbox/` is counted under "<METHOD> <endpoint name>" with its final status;
- an eligible request (path regex and method match) is faulted with probability `rate`, the kind chosen
  uniformly from `kinds`:
  - "500", "502", "503": that status before the handler runs (nothing done);
  - "429": 429 before the handler runs, WITHOUT any X-Rate-Limit-* headers (BigCommerce's "platform
    load" 429; the client cannot know when to retry, it must back off);
  - "timeout": hang `timeout_seconds` (meant to exceed the client's timeout), then 504, handler not run;
  - "slow": wait `slow_seconds`, then run the handler normally;
  - "truncated": run the handler (the work IS done), then answer 200 with the JSON body cut short;
  - "garbage": run the handler (the work IS done), then answer 200 with a non-JSON body (an HTML error
    page, Content-Type left as the handler set it, as misbehaving proxies do).
- control routes: `GET/POST /_sandbox/faults` (read / configure; `DELETE` resets), `GET /_sandbox/counters`,
  `POST /_sandbox/counters/reset`.

Decisions come from one `random.Random(seed)`: the same seed and the same request sequence give the
same faults.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Request, Response, g, jsonify, request

FAULT_KINDS: tuple[str, ...] = ("500", "502", "503", "429", "slow", "timeout", "truncated", "garbage")
BEFORE_HANDLER_KINDS = frozenset({"500", "502", "503", "429", "timeout"})
AFTER_HANDLER_KINDS = frozenset({"truncated", "garbage"})
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CONTROL_PREFIX = "/_sandbox/"

_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
GARBAGE_BODY = (
    b"<html><head><title>Error</title></head><body><h1>Something went wrong</h1>"
    b"<p>The upstream server returned an invalid response.</p></body></html>"
)

DEFAULT_CONFIG: dict[str, Any] = {
    "rate": 0.0,
    "kinds": list(FAULT_KINDS),
    "slow_seconds": 2.0,
    "timeout_seconds": 15.0,
    "paths": "",
    "methods": [],
}


class Counters:
    """Thread-safe call counters keyed by "<METHOD> <endpoint>" and status code."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, dict[str, int]] = {}
        self._faults: dict[str, int] = {}

    def hit(self, method: str, endpoint: str, status: int, fault: str | None = None) -> None:
        key = f"{method.upper()} {endpoint}"
        code = str(int(status))
        with self._lock:
            per_status = self._calls.setdefault(key, {})
            per_status[code] = per_status.get(code, 0) + 1
            if fault:
                self._faults[fault] = self._faults.get(fault, 0) + 1

    def snapshot(self) -> dict:
        with self._lock:
            calls = {key: dict(per_status) for key, per_status in self._calls.items()}
            faults = dict(self._faults)
        by_status: dict[str, int] = {}
        for per_status in calls.values():
            for code, n in per_status.items():
                by_status[code] = by_status.get(code, 0) + n
        return {
            "calls": calls,
            "total": sum(by_status.values()),
            "by_status": by_status,
            "faults": faults,
        }

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._faults.clear()


def _validated(config: dict[str, Any]) -> dict[str, Any]:
    """Return a normalised copy of a full config, or raise ValueError naming the problem."""
    unknown = set(config) - set(DEFAULT_CONFIG) - {"seed"}
    if unknown:
        raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
    out = dict(config)

    rate = out["rate"]
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= float(rate) <= 1.0:
        raise ValueError("rate must be a number between 0 and 1")
    out["rate"] = float(rate)

    kinds = out["kinds"]
    if isinstance(kinds, str):
        kinds = [k.strip() for k in kinds.split(",") if k.strip()]
    if not isinstance(kinds, list | tuple) or not kinds:
        raise ValueError("kinds must be a non-empty list")
    kinds = [str(k) for k in kinds]
    bad = [k for k in kinds if k not in FAULT_KINDS]
    if bad:
        raise ValueError(f"unknown fault kind(s): {', '.join(bad)}; known: {', '.join(FAULT_KINDS)}")
    out["kinds"] = list(dict.fromkeys(kinds))

    for name in ("slow_seconds", "timeout_seconds"):
        value = out[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name} must be a number >= 0")
        out[name] = float(value)

    paths = out["paths"]
    if paths is None:
        paths = ""
    if not isinstance(paths, str):
        raise ValueError("paths must be a regular expression string")
    try:
        re.compile(paths)
    except re.error as exc:
        raise ValueError(f"paths is not a valid regular expression: {exc}") from None
    out["paths"] = paths

    methods = out["methods"]
    if methods is None:
        methods = []
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    if not isinstance(methods, list | tuple):
        raise ValueError("methods must be a list of HTTP methods")
    methods = [str(m).upper() for m in methods]
    bad = [m for m in methods if m not in HTTP_METHODS]
    if bad:
        raise ValueError(f"unknown HTTP method(s): {', '.join(bad)}")
    out["methods"] = methods

    if "seed" in out and (isinstance(out["seed"], bool) or not isinstance(out["seed"], int)):
        raise ValueError("seed must be an integer")
    return out


class Faults:
    """Seeded fault plan. `configure()` merges the given settings over the active ones."""

    def __init__(self, seed: int = 0) -> None:
        self._initial_seed = seed
        self._lock = threading.Lock()
        self._config: dict[str, Any] = {}
        self._pattern: re.Pattern[str] = re.compile("")
        self._rng = random.Random(seed)
        self.reset()

    def configure(self, **config: Any) -> dict:
        with self._lock:
            merged = _validated({**self._config, **config})
            seed = merged.pop("seed", None)
            self._config = merged
            self._pattern = re.compile(merged["paths"])
            if seed is not None:
                self._rng = random.Random(seed)
            return self._public()

    def config(self) -> dict:
        with self._lock:
            return self._public()

    def reset(self) -> None:
        with self._lock:
            self._config = _validated(dict(DEFAULT_CONFIG))
            self._pattern = re.compile("")
            self._rng = random.Random(self._initial_seed)

    def decide(self, method: str, path: str) -> str | None:
        """The fault kind for this request, or None. Consumes randomness only for eligible requests."""
        with self._lock:
            cfg = self._config
            if cfg["rate"] <= 0.0:
                return None
            if cfg["methods"] and method.upper() not in cfg["methods"]:
                return None
            if cfg["paths"] and not self._pattern.search(path):
                return None
            if self._rng.random() >= cfg["rate"]:
                return None
            return self._rng.choice(cfg["kinds"])

    @property
    def slow_seconds(self) -> float:
        with self._lock:
            return self._config["slow_seconds"]

    @property
    def timeout_seconds(self) -> float:
        with self._lock:
            return self._config["timeout_seconds"]

    def _public(self) -> dict:
        return {
            key: (list(value) if isinstance(value, list) else value) for key, value in self._config.items()
        }


def _status_response(status: int) -> Response:
    response = jsonify({"status": status, "title": _REASONS.get(status, "Error")})
    response.status_code = status
    return response


def _truncate(body: bytes) -> bytes:
    cut = body[: max(1, len(body) // 2)]
    try:
        json.loads(cut)
    except ValueError:
        return cut
    return b'{"data": ['


def install(app: Flask, faults: Faults, counters: Counters, endpoint_name: Callable[[Request], str]) -> None:
    """before_request/after_request wiring, plus the /_sandbox/faults and /_sandbox/counters routes.

    The hooks are put first (before_request) and last (after_request) of the app-wide chains, so a fault
    happens before any other hook (e.g. a rate limiter) and the counter sees the final status.
    """

    def is_control() -> bool:
        return request.path.startswith(CONTROL_PREFIX) or request.path == CONTROL_PREFIX.rstrip("/")

    def inject_before() -> Response | None:
        if is_control():
            return None
        kind = faults.decide(request.method, request.path)
        g.sandbox_fault = kind
        if kind is None:
            return None
        if kind == "slow":
            time.sleep(faults.slow_seconds)
            return None
        if kind == "timeout":
            time.sleep(faults.timeout_seconds)
            return _status_response(504)
        if kind in BEFORE_HANDLER_KINDS:
            return _status_response(int(kind))
        return None

    def count_after(response: Response) -> Response:
        if is_control():
            return response
        kind = getattr(g, "sandbox_fault", None)
        if kind == "429":
            for header in [name for name, _ in response.headers if name.lower().startswith("x-rate-limit")]:
                del response.headers[header]
            response.headers.pop("Retry-After", None)
        elif kind == "truncated":
            response.status_code = 200
            response.set_data(_truncate(response.get_data()))
        elif kind == "garbage":
            response.status_code = 200
            response.set_data(GARBAGE_BODY)
        try:
            name = endpoint_name(request)
        except Exception:
            name = request.path
        counters.hit(request.method, name, response.status_code, fault=kind)
        return response

    app.before_request_funcs.setdefault(None, []).insert(0, inject_before)
    app.after_request_funcs.setdefault(None, []).insert(0, count_after)

    def read_faults() -> Response:
        return jsonify(faults.config())

    def configure_faults() -> tuple[Response, int] | Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify({"error": "expected a JSON object of fault settings"}), 400
        try:
            return jsonify(faults.configure(**body))
        except ValueError as exc:
            return jsonify({"error": str(exc)}), 400

    def reset_faults() -> Response:
        faults.reset()
        return jsonify(faults.config())

    def read_counters() -> Response:
        return jsonify(counters.snapshot())

    def reset_counters() -> Response:
        counters.reset()
        return jsonify(counters.snapshot())

    app.add_url_rule("/_sandbox/faults", "sandbox_faults_read", read_faults, methods=["GET"])
    app.add_url_rule("/_sandbox/faults", "sandbox_faults_configure", configure_faults, methods=["POST"])
    app.add_url_rule("/_sandbox/faults", "sandbox_faults_reset", reset_faults, methods=["DELETE"])
    app.add_url_rule("/_sandbox/counters", "sandbox_counters_read", read_counters, methods=["GET"])
    app.add_url_rule("/_sandbox/counters/reset", "sandbox_counters_reset", reset_counters, methods=["POST"])
