"""Every setting, read from the environment (and a `.env` file) in one place, defaults beside them.

A single store is configured with the BIGCOMMERCE_* / OMETRIA_* variables; several stores with a
STORES_FILE (TOML) holding one table per store hash. With no store hash at all the service runs
against the sandbox (simulated BigCommerce store and Ometria account on loopback) and says so.
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from dotenv import load_dotenv

log = logging.getLogger(__name__)

VAR_DIR = Path(os.environ.get("BCSYNC_VAR_DIR", "var"))

# The sandbox serves fixed, well-known credentials so that `make run` works with no setup.
SANDBOX_STORE_HASH = "sandbox1"
SANDBOX_ACCESS_TOKEN = "sandbox-access-token"  # noqa: S105 — public sandbox credential
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105
SANDBOX_WEBHOOK_SECRET = "sandbox-webhook-secret"  # noqa: S105
SANDBOX_OMETRIA_KEY = "sandbox-ometria-key"
SANDBOX_BC_PORT = 5101
SANDBOX_OMETRIA_PORT = 5102


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says what to set."""


@dataclass(frozen=True)
class StoreConfig:
    store_hash: str
    access_token: str = ""
    client_secret: str = ""
    webhook_secret: str = ""
    api_url: str = "https://api.bigcommerce.com"
    channel_id: int = 1
    ometria_api_key: str = ""
    ometria_api_url: str = "https://api.ometria.com"
    ometria_store_id: str = ""  # empty: the host name of the channel's site URL
    ometria_push_rate: float = 4.0
    rate_reserve: int = 10  # BigCommerce requests per window left for the store's other apps

    def __repr__(self) -> str:  # never print secrets
        return f"StoreConfig(store_hash={self.store_hash!r}, api_url={self.api_url!r})"

    @property
    def secrets(self) -> list[str]:
        return [
            s for s in (self.access_token, self.client_secret, self.webhook_secret, self.ometria_api_key) if s
        ]


@dataclass(frozen=True)
class Settings:
    stores: dict[str, StoreConfig]
    database_url: str
    broker_url: str
    admin_token: str = ""
    sentry_dsn: str = ""
    debounce_seconds: float = 2.0
    lease_seconds: float = 120.0
    max_wait_seconds: float = 30.0  # a store that never goes quiet is flushed after this anyway
    queue: str = "bcsync"
    sweep_seconds: float = 10.0  # flush whatever is dirty (lost wake-ups)
    reconcile_seconds: float = 300.0  # date_modified:min sweep (lost callbacks)
    hooks_check_seconds: float = 900.0  # re-activate deactivated hooks
    errors_seconds: float = 300.0  # file Ometria's asynchronous validation errors
    sandbox: bool = False
    var_dir: Path = field(default=VAR_DIR)

    def __repr__(self) -> str:
        return f"Settings(stores={list(self.stores)!r}, sandbox={self.sandbox})"

    def store(self, store_hash: str) -> StoreConfig | None:
        return self.stores.get(store_hash)

    @property
    def secrets(self) -> list[str]:
        out = [s for st in self.stores.values() for s in st.secrets]
        return out + [s for s in (self.admin_token,) if s]


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _store_from_env(store_hash: str, sandbox: bool) -> StoreConfig:
    if sandbox:
        return StoreConfig(
            store_hash=store_hash,
            access_token=SANDBOX_ACCESS_TOKEN,
            client_secret=SANDBOX_CLIENT_SECRET,
            webhook_secret=SANDBOX_WEBHOOK_SECRET,
            api_url=_env("BIGCOMMERCE_API_URL", f"http://127.0.0.1:{SANDBOX_BC_PORT}"),
            channel_id=int(_env("BIGCOMMERCE_CHANNEL_ID", "1")),
            ometria_api_key=SANDBOX_OMETRIA_KEY,
            ometria_api_url=_env("OMETRIA_API_URL", f"http://127.0.0.1:{SANDBOX_OMETRIA_PORT}"),
            ometria_store_id=_env("OMETRIA_STORE_ID"),
            ometria_push_rate=float(_env("OMETRIA_PUSH_RATE", "4")),
        )
    return StoreConfig(
        store_hash=store_hash,
        access_token=_env("BIGCOMMERCE_ACCESS_TOKEN"),
        client_secret=_env("BIGCOMMERCE_CLIENT_SECRET"),
        webhook_secret=_env("WEBHOOK_SECRET"),
        api_url=_env("BIGCOMMERCE_API_URL", "https://api.bigcommerce.com"),
        channel_id=int(_env("BIGCOMMERCE_CHANNEL_ID", "1")),
        ometria_api_key=_env("OMETRIA_API_KEY"),
        ometria_api_url=_env("OMETRIA_API_URL", "https://api.ometria.com"),
        ometria_store_id=_env("OMETRIA_STORE_ID"),
        ometria_push_rate=float(_env("OMETRIA_PUSH_RATE", "4")),
        rate_reserve=int(_env("BIGCOMMERCE_RATE_RESERVE", "10")),
    )


