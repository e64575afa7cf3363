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
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, NamedTuple
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

log = logging.getLogger(__name__)

VAR_DIR = Path(os.environ.get("BCSYNC_VAR_DIR", "var"))
PROJECT_DIR = Path(__file__).resolve().parent.parent
"""The project directory: the folder holding `workers/` — the repository with an editable install
(`make install`); for an installed package (the Docker image) its site-packages, where no .env
is expected: there the configuration comes from the environment, or from BCSYNC_ENV_FILE."""

# The hosts a real store's API URLs are expected to name (https); anything else is warned about.
OFFICIAL_HOSTS = {"BIGCOMMERCE_API_URL": "api.bigcommerce.com", "OMETRIA_API_URL": "api.ometria.com"}

# The sandbox serves fixed, well-known credentials so that `make run` works with no setup.
SANDBOX_STORE_HASH = "sandbox1"
SANDBOX_ACCESS_TOKEN = "sandbox-access-token"  # noqa: S105 — public sandbox credential
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105
SANDBOX_WEBHOOK_SECRET = "sandbox-webhook-secret"  # noqa: S105
SANDBOX_OMETRIA_KEY = "sandbox-ometria-key"
SANDBOX_BC_PORT = 5101
SANDBOX_OMETRIA_PORT = 5102
ADMIN_TOKEN_MIN_LENGTH = 32  # characters: a guess must be hopeless even without the throttle


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
    # storefront channels to sync, the first the primary; empty: (channel_id,)
    channel_ids: tuple[int, ...] = ()
    # Ometria store id per channel; a channel not named: its site's host name
    ometria_store_ids: Mapping[int, str] = field(default_factory=dict)
    metafield_namespaces: tuple[str, ...] = ()  # product metafield namespaces copied into properties

    def __post_init__(self) -> None:
        channels = tuple(int(c) for c in self.channel_ids) or (int(self.channel_id),)
        if len(set(channels)) != len(channels) or any(c <= 0 for c in channels):
            raise ConfigError(f"store {self.store_hash}: channel ids must be distinct positive numbers")
        object.__setattr__(self, "channel_ids", channels)
        object.__setattr__(self, "channel_id", channels[0])
        ids = {int(k): str(v).strip() for k, v in dict(self.ometria_store_ids).items() if str(v).strip()}
        object.__setattr__(self, "ometria_store_ids", ids)
        spaces = tuple(dict.fromkeys(str(n).strip() for n in self.metafield_namespaces if str(n).strip()))
        object.__setattr__(self, "metafield_namespaces", spaces)

    def store_id_for(self, channel_id: int) -> str:
        """The configured Ometria store id of a channel ("" = its site's host name). The primary
        channel also takes OMETRIA_STORE_ID, as before."""
        named = self.ometria_store_ids.get(channel_id, "")
        if not named and channel_id == self.channel_ids[0]:
            return self.ometria_store_id
        return named

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


