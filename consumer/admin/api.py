"""The JSON API under /admin/api/: status, the failed-task list (show, replay, discard), resyncs and
verify (with fix). Every number in a path, query or body is an id or time within 1..2^63-1 (or 400/404)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, jsonify, request

from consumer.admin import actions, errors
from consumer.admin.actions import BadRequest
from consumer.admin.blueprint import VERIFY_MAX_IDS, admin_bp
from workers.domain.errors import NotFoundError
from workers.store import failures
from workers.store.storage import CATEGORY, PRODUCT

log = logging.getLogger(__name__)


def _body() -> dict[str, Any]:
    try:
        data = request.get_json(silent=True) if request.get_data() else {}
    except RecursionError:  # nesting deeper than Python's json parser goes
        data = None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


@admin_bp.get("/api/status")
def api_status() -> Response:
    return jsonify(failures.ops_status(actions.db(), list(actions.settings().stores)))


@admin_bp.get("/api/failed")
def api_failed() -> Response:
    status = request.args.get("status", "failed")
    if status not in (*failures.STATUSES, "all"):
        raise BadRequest(f"status must be one of {', '.join((*failures.STATUSES, 'all'))}")
    since = actions.since_value(request.args.get("since"))
    entries = failures.list_failed(
        actions.db(), status=None if status == "all" else status, since=since, limit=10_000
    )
    return jsonify(failed=[failures.to_dict(e) for e in entries])


@admin_bp.get("/api/failed/<id:entry_id>")
def api_failed_one(entry_id: int) -> Response:
    entry = failures.get_failed(actions.db(), entry_id)
    if entry is None:
        return errors.json_error(404, f"no failed task with id {entry_id}")
    return jsonify(actions.failed_detail(entry))


@admin_bp.post("/api/failed/<id:entry_id>/replay")
def api_replay(entry_id: int) -> Response:
    entry = failures.get_failed(actions.db(), entry_id)
    if entry is None:
        return errors.json_error(404, f"no failed task with id {entry_id}")
    replayed = actions.replay([entry_id]) if entry.status == "failed" else []
    return jsonify(replayed=replayed, status="replayed" if replayed else entry.status)


@admin_bp.post("/api/failed/replay-all")
def api_replay_all() -> Response:
    return jsonify(replayed=actions.replay(None, since=actions.since_value(_body().get("since"))))


@admin_bp.post("/api/failed/<id:entry_id>/discard")
def api_discard(entry_id: int) -> Response:
    db = actions.db()
    entry = failures.get_failed(db, entry_id)
    if entry is None:
        return errors.json_error(404, f"no failed task with id {entry_id}")
    n = failures.discard(db, [entry_id])
    return jsonify(discarded=n, status="discarded" if n else entry.status)


@admin_bp.post("/api/resync")
def api_resync() -> Response | tuple[Response, int]:
    body = _body()
    kinds = [k for k in ("products", "categories", "all") if k in body]
    if len(kinds) != 1:
        raise BadRequest('give exactly one of "products", "categories" or "all"')
    store = actions.pick_store(body.get("store"))
    if kinds[0] == "all":
        if body["all"] is not True:
            raise BadRequest('"all" must be true')
        dry_run = body.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise BadRequest('"dry_run" must be true or false')
        try:
            actions.enqueue_resync_all(store, dry_run)
        except Exception as exc:
            log.error("admin: could not enqueue resync_all (%s)", type(exc).__name__)
            return errors.json_error(503, "broker unavailable: could not enqueue the resync")
        return jsonify(enqueued="resync_all", store=store, dry_run=dry_run), 202
    entity = PRODUCT if kinds[0] == "products" else CATEGORY
    ids = actions.parse_ids(body[kinds[0]], kinds[0])
    return jsonify(actions.resync(store, entity, ids)), 202


@admin_bp.post("/api/verify")
def api_verify() -> Response:
    """{"products": [ids]} or {"all": true}, optional "fix": true and "store"; the drift found."""
    body = _body()
    store = actions.pick_store(body.get("store"))
    fix = body.get("fix", False)
    if not isinstance(fix, bool):
        raise BadRequest('"fix" must be true or false')
    if ("products" in body) == ("all" in body):
        raise BadRequest('give exactly one of "products" or "all"')
    if "all" in body and body["all"] is not True:
        raise BadRequest('"all" must be true')
    product_ids = (
        actions.parse_ids(body["products"], "products", VERIFY_MAX_IDS) if "products" in body else None
    )
    return jsonify(actions.verify(store, product_ids, fix))


def _store_in_path(store: str) -> str:
    if store not in actions.settings().stores:
        shown = store if len(store) <= 64 else store[:64] + "…"
        raise NotFoundError(f"store {shown!r} is not configured")
    return store


@admin_bp.get("/api/stores/<store>/pause")
def api_pause_status(store: str) -> Response:
    return jsonify(actions.pause_status(_store_in_path(store)))


@admin_bp.post("/api/stores/<store>/pause")
def api_pause(store: str) -> Response:
    """{"reason": "…"} (optional): no flush pushes anything until a resume."""
    body = _body()
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise BadRequest('"reason" must be text')
    return jsonify(actions.pause(_store_in_path(store), reason))


@admin_bp.post("/api/stores/<store>/resume")
def api_resume(store: str) -> Response:
    return jsonify(actions.resume(_store_in_path(store)))


@admin_bp.get("/api/events")
def api_events() -> Response:
    """?product=ID[&store=HASH][&since=T][&limit=N]: the product's timeline, oldest first."""
    args = request.args
    store = actions.pick_store(args.get("store"))
    product = actions.id_from_text(args.get("product", ""), "product")
    limit = min(actions.id_from_text(args["limit"], "limit"), 10_000) if "limit" in args else 1000
    since = actions.since_value(args.get("since"))
    return jsonify(store=store, product=product, events=actions.events(store, product, since, limit))


@admin_bp.post("/api/preview")
def api_preview() -> Response:
    """The dry run of a resync, old → new per field: {"products": [ids]} | {"categories": [ids]} |
    {"all": true, "force": false}; optional "store". Pushes nothing."""
    body = _body()
    kinds = [k for k in ("products", "categories", "all") if k in body]
    if len(kinds) != 1:
        raise BadRequest('give exactly one of "products", "categories" or "all"')
    store = actions.pick_store(body.get("store"))
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise BadRequest('"force" must be true or false')
    if kinds[0] == "all":
        if body["all"] is not True:
            raise BadRequest('"all" must be true')
        return jsonify(actions.preview(store, "all", None, force))
    ids = actions.parse_ids(body[kinds[0]], kinds[0], VERIFY_MAX_IDS)
    return jsonify(actions.preview(store, kinds[0], ids))
