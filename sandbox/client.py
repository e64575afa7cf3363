"""`SandboxClient`: the sandbox's control API (both servers) over HTTP, so tests and benchmarks drive a
sandbox the same way whether it runs in-process (`start_sandbox(...).client()`) or in another process
(`python -m sandbox`, `bcsync sandbox`).

Never rate-limited, faulted or counted by the sandbox. Errors raise `SandboxError` with the server's message.
"""

from __future__ import annotations

from typing import Any

import requests


class SandboxError(RuntimeError):
    def __init__(self, status: int, message: str):
        super().__init__(f"sandbox control API answered {status}: {message}")
        self.status = status


class SandboxClient:
    def __init__(self, bc_url: str, ometria_url: str | None = None, timeout: float = 60.0):
        self.bc_url = bc_url.rstrip("/")
        self.ometria_url = ometria_url.rstrip("/") if ometria_url else None
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only: never through a proxy from the environment

    def __repr__(self) -> str:
        return f"SandboxClient(bc_url={self.bc_url!r}, ometria_url={self.ometria_url!r})"

    def close(self) -> None:
        self.session.close()

    def _call(
        self, base: str | None, method: str, path: str, json: Any = None, params: dict | None = None
    ) -> Any:
        if base is None:
            raise ValueError("this SandboxClient has no Ometria URL")
        response = self.session.request(
            method, f"{base}{path}", json=json, params=params, timeout=self.timeout
        )
        if response.status_code >= 400:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise SandboxError(response.status_code, str(message))
        return response.json() if response.content else None

    def _bc(self, method: str, path: str, json: Any = None, params: dict | None = None) -> Any:
        return self._call(self.bc_url, method, path, json, params)

    def _om(self, method: str, path: str, json: Any = None, params: dict | None = None) -> Any:
        return self._call(self.ometria_url, method, path, json, params)

    # ------------------------------------------------------------------ BigCommerce store
    def snapshot(self) -> dict:
        """{"store_hash", "products" (with variants, images, custom_fields), "categories", "brands",
        "site_url", "currency", "storefronts"}: what the API would return, for computing the expected
        Ometria state ("storefronts": see `sandbox.store.Store.storefront_snapshot`)."""
        return self._bc("GET", "/_sandbox/snapshot")

    def mutate(self, op: str, **args: Any) -> dict:
        """One mutation (see `sandbox.store.Store.apply`), e.g. mutate("update_product", product_id=5,
        fields={"price": 9.5}) → {"events": [...callbacks fired...], "entity": {...}}."""
        return self._bc("POST", "/_sandbox/mutations", {"op": op, **args})

    def mutate_many(self, ops: list[dict]) -> list[dict]:
        return self._bc("POST", "/_sandbox/mutations", {"ops": ops})

    def update_product(self, product_id: int, **fields: Any) -> dict:
        return self.mutate("update_product", product_id=product_id, fields=fields)

    # storefront helpers (each fires the callbacks its change fires in BigCommerce; see Store.apply)
    def storefronts(self) -> dict:
        """Channels (site_url, currencies, tree_id, product_ids), trees, currencies, price lists, their
        assignments and records, metafields: `snapshot()["storefronts"]`."""
        return self.snapshot()["storefronts"]

    def assign_products(self, channel_id: int, product_ids: list[int]) -> dict:
        return self.mutate("assign_products", channel_id=channel_id, product_ids=product_ids)

    def unassign_products(self, channel_id: int, product_ids: list[int]) -> dict:
        return self.mutate("unassign_products", channel_id=channel_id, product_ids=product_ids)

    def set_price_record(self, price_list_id: int, variant_id: int, currency: str, **prices: Any) -> dict:
        """One record (price, sale_price?, retail_price?, map_price?): store/priceList/record/*."""
        return self.mutate(
            "set_price_record",
            price_list_id=price_list_id,
            variant_id=variant_id,
            currency=currency,
            **prices,
        )

    def upsert_price_records(self, price_list_id: int, records: list[dict]) -> dict:
        """A batch ([{variant_id, currency, price, ...}]): store/priceList/records/* with a list as data."""
        return self.mutate("upsert_price_records", price_list_id=price_list_id, records=records)

    def create_category(self, name: str, parent_id: int = 0, tree_id: int | None = None) -> dict:
        """A category in a tree (tree_id 2: only in channel 2's tree)."""
        return self.mutate("create_category", name=name, parent_id=parent_id, tree_id=tree_id)

    def storm(
        self,
        callbacks: int = 1000,
        products: int = 200,
        seed: int = 1,
        fire_only: bool = False,
        **shares: float,
    ) -> dict:
        """Exactly `callbacks` callbacks about `products` distinct products (see sandbox.storm.run_storm)."""
        return self._bc(
            "POST",
            "/_sandbox/storm",
            {"callbacks": callbacks, "products": products, "seed": seed, "fire_only": fire_only, **shares},
        )

    def events(self, since: int = 0) -> dict:
        """{"events": [{"seq", "scope", "data", "at"}...], "counts": {scope: n}, "last_seq"}."""
        return self._bc("GET", "/_sandbox/events", params={"since": since})

    def counters(self) -> dict:
        """BigCommerce API calls: {"calls": {"GET /catalog/products": {"200": n, "429": m}}, "total", ...}."""
        return self._bc("GET", "/_sandbox/counters")

    def reset_counters(self) -> dict:
        return self._bc("POST", "/_sandbox/counters/reset")

    def faults(self, **config: Any) -> dict:
        """Configure BigCommerce fault injection (rate, kinds, slow_seconds, timeout_seconds, paths, methods,
        seed); without arguments, read the configuration."""
        return self._bc("POST", "/_sandbox/faults", config) if config else self._bc("GET", "/_sandbox/faults")

    def reset_faults(self) -> dict:
        return self._bc("DELETE", "/_sandbox/faults")

    def ratelimit(self, **config: Any) -> dict:
        """Set plan / window_seconds / concurrency / quota (restarts the windows); without arguments, read."""
        return (
            self._bc("POST", "/_sandbox/ratelimit", config)
            if config
            else self._bc("GET", "/_sandbox/ratelimit")
        )

    def config(self, **settings: Any) -> dict:
        """latency_seconds (BigCommerce's response time), categories_in ("any" | "all"), access_token."""
        return (
            self._bc("POST", "/_sandbox/config", settings)
            if settings
            else self._bc("GET", "/_sandbox/config")
        )

    def deliveries(self) -> dict:
        """Webhook dispatcher statistics (fired, delivered, retries, deactivated, blocked hosts...)."""
        return self._bc("GET", "/_sandbox/deliveries")

    def wait_deliveries(self, timeout: float = 30.0) -> dict:
        """Wait until no callback is queued or in flight; {"idle": bool, ...stats}."""
        return self._bc("POST", "/_sandbox/deliveries/wait", {"timeout": timeout})

    def hooks(self) -> list[dict]:
        return self._bc("GET", "/_sandbox/hooks")

    def register_hooks(
        self, destination: str, scopes: list[str] | None = None, headers: dict[str, str] | None = None
    ) -> list[dict]:
        """One active hook per catalogue scope (or `scopes`) pointing at `destination`."""
        payload: dict[str, Any] = {"destination": destination}
        if scopes:
            payload["scopes"] = scopes
        if headers is not None:
            payload["headers"] = headers
        return self._bc("POST", "/_sandbox/hooks/register", payload)

    # ------------------------------------------------------------------ Ometria account
    def records(self) -> dict[str, dict]:
        """Stored Ometria product records by id."""
        return self._om("GET", "/_sandbox/records")

    def ometria_stats(self) -> dict:
        return self._om("GET", "/_sandbox/stats")

    def reset_ometria(self) -> dict:
        """Forget records, errors, stats, rate window and queue."""
        return self._om("POST", "/_sandbox/reset")

    def ometria_config(self, **settings: Any) -> dict:
        """push_rate, queue_limit, queue_drain_rate, api_key; without arguments, read."""
        return (
            self._om("POST", "/_sandbox/config", settings)
            if settings
            else self._om("GET", "/_sandbox/config")
        )

    def ometria_counters(self) -> dict:
        return self._om("GET", "/_sandbox/counters")

    def reset_ometria_counters(self) -> dict:
        return self._om("POST", "/_sandbox/counters/reset")

    def ometria_faults(self, **config: Any) -> dict:
        return self._om("POST", "/_sandbox/faults", config) if config else self._om("GET", "/_sandbox/faults")

    def reset_ometria_faults(self) -> dict:
        return self._om("DELETE", "/_sandbox/faults")
