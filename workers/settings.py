"""Every setting, read from the environment (and a `.env` file) in one place, defaults beside them.

The `.env` file read is the project directory's (the folder holding `workers/`), or the file named by
BCSYNC_ENV_FILE — never one in the current directory, which may be anybody's — and only for the
variables defined here (`Environment`): it never sets HTTPS_PROXY, REQUESTS_CA_BUNDLE or anything
else in the process's environment. Variables already set in the environment win over the file.

A single store is configured with the BIGCOMMERCE_* / OMETRIA_* variables; several stores with a
STORES_FILE (TOML) holding one table per store hash. With no store hash at all the service runs
against the sandbox (simulated BigCommerce store and Ometria account on loopback) and says so.

`Environment` (pydantic-settings) types and validates every variable once, when the settings are
loaded: a bad value is a one-line ConfigError naming the variable and the value it got. `Settings`
and `StoreConfig` are what the rest of the code uses (frozen; their reprs never show a secret).
`ENVIRONMENT` lists every variable the service and its Procfiles read, with default and meaning.
No other module in workers/ or consumer/ reads the environment.

The value parsers, `Environment` / `ENVIRONMENT` and `StoreConfig` live in `workers/config/`
(`types`, `environment`, `stores`); every one of their public names is re-exported here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

# Every name below is re-exported: `workers.settings` stays the one import path for settings.
from workers.config.environment import ENVIRONMENT as ENVIRONMENT
from workers.config.environment import SANDBOX_BC_PORT as SANDBOX_BC_PORT
from workers.config.environment import SANDBOX_OMETRIA_PORT as SANDBOX_OMETRIA_PORT
from workers.config.environment import Environment as Environment
from workers.config.environment import Variable as Variable
from workers.config.stores import SANDBOX_ACCESS_TOKEN as SANDBOX_ACCESS_TOKEN
from workers.config.stores import SANDBOX_CLIENT_SECRET as SANDBOX_CLIENT_SECRET
from workers.config.stores import SANDBOX_OMETRIA_KEY as SANDBOX_OMETRIA_KEY
from workers.config.stores import SANDBOX_STORE_HASH as SANDBOX_STORE_HASH
from workers.config.stores import SANDBOX_WEBHOOK_SECRET as SANDBOX_WEBHOOK_SECRET
from workers.config.stores import StoreConfig as StoreConfig
from workers.config.stores import _store_from_env, _stores_from_file
from workers.config.types import DATABASE_SCHEMES as DATABASE_SCHEMES
from workers.config.types import ConfigError as ConfigError
from workers.config.types import DatabaseUrl as DatabaseUrl
from workers.config.types import Number as Number
from workers.config.types import Port as Port
from workers.config.types import PositiveNumber as PositiveNumber
from workers.config.types import PublicUrl as PublicUrl
from workers.config.types import Text as Text
from workers.config.types import Whole as Whole

log = logging.getLogger(__name__)

VAR_DIR = Path(os.environ.get("BCSYNC_VAR_DIR", "var"))
PROJECT_DIR = Path(__file__).resolve().parent.parent
"""The project directory: the folder holding `workers/` — the repository with an editable install
(`make install`); for an installed package (the Docker image) its site-packages, where no .env
is expected: there the configuration comes from the environment, or from BCSYNC_ENV_FILE."""

# The hosts a real store's API URLs are expected to name (https); anything else is warned about.
OFFICIAL_HOSTS = {"BIGCOMMERCE_API_URL": "api.bigcommerce.com", "OMETRIA_API_URL": "api.ometria.com"}

ADMIN_TOKEN_MIN_LENGTH = 32  # characters: a guess must be hopeless even without the throttle


@dataclass(frozen=True)
class Settings:
    stores: dict[str, StoreConfig]
    database_url: str
    broker_url: str
    admin_token: str = ""
    metrics_token: str = ""  # bearer token for GET /metrics; unset: loopback clients only
    sentry_dsn: str = ""
    debounce_seconds: float = 2.0
    lease_seconds: float = 120.0
    max_wait_seconds: float = 30.0  # a store that never goes quiet is flushed after this anyway
    queue: str = "bcsync"
    sweep_seconds: float = 10.0  # flush whatever is dirty (lost wake-ups)
    reconcile_seconds: float = 300.0  # date_modified:min sweep (lost callbacks)
    hooks_check_seconds: float = 900.0  # re-activate deactivated hooks
    errors_seconds: float = 300.0  # file Ometria's asynchronous validation errors
    rolling_hours: float = 6.0  # the rolling resync refetches every product at least this often
    rolling_share: float = 0.2  # ... within this share of the quota left after the reserve
    heartbeat_seconds: float = 10.0  # how often each worker and beat records a sign of life
    alert_webhook_url: str = ""  # where incident and recovery messages are POSTed (JSON)
    sandbox: bool = False
    var_dir: Path = field(default=VAR_DIR)
    public_url: str = ""  # this service's https base URL (bcsync hooks register, doctor, admin redirects)
    trusted_proxies: int = 0  # reverse proxies in front of the web process whose X-Forwarded-* to believe
    log_level: str = "INFO"
    sentry_environment: str = "production"
    # prometheus_client itself reads PROMETHEUS_MULTIPROC_DIR when it is imported; Settings built in
    # code (tests) take the same value, so /metrics always agrees with how the library counts.
    events_retention_days: float = 7.0  # the event log's rows are pruned after this
    database_url_named: bool = True  # DATABASE_URL set (False: the embedded default under BCSYNC_VAR_DIR)
    prometheus_multiproc_dir: str = field(
        default_factory=lambda: os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    )

    def __repr__(self) -> str:
        return f"Settings(stores={list(self.stores)!r}, sandbox={self.sandbox})"

    def store(self, store_hash: str) -> StoreConfig | None:
        return self.stores.get(store_hash)

    @property
    def secrets(self) -> list[str]:
        out = [s for st in self.stores.values() for s in st.secrets]
        return out + [s for s in (self.admin_token, self.metrics_token, self.alert_webhook_url) if s]


def env_file_path() -> Path:
    """The .env file to read: BCSYNC_ENV_FILE (from the real environment) or the project directory's."""
    named = os.environ.get("BCSYNC_ENV_FILE", "").strip()
    return Path(named).expanduser() if named else PROJECT_DIR / ".env"


