"""Preflight for `bcsync doctor`: configuration, database, broker, BigCommerce token and scopes,
hooks, Ometria key, and the running processes (liveness: a part silent past its threshold fails,
saying since when; a part never seen yet only warns, so the preflight passes before a first start)
— each a named check that passes, warns or fails with a one-line reason.

Every network call is short (a few seconds' timeout) and read-only; nothing here changes a store.
Details never contain secrets: URLs are shown without passwords, errors come from the clients,
which redact what servers echo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from workers.clients.bigcommerce import BigCommerceClient
from workers.clients.ometria import OmetriaClient
from workers.domain.errors import SyncError
from workers.settings import Settings, StoreConfig
from workers.store.engine import ping, safe_url
from workers.store.migrate import revisions, upgrade
from workers.sync import hooks as hookmod

OK, WARN, FAIL = "ok", "warn", "fail"
TIMEOUT = (3.0, 10.0)


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    store: str = ""


def safe_db_url(url: str) -> str:
    return safe_url(url)


def safe_broker_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path if parts.scheme != 'filesystem' else ''}"


def _attempt(name: str, store: str, call: Callable[[], str]) -> Check:
    try:
        return Check(name, OK, call(), store)
    except SyncError as exc:
        status = f"HTTP {exc.status}: " if exc.status else ""
        return Check(name, FAIL, f"{status}{exc}", store)


def check_configuration(settings: Settings) -> list[Check]:
    out = []
    mode = (
        "SANDBOX (no BIGCOMMERCE_STORE_HASH: the simulated store and Ometria on loopback)"
        if settings.sandbox
        else f"{len(settings.stores)} store(s): {', '.join(settings.stores)}"
    )
    out.append(Check("configuration", OK, mode))
    for sh, st in settings.stores.items():
        missing = [
            name
            for name, value in (
                ("BIGCOMMERCE_ACCESS_TOKEN", st.access_token),
                ("OMETRIA_API_KEY", st.ometria_api_key),
            )
            if not value
        ]
        out.append(
            Check(
                "credentials",
                FAIL if missing else OK,
                f"missing {', '.join(missing)}" if missing else "BigCommerce token and Ometria key set",
                sh,
            )
        )
        if st.webhook_secret and st.client_secret:
            auth = (
                OK,
                "custom header (WEBHOOK_SECRET) and Standard Webhooks signatures "
                "(BIGCOMMERCE_CLIENT_SECRET): both checked",
            )
        elif st.webhook_secret:
            auth = (OK, "custom header X-Webhook-Secret (WEBHOOK_SECRET)")
        elif st.client_secret:
            auth = (
                OK,
                "Standard Webhooks signatures (BIGCOMMERCE_CLIENT_SECRET), required on every callback",
            )
        else:
            auth = (
                FAIL,
                "neither WEBHOOK_SECRET nor BIGCOMMERCE_CLIENT_SECRET is set: the receiver will not start",
            )
        out.append(Check("webhook auth", auth[0], auth[1], sh))
    out.append(
        Check(
            "admin",
            OK if settings.admin_token else WARN,
            "ADMIN_TOKEN set: /admin enabled"
            if settings.admin_token
            else "ADMIN_TOKEN unset: the admin API and page are disabled",
        )
    )
    return out


def check_database(settings: Settings) -> list[Check]:
    url = settings.database_url
    shown = safe_db_url(url)
    try:
        ping(url)
    except Exception as exc:
        return [Check("database", FAIL, f"{shown} unreachable: {type(exc).__name__}")]
    try:
        before, head = revisions(url)
        if before != head:
            upgrade(url)
        after, head = revisions(url)
    except Exception as exc:
        return [Check("database", FAIL, f"{shown}: migration failed: {type(exc).__name__}: {exc}")]
    if after != head:
        return [Check("database", FAIL, f"{shown}: at revision {after}, head is {head}")]
    note = "" if before == head else f" (upgraded from {before or 'an empty database'})"
    return [Check("database", OK, f"{shown} reachable, at migration {head}{note}")]


def check_broker(settings: Settings) -> list[Check]:
    url = settings.broker_url
    if url.startswith("filesystem://"):
        from workers.settings import broker_folder

        folder = broker_folder(settings)
        try:
            for sub in ("queue", "processed"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            probe = folder / "queue" / ".doctor-probe"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            return [Check("broker", FAIL, f"embedded broker folder {folder} not writable: {exc.strerror}")]
        return [Check("broker", OK, f"embedded file-backed broker at {folder}")]
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=5)
    except Exception as exc:
        return [Check("broker", FAIL, f"{safe_broker_url(url)} unreachable: {type(exc).__name__}")]
    return [Check("broker", OK, f"{safe_broker_url(url)} reachable")]


def _site_check(bc: BigCommerceClient, channel: int) -> Callable[[], str]:
    return lambda: f"channel {channel} site is {bc.site_url(channel)}"


def storefront_scope_checks(bc: BigCommerceClient, store: StoreConfig) -> list[Check]:
    """One call each for the scopes the storefront features read (issue 12); a 403 names the scope
    to add to the store-level API account (BigCommerceClient's hints)."""
    sh, channels = store.store_hash, list(store.channel_ids)

    def trees() -> str:
        found = bc.channel_trees(channels)
        return f"GET /v3/catalog/trees answered ({len(found)} tree(s) for channel(s) {channels})"

    def currencies() -> str:
        codes = [str(c.get("currency_code")) for c in bc.currencies()]
        return f"GET /v2/currencies answered ({', '.join(codes) or 'none'})"

    def price_lists() -> str:
        found = bc.price_list_assignments(channels)
        return f"GET /v3/pricelists/assignments answered ({len(found)} assignment(s))"

    def metafields() -> str:
        page = next(iter(bc.product_metafields(list(store.metafield_namespaces))), [])
        return f"GET /v3/catalog/products/metafields answered ({len(page)} on the first page)"

    # one channel: the sync works without these (a lookup it may not read counts as none), so a
    # missing scope is a warning; several channels need them
    needed = len(channels) > 1
    out = [
        _attempt("scope: category trees", sh, trees),
        _attempt("scope: currencies", sh, currencies),
        _attempt("scope: price lists", sh, price_lists),
    ]
    out = [
        c
        if needed or c.status == OK
        else Check(c.name, WARN, c.detail + " (needed for several channels)", sh)
        for c in out
    ]
    if store.metafield_namespaces:
        out.append(_attempt("scope: metafields", sh, metafields))
    return out


def check_bigcommerce(store: StoreConfig, destination: str | None = None) -> list[Check]:
    sh = store.store_hash
    bc = BigCommerceClient(store, timeout=TIMEOUT)
    out = [_attempt("BigCommerce token", sh, lambda: f"GET /v2/store answered (currency {bc.currency()})")]
    if out[0].status == FAIL and "HTTP " not in out[0].detail.split(":", 1)[0]:
        return out + [Check("scopes and hooks", FAIL, "not checked: BigCommerce is not reachable", sh)]

    def products() -> str:
        page = next(iter(bc.iter_product_pages(include="", include_fields="id", page_size=1)), [])
        return "GET /v3/catalog/products answered" + ("" if page else " (the catalogue is empty)")

    out.append(_attempt("scope: products (read)", sh, products))
    hooks: list[dict[str, Any]] = []

    def list_hooks() -> str:
        hooks.extend(bc.list_hooks())
        return f"GET /v3/hooks answered ({len(hooks)} hook(s))"

    hooks_check = _attempt("scope: webhooks", sh, list_hooks)
    out.append(hooks_check)
    for channel in store.channel_ids:
        out.append(_attempt("scope: channels/sites", sh, _site_check(bc, channel)))
    out += storefront_scope_checks(bc, store)
    if hooks_check.status != OK:
        out.append(Check("hooks", FAIL, "cannot list hooks (see above)", sh))
        return out
    coverage = hookmod.hook_coverage(hooks, destination, store)
    missing = [c.scope for c in coverage if c.action == "missing"]
    inactive = [c.scope for c in coverage if c.action == "inactive"]
    where = f" for {destination}" if destination else ""
    if missing or inactive:
        parts = []
        if missing:
            parts.append(f"missing{where}: {', '.join(missing)}")
        if inactive:
            parts.append(f"deactivated: {', '.join(inactive)} (bcsync hooks check re-activates)")
        hint = "; run bcsync hooks register" if missing else ""
        out.append(Check("hooks", FAIL, "; ".join(parts) + hint, sh))
    else:
        out.append(Check("hooks", OK, f"all {len(coverage)} handled scopes have an active hook{where}", sh))
    return out


def check_ometria(store: StoreConfig) -> list[Check]:
    om = OmetriaClient(store, timeout=TIMEOUT)
    return [
        _attempt(
            "Ometria key",
            store.store_hash,
            lambda: f"GET /v2/push/_errors answered ({len(om.errors())} recent record error(s))",
        )
    ]


LIVENESS_WARN_ONLY = ("quota",)  # a low quota slows flushes; nothing is silent
LIVENESS_SKIPPED = ("hooks",)  # the hooks check above asks BigCommerce itself


def check_liveness(settings: Settings) -> list[Check]:
    from workers.domain.health import NEVER, UNHEALTHY, iso
    from workers.ops.liveness import read_health

    try:
        health = read_health(settings)
    except Exception as exc:
        return [Check("liveness", FAIL, f"heartbeats not readable: {type(exc).__name__}")]
    out = []
    rows = [("", c) for c in health.parts] + [(s.store, c) for s in health.stores for c in s.checks]
    for store, c in rows:
        if c.name in LIVENESS_SKIPPED:
            continue
        name = f"liveness: {c.name}"
        if c.state == UNHEALTHY:
            since = f" — silent since {iso(c.last)}" if c.last else ""
            status = WARN if c.name in LIVENESS_WARN_ONLY else FAIL
            out.append(Check(name, status, f"{c.detail}{since}", store))
        elif c.state == NEVER:
            out.append(Check(name, WARN if c.name in ("worker", "beat") else OK, c.detail, store))
        else:
            out.append(Check(name, OK, c.detail, store))
    return out


def run_checks(settings: Settings) -> list[Check]:
    out = check_configuration(settings) + check_database(settings) + check_broker(settings)
    out += check_liveness(settings)
    public = settings.public_url.strip()
    destination = hookmod.default_destination(public) if public else None
    for store in settings.stores.values():
        out += check_bigcommerce(store, destination)
        out += check_ometria(store)
    return out
