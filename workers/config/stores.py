"""A store's configuration: `StoreConfig`, built from the BIGCOMMERCE_* / OMETRIA_* variables
(the sandbox's fixed credentials when no store hash is set) or from a STORES_FILE. Re-exported by
`workers.settings`."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workers.config.environment import Environment
from workers.config.types import ConfigError

# The sandbox serves fixed, well-known credentials so that `make run` works with no setup.
SANDBOX_STORE_HASH = "sandbox1"
SANDBOX_ACCESS_TOKEN = "sandbox-access-token"  # noqa: S105 — public sandbox credential
SANDBOX_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105
SANDBOX_WEBHOOK_SECRET = "sandbox-webhook-secret"  # noqa: S105
SANDBOX_OMETRIA_KEY = "sandbox-ometria-key"


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