def read_environment() -> Environment:
    """The environment (and the .env file), typed; a ConfigError (one line) names each variable with a
    bad value."""
    try:
        return Environment(_env_file=env_file_path(), _env_file_encoding="utf-8")
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            name = ".".join(str(part) for part in error["loc"])
            reason = str(error["msg"]).removeprefix("Value error, ")
            if name.endswith("_URL"):  # a URL may carry a password: never echoed
                problems.append(f"{name}: {reason}")
            else:
                problems.append(f"{name}={error['input']!r}: {reason}")
        raise ConfigError("invalid environment: " + "; ".join(problems)) from None


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
    _note_ignored_dotenv()
    env = read_environment()
    var_dir = Path(env.BCSYNC_VAR_DIR)
    sandbox = False
    if env.STORES_FILE:
        stores = _stores_from_file(Path(env.STORES_FILE))
    elif env.BIGCOMMERCE_STORE_HASH:
        store_hash = env.BIGCOMMERCE_STORE_HASH
        stores = {store_hash: _store_from_env(env, store_hash, sandbox=False)}
    else:
        sandbox = True
        stores = {SANDBOX_STORE_HASH: _store_from_env(env, SANDBOX_STORE_HASH, sandbox=True)}
    if not sandbox:
        warn_about_api_urls(stores, from_file=bool(env.STORES_FILE))
    settings = Settings(
        stores=stores,
        database_url=env.DATABASE_URL or default_database_url(var_dir),
        broker_url=env.CELERY_BROKER_URL or default_broker_url(),
        admin_token=env.ADMIN_TOKEN,
        metrics_token=env.METRICS_TOKEN,
        sentry_dsn=env.SENTRY_DSN,
        debounce_seconds=env.SYNC_DEBOUNCE_SECONDS,
        lease_seconds=env.SYNC_LEASE_SECONDS,
        max_wait_seconds=env.SYNC_MAX_WAIT_SECONDS,
        queue=env.BCSYNC_QUEUE,
        sweep_seconds=env.SYNC_SWEEP_SECONDS,
        reconcile_seconds=env.SYNC_RECONCILE_SECONDS,
        hooks_check_seconds=env.SYNC_HOOKS_CHECK_SECONDS,
        errors_seconds=env.SYNC_ERRORS_SECONDS,
        rolling_hours=env.SYNC_ROLLING_HOURS,
        rolling_share=env.SYNC_ROLLING_SHARE,
        heartbeat_seconds=env.BCSYNC_HEARTBEAT_SECONDS,
        alert_webhook_url=env.ALERT_WEBHOOK_URL,
        sandbox=sandbox,
        var_dir=var_dir,
        public_url=env.PUBLIC_URL,
        trusted_proxies=env.TRUSTED_PROXIES,
        events_retention_days=env.EVENTS_RETENTION_DAYS,
        database_url_named=bool(env.DATABASE_URL),
        log_level=env.LOG_LEVEL,
        sentry_environment=env.SENTRY_ENVIRONMENT,
        # from the process's environment only, as prometheus_client reads it (a .env never reaches it)
        prometheus_multiproc_dir=os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip(),
    )
    check_admin_token(settings)
    return settings