def _text(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _number(value: Any) -> Any:
    """float() as before (so "2", " 2.5 ", "1e3" keep working); the error says what was wrong."""
    try:
        return float(_text(value))
    except (TypeError, ValueError):
        raise ValueError("not a number") from None


def _whole(value: Any) -> Any:
    """int() as before."""
    try:
        return int(_text(value))
    except (TypeError, ValueError):
        raise ValueError("not a whole number") from None


def _public_url(value: Any) -> Any:
    """Empty, or an http(s) URL with a host and no query or fragment; kept without a trailing slash."""
    text = _text(value)
    if not text:
        return ""
    if not isinstance(text, str):
        raise ValueError("not a URL")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("must be an http(s) URL such as https://sync.example.com")
    return text.rstrip("/")


Text = Annotated[str, BeforeValidator(_text)]
PublicUrl = Annotated[str, BeforeValidator(_public_url)]


def _positive(value: Any) -> Any:
    number = _number(value)
    if not number > 0:
        raise ValueError("must be above 0")
    return number


def _port(value: Any) -> Any:
    number = _whole(value)
    if not 0 <= number <= 65535:
        raise ValueError("not a port (0..65535)")
    return number


DATABASE_SCHEMES = ("sqlite:///PATH", "postgresql://…", "postgres://…", "postgresql+psycopg://…")


def _database_url(value: Any) -> Any:
    """Empty (the embedded default) or a URL of a database the service supports."""
    url = _text(value)
    if url and not (
        url.startswith(("sqlite:///", "postgresql://", "postgres://", "postgresql+psycopg://"))
        or url == "sqlite://"
    ):
        scheme = url.split(":", 1)[0] if ":" in url else url
        raise ValueError(f"unsupported scheme {scheme!r}; supported: {', '.join(DATABASE_SCHEMES)}")
    return url


def _channel_list(value: Any) -> Any:
    """ "1, 2" -> (1, 2); empty -> ()."""
    if isinstance(value, (list, tuple)):
        return tuple(_whole(v) for v in value)
    parts = [p.strip() for p in str(_text(value) or "").split(",") if p.strip()]
    try:
        out = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError("not a comma-separated list of channel ids") from None
    if any(c <= 0 for c in out) or len(set(out)) != len(out):
        raise ValueError("channel ids must be distinct positive numbers")
    return out


def _store_id_map(value: Any) -> Any:
    """ "1=www.example.co.uk,2=www.example.fr" -> {1: "www.example.co.uk", 2: "www.example.fr"}."""
    if isinstance(value, dict):
        return {_whole(k): str(v) for k, v in value.items()}
    out: dict[int, str] = {}
    for part in (p.strip() for p in str(_text(value) or "").split(",")):
        if not part:
            continue
        channel, sep, store = part.partition("=")
        if not sep or not channel.strip().isdigit() or not store.strip():
            raise ValueError("expected channel=store id pairs, e.g. 1=www.example.co.uk,2=www.example.fr")
        out[int(channel)] = store.strip()
    return out


def _names(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(p.strip() for p in str(_text(value) or "").split(",") if p.strip())


PositiveNumber = Annotated[float, BeforeValidator(_positive)]
Port = Annotated[int, BeforeValidator(_port)]
DatabaseUrl = Annotated[str, BeforeValidator(_database_url)]
Number = Annotated[float, BeforeValidator(_number)]
Whole = Annotated[int, BeforeValidator(_whole)]


class Environment(BaseSettings):
    """Every variable the Python code reads, typed. A field's name is the variable's name; None means
    unset, where the default depends on other variables (the sandbox's loopback URLs)."""

    # A .env file (env_file_path(), given when loading) is read for these fields only: nothing else in it
    # is kept, and nothing of it goes into os.environ.
    model_config = SettingsConfigDict(
        case_sensitive=True, extra="ignore", frozen=True, dotenv_filtering="only_existing"
    )

    BIGCOMMERCE_STORE_HASH: Text = Field("", description="store hash (from the API path); unset: the sandbox")
    BIGCOMMERCE_ACCESS_TOKEN: Text = Field("", description="store-level API account token")
    BIGCOMMERCE_CLIENT_SECRET: Text = Field("", description="verifies Standard Webhooks signatures")
    BIGCOMMERCE_API_URL: Text | None = Field(
        None, description="API host; default https://api.bigcommerce.com (sandbox: http://127.0.0.1:5101)"
    )
    BIGCOMMERCE_CHANNEL_ID: Whole = Field(1, description="storefront channel for URLs")
    BIGCOMMERCE_RATE_RESERVE: Whole = Field(
        10, description="requests per window left for the store's other apps"
    )
    WEBHOOK_SECRET: Text = Field("", description="value of the X-Webhook-Secret header put on every hook")
    BIGCOMMERCE_CHANNEL_IDS: Annotated[tuple[int, ...], NoDecode, BeforeValidator(_channel_list)] = Field(
        (),
        description="storefront channels to sync, comma-separated; the first is the primary; "
        "default BIGCOMMERCE_CHANNEL_ID",
    )
    BIGCOMMERCE_METAFIELD_NAMESPACES: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_names)] = Field(
        (), description="product metafield namespaces copied into properties, comma-separated"
    )
    OMETRIA_API_KEY: Text = Field("", description="push API key")
    OMETRIA_API_URL: Text | None = Field(
        None, description="API host; default https://api.ometria.com (sandbox: http://127.0.0.1:5102)"
    )
    OMETRIA_STORE_ID: Text = Field("", description="listing store id; default the channel site's host name")
    OMETRIA_STORE_IDS: Annotated[dict[int, str], NoDecode, BeforeValidator(_store_id_map)] = Field(
        default_factory=dict,
        description="Ometria store id per channel, 1=www.example.co.uk,2=www.example.fr; "
        "default each channel site's host name",
    )
    OMETRIA_PUSH_RATE: Number = Field(4.0, description="push requests per second")
    STORES_FILE: Text = Field("", description="TOML file of several stores (one [stores.<hash>] table each)")
    DATABASE_URL: DatabaseUrl = Field(
        "",
        description="state store (sqlite:///PATH or postgresql://…); default sqlite:///$BCSYNC_VAR_DIR/bcsync.db",
    )
    CELERY_BROKER_URL: Text = Field(
        "", description="broker; default a file-backed transport beside the database"
    )
    ADMIN_TOKEN: Text = Field(
        "", description="bearer token for the admin API and page; unset: admin disabled"
    )
    METRICS_TOKEN: Text = Field(
        "", description="bearer token for GET /metrics; unset: only loopback clients may scrape it"
    )
    SENTRY_DSN: Text = Field("", description="error reporting (secrets scrubbed)")
    SENTRY_ENVIRONMENT: Text = Field("production", description="Sentry's environment tag")
    LOG_LEVEL: Text = Field("INFO", description="log level when nothing else configured logging")
    PUBLIC_URL: PublicUrl = Field(
        "", description="this service's https base URL: bcsync hooks register, the admin page's redirects"
    )
    TRUSTED_PROXIES: Whole = Field(
        0,
        ge=0,
        le=5,
        description="reverse proxies in front of gunicorn whose X-Forwarded-For/-Proto are believed "
        "(infra/web.py sets 1 for its nginx; 0: none, the peer address is the client)",
    )
    EVENTS_RETENTION_DAYS: PositiveNumber = Field(
        7.0, description="days the event log (bcsync events) keeps each event before pruning"
    )
    BCSYNC_SANDBOX_BC_PORT: Port = Field(
        SANDBOX_BC_PORT,
        description="port of the sandbox's simulated BigCommerce API (make run, bcsync sandbox)",
    )
    BCSYNC_SANDBOX_OMETRIA_PORT: Port = Field(
        SANDBOX_OMETRIA_PORT,
        description="port of the sandbox's simulated Ometria API (make run, bcsync sandbox)",
    )
    SYNC_DEBOUNCE_SECONDS: Number = Field(2.0, description="how long to gather changes before a flush")
    SYNC_LEASE_SECONDS: Number = Field(
        120.0, description="how long a claimed batch stays claimed if its worker dies"
    )
    SYNC_MAX_WAIT_SECONDS: Number = Field(
        30.0, description="a store that never goes quiet is flushed after this"
    )
    SYNC_SWEEP_SECONDS: Number = Field(10.0, description="period of the sweep that flushes whatever is dirty")
    SYNC_RECONCILE_SECONDS: Number = Field(300.0, description="period of the date_modified:min sweep")
    SYNC_HOOKS_CHECK_SECONDS: Number = Field(900.0, description="period of the check that re-activates hooks")
    SYNC_ERRORS_SECONDS: Number = Field(300.0, description="period of the collection of Ometria's errors")
    SYNC_ROLLING_HOURS: Number = Field(
        6.0, description="the rolling resync refetches every product at least this often (hours)"
    )
    SYNC_ROLLING_SHARE: Number = Field(
        0.2, description="share of the BigCommerce quota left after the reserve the rolling resync may use"
    )
    BCSYNC_QUEUE: Text = Field("bcsync", description="Celery queue name")
    BCSYNC_HEARTBEAT_SECONDS: Number = Field(
        10.0,
        gt=0,
        description="how often each worker and beat records its heartbeat; silent after 3 times this",
    )
    ALERT_WEBHOOK_URL: Text = Field(
        "",
        description="where a JSON alert is POSTed once per incident and once on recovery; unset: none sent",
    )
    BCSYNC_VAR_DIR: Text = Field(
        "var", description="where local state lives (SQLite default, embedded broker)"
    )
    BCSYNC_ENV_FILE: Text = Field(
        "",
        description="the .env file read at start (only the variables listed here; those already set win);"
        " default .env in the project directory, never the current directory's",
    )
    PROMETHEUS_MULTIPROC_DIR: Text = Field(
        "",
        description="set by infra/web.py for its gunicorns (a folder it wipes at start), so /metrics "
        "sums every process; not for users to set",
    )


