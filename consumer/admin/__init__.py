"""The admin API (/admin/api/…, JSON) and page (/admin/, server-rendered HTML) for ops and support:
status, the failed-task list (replay, discard) and resyncs. Thin glue over workers.store.failures.

Auth: `Authorization: Bearer $ADMIN_TOKEN` (compared in constant time). With ADMIN_TOKEN unset the
whole admin answers 404. A browser cannot send a bearer header by itself, so the page also has a
login form: the token posted once buys a signed session cookie (HttpOnly, SameSite=Strict, Secure
over https, path /admin, 12 h). The cookie holds only a random CSRF token and a timestamp, signed
(itsdangerous, as Flask's own session) with a key derived from ADMIN_TOKEN by HMAC — never the
token — so rotating ADMIN_TOKEN ends every session. Page actions are POST forms carrying that CSRF
token; the JSON API takes only the bearer header, which a foreign site cannot make a browser send.

Nothing here renders a secret: responses are additionally scrubbed of every configured secret.

One blueprint (blueprint), its auth and response hardening (session), the actions the API and the
page share (actions), their error pages (errors), the JSON API (api) and the HTML page (views).
"""

from __future__ import annotations

from consumer.admin import (  # noqa: F401 — importing a module registers its routes
    api,
    errors,
    liveness,
    session,
    views,
)
from consumer.admin.blueprint import COOKIE, admin_bp

blueprint = admin_bp  # consumer.create_app registers `consumer.admin.blueprint` when present

__all__ = ["COOKIE", "admin_bp", "blueprint"]