def check_admin_token(settings: Settings) -> None:
    """An admin token, when set, is long enough that guessing it is hopeless (never shown here)."""
    token = settings.admin_token
    if token and len(token) < ADMIN_TOKEN_MIN_LENGTH:
        raise ConfigError(
            f"ADMIN_TOKEN is {len(token)} characters long; it must have at least {ADMIN_TOKEN_MIN_LENGTH} "
            "(generate one: python -c 'import secrets; print(secrets.token_urlsafe(32))'), "
            "or leave it unset to disable the admin page"
        )


_warned: set[str] = set()


def _warn_once(key: str, message: str, *args: Any) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message, *args)


def _note_ignored_dotenv() -> None:
    """Say (once) that a .env in the current directory is not the one read."""
    try:
        here = Path.cwd() / ".env"
        ignored = here.is_file() and here.resolve() != env_file_path().resolve()
    except OSError:
        return
    if ignored:
        _warn_once(
            "dotenv",
            "%s is not read: only the project directory's .env (%s) or the file named by BCSYNC_ENV_FILE is",
            here,
            PROJECT_DIR / ".env",
        )


def url_problem(url: str, official_host: str) -> str | None:
    """Why an API URL is not the official one (None when it is: https on the official host)."""
    try:
        parts = urlsplit(url.strip())
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return "is not a URL"
    if parts.scheme != "https":
        return "is not https"
    if host != official_host or port not in (None, 443):
        return f"does not name {official_host}"
    return None


def warn_about_api_urls(stores: Mapping[str, StoreConfig], *, from_file: bool) -> None:
    """Outside the sandbox, a warning (once per process and setting) for every API URL that is not https
    on the official host: the store's token would travel there. It names the setting, never a value."""
    for store in stores.values():
        for variable, field_name, url in (
            ("BIGCOMMERCE_API_URL", "api_url", store.api_url),
            ("OMETRIA_API_URL", "ometria_api_url", store.ometria_api_url),
        ):
            problem = url_problem(url, OFFICIAL_HOSTS[variable])
            if problem is None:
                continue
            name = f"STORES_FILE [stores.{store.store_hash}] {field_name}" if from_file else variable
            _warn_once(
                f"{name}|{url}",
                "%s %s: the store's credentials are sent there (expected https://%s)",
                name,
                problem,
                OFFICIAL_HOSTS[variable],
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
