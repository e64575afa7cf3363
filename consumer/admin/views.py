"""The HTML page under /admin/: status and failed tasks, login and logout, and the page's POST forms."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response  # what redirect() returns; flask's Response is one too

from consumer.admin import actions, session
from consumer.admin.actions import BadRequest
from consumer.admin.blueprint import COOKIE, ERRORS, NOTICES, PAGE_FAILED_LIMIT, SESSION_SECONDS, admin_bp
from workers.store import failures
from workers.store.storage import CATEGORY, PRODUCT

log = logging.getLogger(__name__)


def _back(notice: str | None = None, error: str | None = None, **params: Any) -> Response:
    args = {k: v for k, v in {"notice": notice, "error": error, **params}.items() if v is not None}
    return redirect(url_for("admin.page", **args), code=303)


@admin_bp.get("/")
def page() -> str:
    settings = actions.settings()
    db = actions.db()
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
    token = actions.settings().admin_token
    given = request.form.get("token", "")
    if not given or not session.matches(given, token):
        return render_template("admin_login.html", error="That token is not right."), 401
    response = redirect(url_for("admin.page"), code=303)
    value = session.serializer(token).dumps({"csrf": secrets.token_urlsafe(32)})
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_SECONDS,
        path="/admin",
        httponly=True,
        samesite="Strict",
        secure=session.is_https(),
    )
    return response


@admin_bp.post("/logout")
def logout() -> Response:
    refused = session.require_csrf()
    if refused:
        return refused
    response = redirect(url_for("admin.login"), code=303)
    response.delete_cookie(COOKIE, path="/admin", httponly=True, samesite="Strict", secure=session.is_https())
    return response


@admin_bp.post("/failed/<int:entry_id>/replay")
def page_replay(entry_id: int) -> Response:
    refused = session.require_csrf()
    if refused:
        return refused
    replayed = actions.replay([entry_id])
    return _back("replayed" if replayed else "nothing", n=len(replayed))


@admin_bp.post("/failed/<int:entry_id>/discard")
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
        return _back("resync-all", dry="1" if dry_run else None)
    if kind not in ("products", "categories"):
        return _back(error="kind")
    try:
        ids = actions.ids_from_text(request.form.get("ids", ""))
    except BadRequest:
        return _back(error="ids")
    n = actions.mark(store, PRODUCT if kind == "products" else CATEGORY, ids)
    return _back("resync", n=n, what=kind)