class Variable(NamedTuple):
    default: str  # as it would be written in the environment; "" for none
    meaning: str


def _listing() -> dict[str, Variable]:
    out = {}
    for name, spec in Environment.model_fields.items():
        default = spec.default if spec.default_factory is None else spec.default_factory()  # type: ignore[call-arg]
        if default is None or default in ((), {}):
            shown = ""
        else:
            shown = f"{default:g}" if isinstance(default, float) else str(default)
        out[name] = Variable(shown, spec.description or "")
    return out


# Every variable the service reads: the Python code (all through `Environment`) and the Procfiles'
# shell. Deployment files are checked against it (a variable they set must be one of these).
ENVIRONMENT: Mapping[str, Variable] = {
    **_listing(),
    "PORT": Variable("5000", "Procfile web: the port gunicorn binds"),
    "WEB_CONCURRENCY": Variable("2", "Procfile web: gunicorn worker processes"),
    "WEB_THREADS": Variable("4", "Procfile web: threads per gunicorn worker"),
    "WORKER_CONCURRENCY": Variable("2", "Procfile worker: celery pool processes"),
    "BCSYNC_WEB_PORT": Variable("5000", "Procfile.sandbox: the port of the local web process"),
}


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


def _or(value: str | None, default: str) -> str:
    """A variable's value when it is set (even empty, as before), else the default."""
    return default if value is None else value


