"""The gate every store request passes: store hash (404), X-Auth-Token (401), rate limit (429, and the
X-Rate-Limit-* headers on every answer), BigCommerce's latency, and the error bodies of each failure."""

from __future__ import annotations

import hmac
import time
from typing import Any

from flask import Flask, Response, g, request

from sandbox.bigcommerce_api.http import (
    ERROR_TYPE,
    PREFIX,
    ApiError,
    endpoint_name,
    error_response,
    json_response,
)
from sandbox.ratelimit import RateLimiter
from sandbox.store import Invalid, NotFound, Store


def install_gate(app: Flask, store: Store, limiter: RateLimiter, settings: dict[str, Any]) -> None:
    """Register the before/after/teardown hooks and the error handlers on `app`."""

    @app.before_request
    def gatekeeper() -> Response | None:
        if request.path.startswith("/_sandbox"):
            return None
        match = PREFIX.match(request.path)
        v2 = bool(match and match["version"] == "v2")
        if match is None or match["hash"] != store.store_hash:
            return error_response(404, "Store not found" if match else "Not Found", v2=v2)
        token = request.headers.get("X-Auth-Token", "")
        if not hmac.compare_digest(token.encode(), str(settings["access_token"]).encode()):
            return error_response(
                401,
                "Unauthorized - the v3 Auth client ID or token in the request are not "
                "a valid combination for this store.",
                v2=v2,
            )
        ticket = limiter.enter(store.store_hash, f"{request.method} {endpoint_name(request)}")
        g.ticket = ticket
        if not ticket.allowed:
            return error_response(429, "Too many requests", v2=v2)
        if settings["latency_seconds"]:
            time.sleep(settings["latency_seconds"])  # BigCommerce's own response time, inside the slot
        return None

    @app.after_request
    def rate_headers(response: Response) -> Response:
        match = PREFIX.match(request.path)
        if match and match["hash"] == store.store_hash:
            ticket = getattr(g, "ticket", None)
            headers = ticket.headers if ticket is not None else limiter.peek(store.store_hash)
            for key, value in headers.items():
                response.headers[key] = value
        return response

    @app.teardown_request
    def release(_exc: BaseException | None) -> None:
        ticket = getattr(g, "ticket", None)
        if ticket is not None:
            limiter.leave(ticket)

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.title, exc.errors, v2="/v2/" in request.path)

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound) -> Response:
        return error_response(404, f"The requested {exc} was not found.", v2="/v2/" in request.path)

    @app.errorhandler(Invalid)
    def invalid(exc: Invalid) -> Response:
        return error_response(409 if exc.conflict else 422, str(exc), exc.errors)

    @app.errorhandler(404)
    def no_route(_exc: Exception) -> Response:
        return error_response(404, "The requested resource was not found.", v2="/v2/" in request.path)

    @app.errorhandler(405)
    def no_method(_exc: Exception) -> Response:
        return json_response(
            {
                "status": 405,
                "title": "Method Not Allowed",
                "type": ERROR_TYPE,
                "detail": f"{request.method} is not supported here",
            },
            405,
        )
