"""The HTML page under /admin/: status and failed tasks, a failed task's detail, verify (and fix),
login and logout, and the page's POST forms. Every redirect names PUBLIC_URL's host when it is set
(else it is a bare path): never the Host header the request came with."""

from __future__ import annotations

import logging
from typing import Any

from flask import g, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response  # what redirect() returns; flask's Response is one too

from consumer.admin import actions, session
from consumer.admin.actions import BadRequest
from consumer.admin.blueprint import ERRORS, NOTICES, PAGE_FAILED_LIMIT, VERIFY_MAX_IDS, admin_bp
from workers.domain.errors import NotFoundError
from workers.store import failures
from workers.store.storage import CATEGORY, PRODUCT

log = logging.getLogger(__name__)


def admin_url(endpoint: str, **values: Any) -> str:
    """The URL of an admin endpoint on the configured host (PUBLIC_URL), else a path on this one."""
    path = url_for(endpoint, **values)
    base = actions.settings().public_url.rstrip("/")
    return f"{base}{path}" if base else path


def _back(notice: str | None = None, error: str | None = None, **params: Any) -> Response:
    args = {k: v for k, v in {"notice": notice, "error": error, **params}.items() if v is not None}
    return redirect(admin_url("admin.page", **args), code=303)


def _csrf() -> str:
    """The form token of this browser's session (Flask-WTF); none for a bearer-header request."""
    return generate_csrf() if g.get("admin_via") == "session" else ""


@admin_bp.get("", strict_slashes=False)
def bare() -> Response:
    return redirect(admin_url("admin.page"), code=308)


@admin_bp.get("/")
def page() -> str:
    settings = actions.settings()
    db = actions.db()
    show = request.args.get("failed", "failed")
    status_filter = None if show == "all" else "failed"
    entries = failures.list_failed(db, status=status_filter, limit=PAGE_FAILED_LIMIT)
    status = failures.ops_status(db, list(settings.stores))
    for row in status["stores"]:  # how each pause lifts, in words (workers.sync.pausing)
        if row["paused"] and row["store"] in settings.stores:
            row["pause_lifts"] = actions.pause_status(row["store"])["lifts"]
    return render_template(
        "admin_index.html",
        status=status,
        entries=[failures.to_dict(e) for e in entries],
        show_all=show == "all",
        stores=list(settings.stores),
        sandbox=settings.sandbox,
        notice=_notice(),
        error=ERRORS.get(request.args.get("error", ""), ""),
        csrf=_csrf(),
        limit=PAGE_FAILED_LIMIT,
        verify_max=VERIFY_MAX_IDS,
        can_pause=True,
        has_events=True,
        has_preview=True,
    )


def _notice() -> str:
    """The message after an action: fixed texts, only a count and known words filled in."""
    args = request.args
    count = actions.count_from_text(args.get("n", ""))
    what = args.get("what") if args.get("what") in ("products", "categories") else "products"
    store = args.get("store") if args.get("store") in actions.settings().stores else ""
    return NOTICES.get(args.get("notice", ""), "").format(
        n=count, ies="y" if count == 1 else "ies", what=what, store=store
    )


@admin_bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    if request.method == "GET":
        if g.admin_via:
            return redirect(admin_url("admin.page"), code=303)
        return render_template("admin_login.html", error=None)
    refused = session.throttled()
    if refused is not None:
        return refused
    token = actions.settings().admin_token
    given = request.form.get("token", "")
    if not given or not session.matches(given, token):
        session.failed_attempt("failed login")
        return render_template("admin_login.html", error="That token is not right."), 401
    session.open_session()
    log.info("admin: login from %s", session.client())
    return redirect(admin_url("admin.page"), code=303)


@admin_bp.post("/logout")
def logout() -> Response:
    refused = session.require_csrf()
    if refused:
        return refused
    session.end_session()
    return redirect(admin_url("admin.login"), code=303)


@admin_bp.get("/failed/<id:entry_id>")
def page_failed_one(entry_id: int) -> Response | str:
    entry = failures.get_failed(actions.db(), entry_id)
    if entry is None:
        message = f"No failed task with id {entry_id}."
        html = render_template("admin_error.html", message=message)
        return Response(html, status=404, mimetype="text/html")
    return render_template("admin_failed.html", e=actions.failed_detail(entry), csrf=_csrf())


