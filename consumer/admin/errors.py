"""The admin's answers to a refused request and to a database that is away: JSON under /admin/api/,
an HTML page elsewhere."""

from __future__ import annotations

import logging

from flask import Response, jsonify, render_template

from consumer.admin import session
from consumer.admin.actions import BadRequest, UpstreamError
from consumer.admin.blueprint import admin_bp
from workers.domain.errors import NotFoundError
from workers.store.engine import DatabaseError

log = logging.getLogger(__name__)


def json_error(status: int, message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response


@admin_bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest) -> Response:
    if session.is_api():
        return json_error(400, str(exc))
    return Response(render_template("admin_error.html", message=str(exc)), status=400, mimetype="text/html")


@admin_bp.errorhandler(NotFoundError)
def _not_found(exc: NotFoundError) -> Response:
    if session.is_api():
        return json_error(404, str(exc))
    return Response(render_template("admin_error.html", message=str(exc)), status=404, mimetype="text/html")


@admin_bp.errorhandler(UpstreamError)
def _upstream(exc: UpstreamError) -> Response:
    if session.is_api():
        return json_error(502, str(exc))
    return Response(render_template("admin_error.html", message=str(exc)), status=502, mimetype="text/html")


@admin_bp.errorhandler(DatabaseError)
def _database_down(exc: DatabaseError) -> Response:
    log.error("admin: database error %s", type(exc).__name__)
    if session.is_api():
        return json_error(503, "database unavailable")
    return Response(
        render_template("admin_error.html", message="The database is unavailable."),
        status=503,
        mimetype="text/html",
    )
