"""The admin API (/admin/api/…, JSON) and page (/admin/, server-rendered HTML) for ops and support:
status, the failed-task list (replay, discard) and resyncs. Thin glue over workers.failures.

Auth: `Authorization: Bearer $ADMIN_TOKEN` (compared in constant time). With ADMIN_TOKEN unset the
whole admin answers 404. A browser cannot send a bearer header by itself, so the page also has a
login form: the token posted once buys a signed session cookie (HttpOnly, SameSite=Strict, Secure
over https, path /admin, 12 h). The cookie holds only a random CSRF token and a timestamp, signed
(itsdangerous, as Flask's own session) with a key derived from ADMIN_TOKEN by HMAC — never the
token — so rotating ADMIN_TOKEN ends every session. Page actions are POST forms carrying that CSRF
token; the JSON API takes only the bearer header, which a foreign site cannot make a browser send.

Nothing here renders a secret: responses are additionally scrubbed of every configured secret.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.exc import SQLAlchemyError

from workers import failures, storage
from workers.errors import redact
from workers.settings import Settings, get_settings
from workers.storage import CATEGORY, PRODUCT, session_scope

log = logging.getLogger(__name__)

admin_bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
blueprint = admin_bp  # consumer.create_app registers `consumer.admin.blueprint` when present

COOKIE = "bcsync_admin"
SESSION_SECONDS = 12 * 3600
MAX_IDS = 10_000
MAX_ID = 2**63 - 1
PAGE_FAILED_LIMIT = 200
NOTICES = {
    "replayed": "Replayed {n} entr{ies}; the products are dirty again and a flush is on its way.",
    "discarded": "Discarded {n} entr{ies}.",
    "nothing": "Nothing to do: that entry is no longer open.",
    "resync": "Marked {n} {what} dirty; a flush is on its way.",
    "resync-all": "Full resync enqueued{dry}; the worker runs it "
    "(a dry run's report goes to the worker log).",
    "loggedout": "Logged out.",
}
ERRORS = {
    "ids": "Give one or more positive ids, separated by spaces or commas.",
    "kind": "Choose products, categories or the whole store.",
    "store": "Choose a configured store.",
    "broker": "Could not reach the broker to enqueue the resync; try again or use `bcsync resync all`.",
}


class BadRequest(ValueError):
    """A request the API refuses with 400 and this message."""


# --- settings, database, wake-ups ----------------------------------------------------------------


def _runtime() -> Any:
    return current_app.extensions.get("bcsync")


def _settings() -> Settings:
    runtime = _runtime()
    return runtime.settings if runtime is not None else get_settings()


def _db() -> str:
    runtime = _runtime()
    if runtime is not None:
        runtime.ensure_schema()
    else:
        from workers.migrate import upgrade

        upgrade(_settings().database_url)
    return _settings().database_url


def _wake(store_hash: str) -> None:
    """Ask for a flush soon; if the broker is away the beat's sweep flushes the dirty rows anyway."""
    runtime = _runtime()
    try:
        if runtime is not None:
            runtime.waker.note(store_hash)
        else:
            from workers.wake import publish_flush

            publish_flush(store_hash)
    except Exception as exc:
        log.warning("admin: could not wake a flush for store %s (%s)", store_hash, type(exc).__name__)


def _enqueue_resync_all(store_hash: str, dry_run: bool) -> None:
    from workers.tasks import resync_all

    resync_all.apply_async(args=[store_hash, dry_run], retry=False)


# --- auth ----------------------------------------------------------------------------------------


def _session_key(token: str) -> bytes:
    return hmac.new(token.encode(), b"bcsync admin session v1", hashlib.sha256).digest()


def _serializer(token: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_session_key(token), salt="bcsync-admin")


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None if not header else ""


def _matches(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def _session(token: str) -> dict[str, Any] | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(token).loads(raw, max_age=SESSION_SECONDS)
    except BadSignature:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("csrf"), str) else None


def _is_https() -> bool:
    return request.is_secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _api() -> bool:
    return request.path.startswith("/admin/api/")


@admin_bp.before_request
def _authenticate() -> Response | None:
    token = _settings().admin_token
    if not token:
        abort(404)
    g.admin_via, g.admin_session = None, None
    bearer = _bearer()
    if bearer is not None:
        if bearer and _matches(bearer, token):
            g.admin_via = "bearer"
            return None
        return _unauthorized("invalid bearer token")
    if _api():
        return _unauthorized("missing bearer token")
    session = _session(token)
    if session is not None:
        g.admin_via, g.admin_session = "session", session
        return None
    if request.endpoint == "admin.login":
        return None
    return _unauthorized("log in first")


def _unauthorized(message: str) -> Response:
    if _api():
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