@admin_bp.post("/failed/<id:entry_id>/replay")
def page_replay(entry_id: int) -> Response:
    refused = session.require_csrf()
    if refused:
        return refused
    replayed = actions.replay([entry_id])
    return _back("replayed" if replayed else "nothing", n=len(replayed))


@admin_bp.post("/failed/<id:entry_id>/discard")
def page_discard(entry_id: int) -> Response:
    refused = session.require_csrf()
    if refused:
        return refused
    n = failures.discard(actions.db(), [entry_id])
    return _back("discarded" if n else "nothing", n=n)


@admin_bp.post("/failed/replay-all")
def page_replay_all() -> Response:
    refused = session.require_csrf()
    if refused:
        return refused
    return _back("replayed", n=len(actions.replay(None)))


@admin_bp.post("/resync")
def page_resync() -> Response:
    refused = session.require_csrf()
    if refused:
        return refused
    kind = request.form.get("kind", "")
    try:
        store = actions.pick_store(request.form.get("store") or None)
    except BadRequest:
        return _back(error="store")
    if kind == "all":
        dry_run = request.form.get("dry_run") == "1"
        try:
            actions.enqueue_resync_all(store, dry_run)
        except Exception as exc:
            log.error("admin: could not enqueue resync_all (%s)", type(exc).__name__)
            return _back(error="broker")
        return _back("resync-all")
    if kind not in ("products", "categories"):
        return _back(error="kind")
    try:
        ids = actions.ids_from_text(request.form.get("ids", ""))
    except BadRequest:
        return _back(error="ids")
    done = actions.resync(store, PRODUCT if kind == "products" else CATEGORY, ids)  # not found: 404 page
    return _back("resync", n=done["marked"])


@admin_bp.post("/verify")
def page_verify() -> Response | str:
    """Verify the products typed (or the whole store when none), and with action=fix re-push the drift."""
    refused = session.require_csrf()
    if refused:
        return refused
    store = actions.pick_store(request.form.get("store") or None)
    text = request.form.get("ids", "").strip()
    product_ids = actions.ids_from_text(text, VERIFY_MAX_IDS) if text else None
    fix = request.form.get("action") == "fix"
    result = actions.verify(store, product_ids, fix)
    return render_template(
        "admin_verify.html", result=result, ids=" ".join(map(str, product_ids or [])), csrf=_csrf()
    )


@admin_bp.post("/stores/<store>/pause")
def page_pause(store: str) -> Response:
    refused = session.require_csrf()
    if refused:
        return refused
    store = actions.pick_store(store)
    actions.pause(store, request.form.get("reason", ""))
    return _back("paused", store=store)


@admin_bp.post("/stores/<store>/resume")
def page_resume(store: str) -> Response:
    refused = session.require_csrf()
    if refused:
        return refused
    store = actions.pick_store(store)
    actions.resume(store)
    return _back("resumed", store=store)


@admin_bp.get("/events")
def page_events() -> Response:
    """A product's timeline with a search box (`bcsync events --product ID`)."""
    args = request.args
    stores = list(actions.settings().stores)
    store = actions.pick_store(args.get("store") or None)
    text = args.get("product", "").strip()
    product = actions.id_from_text(text, "product") if text else None
    since = actions.since_value(args.get("since", "").strip() or None)
    found, missing = None, ""
    if product is not None:
        try:
            found = actions.events(store, product, since)
        except NotFoundError as exc:
            missing = str(exc)
    html = render_template(
        "admin_events.html",
        store=store,
        stores=stores,
        product=product,
        since=args.get("since", ""),
        events=found,
        missing=missing,
        csrf=_csrf(),
    )
    return Response(html, status=404 if missing else 200, mimetype="text/html")


@admin_bp.post("/preview")
def page_preview() -> Response | str:
    """The resync form's dry run: each record that would be pushed, old → new per field."""
    refused = session.require_csrf()
    if refused:
        return refused
    kind = request.form.get("kind", "")
    store = actions.pick_store(request.form.get("store") or None)
    if kind not in ("products", "categories", "all"):
        raise BadRequest(ERRORS["kind"])
    ids = None if kind == "all" else actions.ids_from_text(request.form.get("ids", ""), VERIFY_MAX_IDS)
    result = actions.preview(store, kind, ids, force=request.form.get("force") == "1")
    return render_template("admin_preview.html", result=result, csrf=_csrf())