def _store_from_env(env: Environment, store_hash: str, sandbox: bool) -> StoreConfig:
    if sandbox:
        return StoreConfig(
            store_hash=store_hash,
            access_token=SANDBOX_ACCESS_TOKEN,
            client_secret=SANDBOX_CLIENT_SECRET,
            webhook_secret=SANDBOX_WEBHOOK_SECRET,
            api_url=_or(env.BIGCOMMERCE_API_URL, f"http://127.0.0.1:{env.BCSYNC_SANDBOX_BC_PORT}"),
            channel_id=env.BIGCOMMERCE_CHANNEL_ID,
            ometria_api_key=SANDBOX_OMETRIA_KEY,
            ometria_api_url=_or(env.OMETRIA_API_URL, f"http://127.0.0.1:{env.BCSYNC_SANDBOX_OMETRIA_PORT}"),
            ometria_store_id=env.OMETRIA_STORE_ID,
            ometria_push_rate=env.OMETRIA_PUSH_RATE,
            **_storefront_fields(env),
        )
    return StoreConfig(
        store_hash=store_hash,
        access_token=env.BIGCOMMERCE_ACCESS_TOKEN,
        client_secret=env.BIGCOMMERCE_CLIENT_SECRET,
        webhook_secret=env.WEBHOOK_SECRET,
        api_url=_or(env.BIGCOMMERCE_API_URL, "https://api.bigcommerce.com"),
        channel_id=env.BIGCOMMERCE_CHANNEL_ID,
        ometria_api_key=env.OMETRIA_API_KEY,
        ometria_api_url=_or(env.OMETRIA_API_URL, "https://api.ometria.com"),
        ometria_store_id=env.OMETRIA_STORE_ID,
        ometria_push_rate=env.OMETRIA_PUSH_RATE,
        rate_reserve=env.BIGCOMMERCE_RATE_RESERVE,
        **_storefront_fields(env),
    )


def _storefront_fields(env: Environment) -> dict[str, Any]:
    return {
        "channel_ids": env.BIGCOMMERCE_CHANNEL_IDS,
        "ometria_store_ids": dict(env.OMETRIA_STORE_IDS),
        "metafield_namespaces": env.BIGCOMMERCE_METAFIELD_NAMESPACES,
    }


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
        if "channel_ids" in table:
            table["channel_ids"] = tuple(int(c) for c in table["channel_ids"])
        if "ometria_store_ids" in table:
            table["ometria_store_ids"] = {int(k): str(v) for k, v in dict(table["ometria_store_ids"]).items()}
        if "metafield_namespaces" in table:
            table["metafield_namespaces"] = tuple(table["metafield_namespaces"])
        try:
            stores[store_hash] = StoreConfig(store_hash=store_hash, **table)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"STORES_FILE {path}: [{store_hash}] {exc}") from None
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
