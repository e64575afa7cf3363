"""The control API under /_sandbox/ (never authenticated, rate-limited, faulted or counted)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

from sandbox.bigcommerce_api.http import SANDBOX_CLIENT_ID, destination_error, json_response
from sandbox.ratelimit import RateLimiter
from sandbox.store import CATALOG_SCOPES, Invalid, NotFound, Store, storefront_scopes


def register_control_routes(
    app: Flask, store: Store, limiter: RateLimiter, dispatcher: Any, client_id: str = SANDBOX_CLIENT_ID
) -> None:
    """/_sandbox/… on the BigCommerce server (faults and counters routes come from `sandbox.faults.install`):

    GET  /_sandbox/snapshot            every product (variants, images, custom fields), categories, brands,
                                       site_url, currency, store_hash
    POST /_sandbox/mutations           {"op": …} or {"ops": [...]} → {"events", "entity"} (or a list)
    POST /_sandbox/storm               sandbox.storm.run_storm arguments → its report
    GET  /_sandbox/events?since=N      callbacks fired (seq > N) and counts per scope
    GET|POST /_sandbox/ratelimit       plan / window_seconds / concurrency / quota
    GET|POST /_sandbox/config          latency_seconds, categories_in ("any" | "all"), access_token
    GET  /_sandbox/deliveries          dispatcher stats;  POST /_sandbox/deliveries/wait {"timeout"}
    GET  /_sandbox/hooks               every hook
    POST /_sandbox/hooks/register      {destination, scopes?, headers?}: one hook per catalogue scope
                                       (scopes "all": the catalogue's and every storefront scope)
    """
    from sandbox.storm import run_storm  # storm imports catalog only; imported late to keep this module light

    settings: dict[str, Any] = app.config.setdefault("SANDBOX_SETTINGS", {"latency_seconds": 0.0})

    def control_error(status: int, message: str) -> Response:
        return json_response({"error": message}, status)

    def body() -> dict:
        payload = request.get_json(silent=True)
        return payload if isinstance(payload, dict) else {}

    @app.get("/_sandbox/snapshot")
    def snapshot() -> Response:
        return json_response(store.snapshot())

    @app.post("/_sandbox/mutations")
    def mutations() -> Response:
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return control_error(400, 'expected a JSON object {"op": ...} or {"ops": [...]}')
        ops = payload.get("ops")
        try:
            if isinstance(ops, list):
                return json_response([store.apply(op).as_dict() for op in ops])
            return json_response(store.apply(payload).as_dict())
        except NotFound as exc:
            return control_error(404, f"not found: {exc}")
        except Invalid as exc:
            return control_error(409 if exc.conflict else 422, str(exc))

    @app.post("/_sandbox/storm")
    def storm() -> Response:
        try:
            return json_response(run_storm(store, **body()))
        except (TypeError, ValueError) as exc:
            return control_error(400, str(exc))

    @app.get("/_sandbox/events")
    def events() -> Response:
        since = int(request.args.get("since", 0))
        return json_response(
            {"events": store.events(since), "counts": store.event_counts(), "last_seq": store.last_event_seq}
        )

    @app.route("/_sandbox/ratelimit", methods=["GET", "POST"])
    def ratelimit() -> Response:
        if request.method == "GET":
            return json_response(limiter.state(store.store_hash))
        try:
            return json_response(limiter.configure(**body()))
        except (TypeError, ValueError) as exc:
            return control_error(400, str(exc))

    @app.route("/_sandbox/config", methods=["GET", "POST"])
    def config() -> Response:
        if request.method == "POST":
            changes = body()
            unknown = set(changes) - {"latency_seconds", "categories_in", "access_token"}
            if unknown:
                return control_error(400, f"unknown setting(s): {', '.join(sorted(unknown))}")
            if "categories_in" in changes:
                if changes["categories_in"] not in ("any", "all"):
                    return control_error(400, "categories_in must be 'any' or 'all'")
                store.categories_in = changes["categories_in"]
            if "latency_seconds" in changes:
                settings["latency_seconds"] = max(0.0, float(changes["latency_seconds"]))
            if "access_token" in changes:
                settings["access_token"] = str(changes["access_token"])
        return json_response(
            {"latency_seconds": settings.get("latency_seconds", 0.0), "categories_in": store.categories_in}
        )

    @app.get("/_sandbox/deliveries")
    def deliveries() -> Response:
        return json_response(dispatcher.stats() if dispatcher is not None else {})

    @app.post("/_sandbox/deliveries/wait")
    def deliveries_wait() -> Response:
        timeout = float(body().get("timeout", 30.0))
        idle = dispatcher.wait_idle(timeout) if dispatcher is not None else True
        return json_response({"idle": idle, **(dispatcher.stats() if dispatcher is not None else {})})

    @app.get("/_sandbox/hooks")
    def all_hooks() -> Response:
        return json_response(store.list_hooks())

    @app.post("/_sandbox/hooks/register")
    def register_hooks() -> Response:
        payload = body()
        destination = payload.get("destination")
        problem = destination_error(destination)
        if problem:
            return control_error(400, problem)
        scopes = payload.get("scopes") or list(CATALOG_SCOPES)
        if scopes == "all":  # the catalogue's and every storefront scope
            scopes = [*CATALOG_SCOPES, *storefront_scopes(store.channel_ids())]
        return json_response(
            register_hooks_for(store, str(destination), scopes, payload.get("headers"), client_id)
        )


def register_hooks_for(
    store: Store,
    destination: str,
    scopes: list[str],
    headers: dict[str, str] | None,
    client_id: str = SANDBOX_CLIENT_ID,
) -> list[dict]:
    """Create (or keep, if already there) one active hook per scope to `destination`."""
    out = []
    existing = {(h["scope"], h["destination"]): h for h in store.list_hooks(client_id)}
    for scope in scopes:
        hook = existing.get((scope, destination))
        if hook is None:
            hook = store.create_hook(client_id, scope, destination, True, headers)
        elif not hook["is_active"] or hook["headers"] != headers:
            hook = store.update_hook(hook["id"], client_id, is_active=True, headers=headers)
        out.append(hook)
    return out