def _require_csrf() -> Response | None:
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
        found = [s for s in _settings().secrets if s and s in body]
        if found:  # belt and braces: nothing below should ever put one there
            log.error("admin: a configured secret was about to be sent in a response; redacted")
            response.set_data(redact(body, found))
    return response


# --- shared actions ------------------------------------------------------------------------------


def _parse_ids(value: Any, name: str) -> list[int]:
    if not isinstance(value, list) or not value:
        raise BadRequest(f"{name} must be a non-empty list of ids")
    if len(value) > MAX_IDS:
        raise BadRequest(f"at most {MAX_IDS} {name} at once")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= MAX_ID:
            raise BadRequest(f"{name} must be positive integers, got {v!r}")
    return list(dict.fromkeys(value))


def _ids_from_text(text: str) -> list[int]:
    parts = text.replace(",", " ").split()
    if not parts or any(not p.isdigit() or not 0 < int(p) <= MAX_ID for p in parts):
        raise BadRequest(ERRORS["ids"])
    return list(dict.fromkeys(int(p) for p in parts))


def _pick_store(value: Any) -> str:
    stores = _settings().stores
    if value in (None, ""):
        if len(stores) != 1:
            raise BadRequest(f'several stores are configured: give "store" (one of {sorted(stores)})')
        return next(iter(stores))
    if not isinstance(value, str) or value not in stores:
        raise BadRequest("unknown store")
    return value


def _mark(store_hash: str, entity: str, ids: list[int]) -> int:
    with session_scope(_db()) as s:
        n = storage.mark_dirty(s, store_hash, entity, ids, "resync")
    _wake(store_hash)
    return n


def _replay(ids: list[int] | None, since: float | None = None) -> list[int]:
    entries = failures.replay(_db(), ids, since=since)
    for sh in failures.stores_of(entries):
        if sh in _settings().stores:
            _wake(sh)
    return [e.id for e in entries]


# --- JSON API ------------------------------------------------------------------------------------


def _json_error(status: int, message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response


@admin_bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest) -> Response:
    if _api():
        return _json_error(400, str(exc))
    return Response(render_template("admin_error.html", message=str(exc)), status=400, mimetype="text/html")


@admin_bp.errorhandler(SQLAlchemyError)
def _database_down(exc: SQLAlchemyError) -> Response:
    log.error("admin: database error %s", type(exc).__name__)
    if _api():
        return _json_error(503, "database unavailable")
    return Response(
        render_template("admin_error.html", message="The database is unavailable."),
        status=503,
        mimetype="text/html",
    )


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True) if request.get_data() else {}
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


@admin_bp.get("/api/status")
def api_status() -> Response:
    return jsonify(failures.ops_status(_db(), list(_settings().stores)))


@admin_bp.get("/api/failed")
def api_failed() -> Response:
    status = request.args.get("status", "failed")
    if status not in (*failures.STATUSES, "all"):
        raise BadRequest(f"status must be one of {', '.join((*failures.STATUSES, 'all'))}")
    since = _since(request.args.get("since"))
    entries = failures.list_failed(
        _db(), status=None if status == "all" else status, since=since, limit=10_000
    )
    return jsonify(failed=[failures.to_dict(e) for e in entries])


