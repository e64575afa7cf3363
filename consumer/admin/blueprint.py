"""The admin blueprint (/admin, its templates beside this module), what it sets on the app when it is
registered (Flask's signed session cookie, Flask-WTF's CSRF tokens, the `id` URL converter), and the
fixed texts of its page.

Sessions: Flask's own session cookie (signed with a key derived from ADMIN_TOKEN by HMAC, so rotating
the token ends every session), holding only a random session id and Flask-WTF's CSRF secret. The id
is checked against the database on every request (workers.store.admin): logout deletes it, and a
session ends SESSION_IDLE_SECONDS after its last use or SESSION_MAX_SECONDS after login, whichever
comes first. Why these: the page is an on-call tool used for minutes at a time, so an abandoned tab
should stop being a key within half an hour; eight hours (a working shift) bounds a stolen cookie
(the old stateless cookie lived 12 h and survived logout).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, Request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.routing import BaseConverter, ValidationError

from workers.domain.ids import MAX_ID, parse_id

admin_bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

COOKIE = "bcsync_admin"
SESSION_MAX_SECONDS = 8 * 3600
SESSION_IDLE_SECONDS = 30 * 60
THROTTLE_LIMIT = 20  # wrong admin tokens per client address ...
THROTTLE_WINDOW = 60.0  # ... within this many seconds; the next attempt gets 429 until the window ends
MAX_IDS = 10_000
VERIFY_MAX_IDS = 250  # products verified in one request (one BigCommerce call)
PAGE_FAILED_LIMIT = 200
NOTICES = {
    "replayed": "Replayed {n} entr{ies}; the products are dirty again and a flush is on its way.",
    "discarded": "Discarded {n} entr{ies}.",
    "nothing": "Nothing to do: that entry is no longer open.",
    "resync": "Marked {n} product(s) to push whole, whatever the ledger says; a flush is on its way.",
    "resync-all": "Full resync enqueued; the worker runs it.",
    "paused": "Paused store {store}.",
    "resumed": "Resumed store {store}.",
    "loggedout": "Logged out.",
}
ERRORS = {
    "ids": "Give one or more positive ids, separated by spaces or commas.",
    "kind": "Choose products, categories or the whole store.",
    "store": "Choose a configured store.",
    "broker": "Could not reach the broker to enqueue the resync; try again or use `bcsync resync all`.",
}

__all__ = ["MAX_ID", "admin_bp"]


class IdConverter(BaseConverter):
    """`<id:name>`: an id in a URL, ASCII digits 1..2^63-1 (workers.domain.ids); anything else is 404."""

    regex = r"[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        try:
            return parse_id(value)
        except ValueError:
            raise ValidationError() from None

    def to_url(self, value: Any) -> str:
        return str(int(value))


class AdminSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, opened only under /admin (the webhook receiver never pays for
    it), Secure whenever the request came over https (ProxyFix tells behind a proxy)."""

    def open_session(self, app: Flask, request: Request) -> Any:
        if not request.path.startswith("/admin"):
            return None
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        from flask import request

        return bool(request.is_secure)


def session_key(token: str) -> bytes:
    return hmac.new(token.encode(), b"bcsync admin session v2", hashlib.sha256).digest()


def _setup(state: Any) -> None:
    app: Flask = state.app
    app.url_map.converters["id"] = IdConverter
    runtime = app.extensions.get("bcsync")
    if runtime is None:
        from workers.settings import get_settings

        token = get_settings().admin_token
    else:
        token = runtime.settings.admin_token
    if token:
        app.secret_key = session_key(token)
    app.session_interface = AdminSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE,
        SESSION_COOKIE_PATH="/admin",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_REFRESH_EACH_REQUEST=False,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=SESSION_MAX_SECONDS),
        WTF_CSRF_FIELD_NAME="csrf",
        WTF_CSRF_TIME_LIMIT=SESSION_MAX_SECONDS,
    )


admin_bp.record_once(_setup)  # before any route: the `id` converter must exist when they are added
