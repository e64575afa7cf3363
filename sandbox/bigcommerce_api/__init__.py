"""The simulated BigCommerce REST API (Flask), over a `sandbox.store.Store`, on loopback.

Serves `/stores/<hash>/v3/...` (catalogue, channels, hooks, storefront tokens) and `/stores/<hash>/v2/store`
with BigCommerce's shapes (checked against the official OpenAPI specs by
tests/integration/test_sandbox_openapi.py), its auth (`X-Auth-Token`; 401), unknown store (404), error
bodies, pagination, rate limiting (`sandbox.ratelimit`: headers on every response, 429) and fault injection
(`sandbox.faults`).

One blueprint per API section:
| module           | routes                                                                         |
|------------------|--------------------------------------------------------------------------------|
| gate.py          | (every request) store hash, auth, rate limit, latency, error bodies            |
| products.py      | /v3/catalog/products, /v3/catalog/products/{id}                                |
| product_parts.py | variants, images, custom fields of a product; /catalog/products/category-assignments |
| categories.py    | /v3/catalog/trees[/{id}/categories], /trees/categories, /catalog/categories, brands |
| channels.py      | /v3/channels[/{id}[/site|/currency-assignments]], /v3/sites                    |
| currencies.py    | /v2/currencies, /v2/currencies/{id}                                            |
| assignments.py   | /v3/catalog/products/channel-assignments (GET, PUT, DELETE)                    |
| metafields.py    | /v3/catalog/products/{id}/metafields[/{id}], /v3/catalog/products/metafields   |
| price_lists.py   | /v3/pricelists[/{id}], /v3/pricelists/assignments, /v3/pricelists/{id}/assignments |
| price_records.py | /v3/pricelists/{id}/records[/{variant_id}[/{currency}]]                        |
| store_info.py    | /v2/store, /v2/time                                                            |
| hooks.py         | /v3/hooks, /v3/hooks/{id}, /v3/hooks/admin                                     |
| storefront.py    | /v3/storefront/api-token                                                       |
| control.py       | /_sandbox/… (see `register_control_routes`; `sandbox.client.SandboxClient`)    |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response

from sandbox.bigcommerce_api.assignments import assignments_blueprint
from sandbox.bigcommerce_api.categories import categories_blueprint
from sandbox.bigcommerce_api.channels import channels_blueprint
from sandbox.bigcommerce_api.control import register_control_routes, register_hooks_for
from sandbox.bigcommerce_api.currencies import currencies_blueprint
from sandbox.bigcommerce_api.gate import install_gate
from sandbox.bigcommerce_api.hooks import hooks_blueprint
from sandbox.bigcommerce_api.http import SANDBOX_CLIENT_ID, endpoint_name, error_response
from sandbox.bigcommerce_api.metafields import metafields_blueprint
from sandbox.bigcommerce_api.price_lists import price_lists_blueprint
from sandbox.bigcommerce_api.price_records import price_records_blueprint
from sandbox.bigcommerce_api.product_parts import product_parts_blueprint
from sandbox.bigcommerce_api.products import products_blueprint
from sandbox.bigcommerce_api.store_info import store_info_blueprint
from sandbox.bigcommerce_api.storefront import storefront_blueprint
from sandbox.faults import Counters, Faults, install
from sandbox.ratelimit import RateLimiter
from sandbox.store import Store
from workers.settings import SANDBOX_ACCESS_TOKEN, SANDBOX_CLIENT_SECRET

__all__ = ["SANDBOX_CLIENT_ID", "create_bigcommerce_app", "register_control_routes", "register_hooks_for"]


def create_bigcommerce_app(
    store: Store,
    limiter: RateLimiter,
    dispatcher: Any,
    faults: Faults,
    counters: Counters,
    access_token: str = SANDBOX_ACCESS_TOKEN,
    client_id: str = SANDBOX_CLIENT_ID,
    client_secret: str = SANDBOX_CLIENT_SECRET,
    control_extras: Callable[[Flask], None] | None = None,
) -> Flask:
    """The BigCommerce API app. `dispatcher` (a HookDispatcher, or None) only feeds the control routes and
    /hooks/admin; callbacks flow from `store` listeners. `control_extras(app)` may add more control routes."""
    app = Flask("sandbox.bigcommerce")
    settings: dict[str, Any] = {"latency_seconds": 0.0, "access_token": access_token}
    app.config["SANDBOX_SETTINGS"] = settings
    install(app, faults, counters, endpoint_name)
    install_gate(app, store, limiter, settings)
    for blueprint in (
        products_blueprint(store),
        product_parts_blueprint(store),
        categories_blueprint(store),
        channels_blueprint(store),
        currencies_blueprint(store),
        assignments_blueprint(store),
        metafields_blueprint(store),
        price_lists_blueprint(store),
        price_records_blueprint(store),
        store_info_blueprint(store, limiter),
        hooks_blueprint(store, dispatcher, client_id),
        storefront_blueprint(store, client_id, client_secret),
    ):
        app.register_blueprint(blueprint)

    @app.route("/stores/<store_hash>/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def unknown(store_hash: str, rest: str) -> Response:
        """Anything else under a store: 404."""
        return error_response(404, "The requested resource was not found.", v2=rest.startswith("v2/"))

    register_control_routes(app, store, limiter, dispatcher, client_id)
    if control_extras is not None:
        control_extras(app)
    return app
