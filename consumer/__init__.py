"""The web process: BigCommerce's webhook receiver, health, metrics (and the admin API and page).

`create_app()` reads like a table of contents; each step is a small named function. It refuses to
start (ConfigError) when a store has neither WEBHOOK_SECRET nor BIGCOMMERCE_CLIENT_SECRET, or when
ADMIN_TOKEN is set but shorter than 32 characters. Behind a reverse proxy (TRUSTED_PROXIES > 0, as
infra/web.py sets for its nginx) werkzeug's ProxyFix takes the client's address and scheme from that
many X-Forwarded-For/-Proto hops; otherwise those headers are ignored (a client could forge them).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable

from flask import Blueprint, Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from consumer import health, metrics
from consumer.errors import register_error_handlers
from consumer.runtime import attach_runtime
from consumer.webhooks import views as webhook_views
from workers.ops.observability import init_observability
from workers.settings import Settings, check_admin_token, check_webhook_auth, get_settings
from workers.tasks.wake import publish_flush


def create_app(settings: Settings | None = None, *, publish: Callable[[str], None] | None = None) -> Flask:
    settings = settings if settings is not None else get_settings()
    check_webhook_auth(settings)
    check_admin_token(settings)
    app = Flask(__name__)
    configure(app)
    trust_proxies(app, settings.trusted_proxies)
    init_observability(settings, component="web")
    runtime = attach_runtime(app, settings, publish or publish_flush)
    runtime.prepare_database()
    register_blueprints(app)
    register_error_handlers(app)
    return app


def configure(app: Flask) -> None:
    # One byte over the limit so that a body of exactly 64 KiB can be read to its end;
    # consumer.webhooks.views.read_body refuses anything over MAX_BODY itself, whatever Content-Length says.
    app.config["MAX_CONTENT_LENGTH"] = webhook_views.MAX_BODY + 1
    app.json.sort_keys = False  # type: ignore[attr-defined]


def trust_proxies(app: Flask, hops: int) -> None:
    """The client's address (request.remote_addr) and scheme as the `hops` proxies in front saw them."""
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def register_blueprints(app: Flask) -> None:
    for blueprint in (webhook_views.blueprint, health.blueprint, metrics.blueprint, *_admin_blueprints()):
        app.register_blueprint(blueprint)


def _admin_blueprints() -> list[Blueprint]:
    """The admin API and page (consumer/admin/, owned separately) expose `blueprint` when present."""
    if importlib.util.find_spec("consumer.admin") is None:
        return []
    admin = importlib.import_module("consumer.admin")
    found = getattr(admin, "blueprint", None)
    return [found] if isinstance(found, Blueprint) else []
