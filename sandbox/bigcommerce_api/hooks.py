"""/v3/hooks (create, list, read, update, delete) and /v3/hooks/admin."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, request

from sandbox.bigcommerce_api.http import (
    V3,
    ApiError,
    body_object,
    bool_arg,
    destination_error,
    json_response,
    page_args,
    paged,
    pagination,
)
from sandbox.store import Invalid, NotFound, Store


def hooks_blueprint(store: Store, dispatcher: Any, client_id: str) -> Blueprint:
    bp = Blueprint("hooks", __name__, url_prefix=V3)

    def hook_fields(body: dict, creating: bool) -> dict:
        errors: dict[str, str] = {}
        out: dict[str, Any] = {}
        if "scope" in body or creating:
            scope = body.get("scope")
            if not isinstance(scope, str) or not scope.startswith("store/"):
                errors["scope"] = "error.path.missing." if scope is None else "scope is invalid"
            else:
                out["scope"] = scope
        if "destination" in body or creating:
            problem = destination_error(body.get("destination"))
            if problem:
                errors["destination"] = problem
            else:
                out["destination"] = body["destination"]
        if "is_active" in body:
            if not isinstance(body["is_active"], bool):
                errors["is_active"] = "must be a boolean"
            else:
                out["is_active"] = body["is_active"]
        if "headers" in body:
            headers = body["headers"]
            if headers is not None and (
                not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values())
            ):
                errors["headers"] = "must be an object of strings"
            else:
                out["headers"] = headers
        if errors:
            raise ApiError(422, "JSON data is missing or invalid", errors)
        return out

    @bp.post("/hooks")
    def create_hook(store_hash: str) -> Response:
        fields = hook_fields(body_object(), creating=True)
        try:
            hook = store.create_hook(
                client_id,
                fields["scope"],
                fields["destination"],
                fields.get("is_active", True),
                fields.get("headers"),
            )
        except Invalid as exc:  # one hook per store + client + scope + destination
            raise ApiError(422, str(exc), exc.errors) from None
        return json_response({"data": hook, "meta": {}})

    @bp.get("/hooks")
    def list_hooks(store_hash: str) -> Response:
        hooks = store.list_hooks(client_id)
        active = bool_arg("is_active")
        if active is not None:
            hooks = [h for h in hooks if h["is_active"] == active]
        for key in ("scope", "destination"):
            if request.args.get(key):
                hooks = [h for h in hooks if h[key] == request.args[key]]
        return paged(hooks)

    @bp.get("/hooks/admin")
    def hooks_admin(store_hash: str) -> Response:
        hooks = store.inactive_hooks(client_id)
        active = bool_arg("is_active")
        if active is not None:
            hooks = [h for h in hooks if h["is_active"] == active]
        blocked = []
        if dispatcher is not None:
            until = getattr(dispatcher, "_blocked_until", {})
            now = time.monotonic()
            for host in dispatcher.stats().get("blocked_hosts", []):
                destinations = sorted(
                    {
                        h["destination"]
                        for h in store.list_hooks(client_id)
                        if (urlsplit(h["destination"]).hostname or "") == host
                    }
                )
                blocked.append(
                    {
                        "destination": destinations[0] if destinations else f"https://{host}",
                        "time_left": max(0, int(until.get(host, now) - now)),
                        "reasons": [
                            {
                                "failure_description": "success ratio under 90%",
                                "count": 1,
                                "timestamp": int(store.clock()),
                            }
                        ],
                    }
                )
        page, limit = page_args()
        chunk = hooks[(page - 1) * limit : page * limit]
        return json_response(
            {
                "data": {"emails": [], "hooks_list": chunk, "blocked_domains": blocked},
                "meta": pagination(len(hooks), len(chunk), page, limit),
            }
        )

    @bp.get("/hooks/<int:hook_id>")
    def get_hook(store_hash: str, hook_id: int) -> Response:
        try:
            return json_response({"data": store.get_hook(hook_id, client_id), "meta": {}})
        except NotFound:
            raise ApiError(404, f"Webhook with id [{hook_id}] not found") from None

    @bp.put("/hooks/<int:hook_id>")
    def update_hook(store_hash: str, hook_id: int) -> Response:
        fields = hook_fields(body_object(), creating=False)
        try:
            return json_response({"data": store.update_hook(hook_id, client_id, **fields), "meta": {}})
        except NotFound:
            raise ApiError(404, f"Webhook with id [{hook_id}] not found") from None
        except Invalid as exc:
            raise ApiError(422, str(exc), exc.errors) from None

    @bp.delete("/hooks/<int:hook_id>")
    def delete_hook(store_hash: str, hook_id: int) -> Response:
        try:
            return json_response({"data": store.delete_hook(hook_id, client_id), "meta": {}})
        except NotFound:
            raise ApiError(404, f"Webhook with id [{hook_id}] not found") from None

    return bp