def _since(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return failures.parse_time(value)
    except ValueError as exc:
        raise BadRequest(f"since: {exc}") from None


@admin_bp.get("/api/failed/<int:entry_id>")
def api_failed_one(entry_id: int) -> Response:
    entry = failures.get_failed(_db(), entry_id)
    if entry is None:
        return _json_error(404, f"no failed task with id {entry_id}")
    return jsonify(failures.to_dict(entry, traceback=True))


@admin_bp.post("/api/failed/<int:entry_id>/replay")
def api_replay(entry_id: int) -> Response:
    entry = failures.get_failed(_db(), entry_id)
    if entry is None:
        return _json_error(404, f"no failed task with id {entry_id}")
    replayed = _replay([entry_id]) if entry.status == "failed" else []
    return jsonify(replayed=replayed, status="replayed" if replayed else entry.status)


@admin_bp.post("/api/failed/replay-all")
def api_replay_all() -> Response:
    return jsonify(replayed=_replay(None, since=_since(_body().get("since"))))


@admin_bp.post("/api/failed/<int:entry_id>/discard")
def api_discard(entry_id: int) -> Response:
    db = _db()
    entry = failures.get_failed(db, entry_id)
    if entry is None:
        return _json_error(404, f"no failed task with id {entry_id}")
    n = failures.discard(db, [entry_id])
    return jsonify(discarded=n, status="discarded" if n else entry.status)


@admin_bp.post("/api/resync")
def api_resync() -> Response | tuple[Response, int]:
    body = _body()
    kinds = [k for k in ("products", "categories", "all") if k in body]
    if len(kinds) != 1:
        raise BadRequest('give exactly one of "products", "categories" or "all"')
    store = _pick_store(body.get("store"))
    if kinds[0] == "all":
        if body["all"] is not True:
            raise BadRequest('"all" must be true')
        dry_run = body.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise BadRequest('"dry_run" must be true or false')
        try:
            _enqueue_resync_all(store, dry_run)
        except Exception as exc:
            log.error("admin: could not enqueue resync_all (%s)", type(exc).__name__)
            return _json_error(503, "broker unavailable: could not enqueue the resync")
        return jsonify(enqueued="resync_all", store=store, dry_run=dry_run), 202
    entity = PRODUCT if kinds[0] == "products" else CATEGORY
    ids = _parse_ids(body[kinds[0]], kinds[0])
    return jsonify(marked=_mark(store, entity, ids), entity=entity, store=store), 202


# --- HTML page -----------------------------------------------------------------------------------


def _back(notice: str | None = None, error: str | None = None, **params: Any) -> Response:
    args = {k: v for k, v in {"notice": notice, "error": error, **params}.items() if v is not None}
    return redirect(url_for("admin.page", **args), code=303)


@admin_bp.get("/")
def page() -> str:
    settings = _settings()
    db = _db()
    show = request.args.get("failed", "failed")
    status_filter = None if show == "all" else "failed"
    entries = failures.list_failed(db, status=status_filter, limit=PAGE_FAILED_LIMIT)
    return render_template(
        "admin_index.html",
        status=failures.ops_status(db, list(settings.stores)),
        entries=[failures.to_dict(e) for e in entries],
        show_all=show == "all",
        stores=list(settings.stores),
        sandbox=settings.sandbox,
        notice=_notice(),
        error=ERRORS.get(request.args.get("error", ""), ""),
        csrf=(g.admin_session or {}).get("csrf", ""),
        limit=PAGE_FAILED_LIMIT,
    )


def _notice() -> str:
    """The message after an action: fixed texts, only a count and a known word filled in."""
    args = request.args
    count = int(args["n"]) if args.get("n", "").isdigit() else 0
    what = args.get("what") if args.get("what") in ("products", "categories") else "products"
    return NOTICES.get(args.get("notice", ""), "").format(
        n=count,
        ies="y" if count == 1 else "ies",
        what=what,
        dry=" (dry run)" if args.get("dry") == "1" else "",
    )


@admin_bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        if g.admin_via:
            return redirect(url_for("admin.page"), code=303)
        return render_template("admin_login.html", error=None)
    token = _settings().admin_token
    given = request.form.get("token", "")
    if not given or not _matches(given, token):
        return render_template("admin_login.html", error="That token is not right."), 401
    response = redirect(url_for("admin.page"), code=303)
    value = _serializer(token).dumps({"csrf": secrets.token_urlsafe(32)})
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_SECONDS,
        path="/admin",
        httponly=True,
        samesite="Strict",
        secure=_is_https(),
    )
    return response


@admin_bp.post("/logout")
def logout() -> Response:
    refused = _require_csrf()
    if refused:
        return refused
    response = redirect(url_for("admin.login"), code=303)
    response.delete_cookie(COOKIE, path="/admin", httponly=True, samesite="Strict", secure=_is_https())
    return response


@admin_bp.post("/failed/<int:entry_id>/replay")
def page_replay(entry_id: int) -> Response:
    refused = _require_csrf()
    if refused:
        return refused
    replayed = _replay([entry_id])
    return _back("replayed" if replayed else "nothing", n=len(replayed))


@admin_bp.post("/failed/<int:entry_id>/discard")
def page_discard(entry_id: int) -> Response:
    refused = _require_csrf()
    if refused:
        return refused
    n = failures.discard(_db(), [entry_id])
    return _back("discarded" if n else "nothing", n=n)


@admin_bp.post("/failed/replay-all")
def page_replay_all() -> Response:
    refused = _require_csrf()
    if refused:
        return refused
    return _back("replayed", n=len(_replay(None)))


@admin_bp.post("/resync")
def page_resync() -> Response:
    refused = _require_csrf()
    if refused:
        return refused
    kind = request.form.get("kind", "")
    try:
        store = _pick_store(request.form.get("store") or None)
    except BadRequest:
        return _back(error="store")
    if kind == "all":
        dry_run = request.form.get("dry_run") == "1"
        try:
            _enqueue_resync_all(store, dry_run)
        except Exception as exc:
            log.error("admin: could not enqueue resync_all (%s)", type(exc).__name__)
            return _back(error="broker")
        return _back("resync-all", dry="1" if dry_run else None)
    if kind not in ("products", "categories"):
        return _back(error="kind")
    try:
        ids = _ids_from_text(request.form.get("ids", ""))
    except BadRequest:
        return _back(error="ids")
    n = _mark(store, PRODUCT if kind == "products" else CATEGORY, ids)
    return _back("resync", n=n, what=kind)
