"""Who may use the admin: the bearer token, or the signed session cookie the login form buys, with
its CSRF check; and the headers and secret scrub every admin response gets."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Response, abort, g, jsonify, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from consumer.admin import actions
from consumer.admin.blueprint import COOKIE, SESSION_SECONDS, admin_bp
from workers.domain.errors import redact

log = logging.getLogger(__name__)


def _session_key(token: str) -> bytes:
    return hmac.new(token.encode(), b"bcsync admin session v1", hashlib.sha256).digest()


def serializer(token: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_session_key(token), salt="bcsync-admin")


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None if not header else ""


def matches(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def _session(token: str) -> dict[str, Any] | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = serializer(token).loads(raw, max_age=SESSION_SECONDS)
    except BadSignature:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("csrf"), str) else None


def is_https() -> bool:
    return request.is_secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def is_api() -> bool:
    return request.path.startswith("/admin/api/")


@admin_bp.before_request
def _authenticate() -> Response | None:
    token = actions.settings().admin_token
    if not token:
        abort(404)
    g.admin_via, g.admin_session = None, None
    bearer = _bearer()
    if bearer is not None:
        if bearer and matches(bearer, token):
            g.admin_via = "bearer"
            return None
        return _unauthorized("invalid bearer token")
    if is_api():
        return _unauthorized("missing bearer token")
    session = _session(token)
    if session is not None:
        g.admin_via, g.admin_session = "session", session
        return None
    if request.endpoint == "admin.login":
        return None
    return _unauthorized("log in first")


def _unauthorized(message: str) -> Response:
    if is_api():
        response = jsonify(error=message)
    else:
        response = Response(render_template("admin_login.html", error=None), mimetype="text/html")
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="bcsync-admin"'
    return response


def _csrf_ok() -> bool:
    """Page POSTs from a session need the session's CSRF token (and a same-origin Origin when sent);
    a request that carries the bearer header is not forgeable cross-site."""
    if g.admin_via == "bearer":
        return True
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        here = urlsplit(request.host_url)
        there = urlsplit(origin)
        if (there.scheme, there.netloc) != (here.scheme, here.netloc):
            return False
    sent = request.form.get("csrf", "")
    expected = (g.admin_session or {}).get("csrf", "")
    return bool(sent and expected) and hmac.compare_digest(sent.encode(), expected.encode())


def require_csrf() -> Response | None:
    if _csrf_ok():
        return None
    message = "The form was stale or not sent from this page (CSRF check failed). Reload and try again."
    return Response(render_template("admin_error.html", message=message), status=403, mimetype="text/html")


@admin_bp.after_request
def _harden(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    if not response.direct_passthrough:
        body = response.get_data(as_text=True)
        found = [s for s in actions.settings().secrets if s and s in body]
        if found:  # belt and braces: nothing below should ever put one there
            log.error("admin: a configured secret was about to be sent in a response; redacted")
            response.set_data(redact(body, found))
    return response
