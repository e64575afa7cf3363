"""Who may use the admin: the bearer token, or the server-side session the login form opens (Flask's
session cookie + a row in the database), with Flask-WTF's CSRF check on page forms; the throttle on
wrong tokens per client address; and the headers and secret scrub every admin response gets."""

from __future__ import annotations

import hmac
import logging
import math
import time
from urllib.parse import urlsplit

from flask import Response, abort, g, jsonify, render_template, request, session
from flask_wtf.csrf import ValidationError, validate_csrf

from consumer.admin import actions
from consumer.admin.blueprint import (
    SESSION_IDLE_SECONDS,
    SESSION_MAX_SECONDS,
    THROTTLE_LIMIT,
    THROTTLE_WINDOW,
    admin_bp,
)
from workers.domain.errors import redact
from workers.store import admin as admin_store

log = logging.getLogger(__name__)

OPEN_ENDPOINTS = {"admin.login", "admin.bare"}  # reachable without a session (login handles its own)


def _bearer() -> str | None:
    """None without an Authorization header; the bearer value, or "" for any other scheme."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def matches(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def is_api() -> bool:
    return request.path.startswith("/admin/api/")


def client() -> str:
    """The client's address: the peer, or what the trusted proxies saw (TRUSTED_PROXIES, ProxyFix)."""
    return (request.remote_addr or "unknown")[:64]


# --- throttle ------------------------------------------------------------------------------------


def throttled() -> Response | None:
    """429 while this client is over the limit of wrong tokens, else None."""
    wait = admin_store.throttled_for(actions.db(), client(), time.time(), THROTTLE_LIMIT, THROTTLE_WINDOW)
    if wait <= 0:
        return None
    seconds = max(1, math.ceil(wait))
    log.warning("admin: refused a token attempt from %s: throttled for %d s more", client(), seconds)
    message = f"Too many wrong admin tokens from this address; try again in {seconds} s."
    if is_api():
        response = jsonify(error=message)
    else:
        response = Response(render_template("admin_login.html", error=message), mimetype="text/html")
    response.status_code = 429
    response.headers["Retry-After"] = str(seconds)
    return response


def failed_attempt(what: str) -> None:
    """Count a wrong token from this client and log it (the address and count, never the token)."""
    n = admin_store.record_auth_failure(actions.db(), client(), time.time(), THROTTLE_WINDOW)
    log.warning(
        "admin: %s from %s (%d wrong in the last %.0f s; %d allowed)",
        what,
        client(),
        n,
        THROTTLE_WINDOW,
        THROTTLE_LIMIT,
    )


# --- sessions ------------------------------------------------------------------------------------


def open_session() -> None:
    """Start a new server-side session for this browser (after a right token)."""
    old = session.get("sid")
    if isinstance(old, str):
        admin_store.end_session(actions.db(), old)
    session.clear()
    session["sid"] = admin_store.create_session(actions.db(), time.time(), SESSION_MAX_SECONDS)
    session.permanent = True


def end_session() -> None:
    sid = session.get("sid")
    if isinstance(sid, str):
        admin_store.end_session(actions.db(), sid)
    session.clear()


def _session_ok() -> bool:
    sid = session.get("sid")
    if sid is None:
        return False
    if isinstance(sid, str) and admin_store.use_session(actions.db(), sid, time.time(), SESSION_IDLE_SECONDS):
        return True
    session.clear()  # ended, expired or idle: the cookie goes too
    return False


@admin_bp.before_request
def _authenticate() -> Response | None:
    token = actions.settings().admin_token
    if not token:
        abort(404)
    g.admin_via = None
    bearer = _bearer()
    if bearer is not None:
        refused = throttled()
        if refused is not None:
            return refused
        if bearer and matches(bearer, token):
            g.admin_via = "bearer"
            return None
        failed_attempt("wrong bearer token")
        return _unauthorized("invalid bearer token")
    if is_api():
        return _unauthorized("missing bearer token")
    if _session_ok():
        g.admin_via = "session"
        return None
    if request.endpoint in OPEN_ENDPOINTS:
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


# --- CSRF ----------------------------------------------------------------------------------------


def _same_origin(origin: str) -> bool:
    there = urlsplit(origin)
    allowed = [request.host_url]
    if actions.settings().public_url:
        allowed.append(actions.settings().public_url)
    return any((there.scheme, there.netloc) == (urlsplit(u).scheme, urlsplit(u).netloc) for u in allowed)


def _csrf_ok() -> bool:
    """Page POSTs from a session need the Flask-WTF CSRF token of the session (and a same-origin
    Origin when one is sent); a request carrying the bearer header is not forgeable cross-site."""
    if g.get("admin_via") == "bearer":
        return True
    if g.get("admin_via") != "session":
        return False
    origin = request.headers.get("Origin")
    if origin and origin != "null" and not _same_origin(origin):
        return False
    try:
        validate_csrf(request.form.get("csrf", ""))
    except ValidationError:
        return False
    return True


def require_csrf() -> Response | None:
    if _csrf_ok():
        return None
    message = "The form was stale or not sent from this page (CSRF check failed). Reload and try again."
    return Response(render_template("admin_error.html", message=message), status=403, mimetype="text/html")


# --- every response ------------------------------------------------------------------------------


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
