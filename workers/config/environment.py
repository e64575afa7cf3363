"""`Environment`: every variable the Python code reads, typed and described (pydantic-settings),
and `ENVIRONMENT`, every variable the service reads with its default and meaning. Re-exported by
`workers.settings`, which loads it (`read_environment`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, NamedTuple

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from workers.config.types import (
    DatabaseUrl,
    Number,
    Port,
    PositiveNumber,
    PublicUrl,
    Text,
    Whole,
    _channel_list,
    _names,
    _store_id_map,
)

SANDBOX_BC_PORT = 5101
SANDBOX_OMETRIA_PORT = 5102


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