def _stores_from_file(path: Path) -> dict[str, StoreConfig]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"STORES_FILE {path}: {exc}") from exc
    stores = {}
    known = set(StoreConfig.__dataclass_fields__) - {"store_hash"}
    tables = data.get("stores", data)
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"STORES_FILE {path}: expected one [stores.<store hash>] table per store")
    for store_hash, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f"STORES_FILE {path}: [{store_hash}] must be a table")
        unknown = set(table) - known
        if unknown:
            raise ConfigError(f"STORES_FILE {path}: [{store_hash}] unknown keys {sorted(unknown)}")
        stores[store_hash] = StoreConfig(store_hash=store_hash, **table)
    return stores


def default_database_url(var_dir: Path) -> str:
    return f"sqlite:///{var_dir / 'bcsync.db'}"


def default_broker_url() -> str:
    # kombu's file-backed transport; its folders are set in workers.tasks.app beside the database
    return "filesystem://"


def broker_folder(settings: Settings) -> Path:
    """The embedded transport's folder, beside the SQLite database file (or in var/)."""
    url = settings.database_url
    base = Path(url.split("///", 1)[1]).parent if url.startswith("sqlite:///") else settings.var_dir
    return base / "broker"


def load_settings() -> Settings:
    load_dotenv(os.environ.get("BCSYNC_ENV_FILE", ".env"), override=False)
    var_dir = Path(_env("BCSYNC_VAR_DIR", "var"))
    stores_file = _env("STORES_FILE")
    store_hash = _env("BIGCOMMERCE_STORE_HASH")
    sandbox = False
    if stores_file:
        stores = _stores_from_file(Path(stores_file))
    elif store_hash:
        stores = {store_hash: _store_from_env(store_hash, sandbox=False)}
    else:
        sandbox = True
        stores = {SANDBOX_STORE_HASH: _store_from_env(SANDBOX_STORE_HASH, sandbox=True)}
    return Settings(
        stores=stores,
        database_url=_env("DATABASE_URL") or default_database_url(var_dir),
        broker_url=_env("CELERY_BROKER_URL") or default_broker_url(),
        admin_token=_env("ADMIN_TOKEN"),
        sentry_dsn=_env("SENTRY_DSN"),
        debounce_seconds=float(_env("SYNC_DEBOUNCE_SECONDS", "2")),
        lease_seconds=float(_env("SYNC_LEASE_SECONDS", "120")),
        max_wait_seconds=float(_env("SYNC_MAX_WAIT_SECONDS", "30")),
        queue=_env("BCSYNC_QUEUE", "bcsync"),
        sweep_seconds=float(_env("SYNC_SWEEP_SECONDS", "10")),
        reconcile_seconds=float(_env("SYNC_RECONCILE_SECONDS", "300")),
        hooks_check_seconds=float(_env("SYNC_HOOKS_CHECK_SECONDS", "900")),
        errors_seconds=float(_env("SYNC_ERRORS_SECONDS", "300")),
        sandbox=sandbox,
        var_dir=var_dir,
    )


def check_webhook_auth(settings: Settings) -> None:
    """The receiver refuses to start unless every store can authenticate its callbacks."""
    for st in settings.stores.values():
        if not (st.webhook_secret or st.client_secret):
            raise ConfigError(
                f"store {st.store_hash}: set WEBHOOK_SECRET or BIGCOMMERCE_CLIENT_SECRET "
                "(or both) so webhook callbacks can be authenticated"
            )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    settings = load_settings()
    if settings.sandbox:
        log.warning(
            "No BIGCOMMERCE_STORE_HASH set: running against the SANDBOX store %s "
            "(simulated BigCommerce at %s, simulated Ometria at %s). Set BigCommerce and Ometria "
            "credentials in .env to sync a real store.",
            SANDBOX_STORE_HASH,
            settings.stores[SANDBOX_STORE_HASH].api_url,
            settings.stores[SANDBOX_STORE_HASH].ometria_api_url,
        )
    return settings
