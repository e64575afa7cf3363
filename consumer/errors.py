"""Refusals and error responses: every error the consumer returns is JSON `{"error": "..."}`.

A `Refusal` carries the HTTP status, the message the client sees (never a secret, never more than
it needs) and an `outcome` label for metrics and logs. Werkzeug's HTTP errors (404 route, 405,
413 ...) and unexpected exceptions (500) get the same JSON shape.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

OUTCOMES = {
    400: "bad_request",
    401: "unauthorized",
    404: "unknown_store",
    413: "too_large",
    415: "unsupported_media_type",
    503: "unavailable",
}


class Refusal(Exception):
    """A webhook callback refused with `status`; `message` goes into the JSON error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message

    @property
    def outcome(self) -> str:
        return OUTCOMES.get(self.status, str(self.status))


def error_response(status: int, message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        # An InternalServerError arrives here after Flask has logged it and signalled Sentry.
        if isinstance(exc, InternalServerError):
            return error_response(500, "internal error")
        return error_response(exc.code or 500, (exc.name or "error").lower())
