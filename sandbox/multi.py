"""Several stores behind one BigCommerce host and one Ometria host, as in production: every store's API is
`<bc_url>/stores/<hash>/v3` on the same host, and every Ometria account is `<ometria_url>/v2/...` on the
same host, told apart only by its `X-Ometria-Auth` key. A client that mixes up two stores' hashes or keys
sends to the wrong store or account, and the test sees it.

    multi = start_multi_sandbox({"storea": {"channels": 2, "price_lists": 1}, "storeb": {"products": 50}})
    multi.bc_url, multi.ometria_url          # the shared hosts (api_url / ometria_api_url of every store)
    multi["storea"].store, multi["storea"].account, multi["storea"].ometria_key
    multi.client("storea")                   # SandboxClient of that store and account (control API)
    multi.stop()

Each store is a full `Sandbox` (its own store, quota, hooks, dispatcher, Ometria account; its own ports
too, unused here). The shared hosts also route `/_store/<hash>/...` to a store's server (so its control API
is `<bc_url>/_store/<hash>/_sandbox/...`) and `/_account/<hash>/...` to that store's Ometria account.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sandbox.client import SandboxClient
from sandbox.server import Sandbox, _serve, start_sandbox

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def _json(start_response: Callable, status: str, payload: Any) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _forward(app: WsgiApp, environ: dict, start_response: Callable, prefix: str) -> Iterable[bytes]:
    if prefix:
        environ = dict(environ, PATH_INFO=environ["PATH_INFO"][len(prefix) :] or "/")
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
    return app(environ, start_response)


@dataclass
class MultiSandbox:
    sandboxes: dict[str, Sandbox]
    bc_url: str
    ometria_url: str
    _servers: list[Any] = field(default_factory=list, repr=False)
    _threads: list[threading.Thread] = field(default_factory=list, repr=False)

    def __getitem__(self, store_hash: str) -> Sandbox:
        return self.sandboxes[store_hash]

    def client(self, store_hash: str) -> SandboxClient:
        return SandboxClient(
            f"{self.bc_url}/_store/{store_hash}", f"{self.ometria_url}/_account/{store_hash}"
        )

    def api_url(self, store_hash: str) -> str:
        return f"{self.bc_url}/stores/{store_hash}/v3"

    def bigcommerce(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        parts = environ.get("PATH_INFO", "/").split("/")
        if len(parts) > 2 and parts[1] in ("stores", "_store") and parts[2] in self.sandboxes:
            prefix = f"/_store/{parts[2]}" if parts[1] == "_store" else ""
            return _forward(self.sandboxes[parts[2]].bc_app, environ, start_response, prefix)
        if len(parts) > 2 and parts[1] == "stores":
            return _json(start_response, "404 NOT FOUND", {"status": 404, "title": "Store not found"})
        return _json(start_response, "404 NOT FOUND", {"status": 404, "title": "Not Found"})

    def ometria(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        parts = environ.get("PATH_INFO", "/").split("/")
        if len(parts) > 2 and parts[1] == "_account" and parts[2] in self.sandboxes:
            return _forward(
                self.sandboxes[parts[2]].ometria_app, environ, start_response, f"/_account/{parts[2]}"
            )
        key = environ.get("HTTP_X_OMETRIA_AUTH")
        for sandbox in self.sandboxes.values():
            if sandbox.account.authorised(key):
                return _forward(sandbox.ometria_app, environ, start_response, "")
        # no account has that key: any account's app answers 403 as Ometria does
        return _forward(next(iter(self.sandboxes.values())).ometria_app, environ, start_response, "")

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        for sandbox in self.sandboxes.values():
            sandbox.stop()

    def __enter__(self) -> MultiSandbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_multi_sandbox(
    stores: dict[str, dict[str, Any]],
    host: str = "127.0.0.1",
    bc_port: int = 0,
    ometria_port: int = 0,
    **common: Any,
) -> MultiSandbox:
    """One `start_sandbox(store_hash=hash, **common, **options)` per store (Ometria key
    "<hash>-ometria-key" unless given), behind one BigCommerce host and one Ometria host."""
    if not stores:
        raise ValueError("at least one store")
    sandboxes = {
        store_hash: start_sandbox(
            **{"ometria_key": f"{store_hash}-ometria-key", **common, **options, "store_hash": store_hash}
        )
        for store_hash, options in stores.items()
    }
    keys = [sb.ometria_key for sb in sandboxes.values()]
    if len(set(keys)) != len(keys):
        for sandbox in sandboxes.values():
            sandbox.stop()
        raise ValueError("every store needs its own Ometria key")
    multi = MultiSandbox(sandboxes, "", "")
    bc_server, bc_thread = _serve(multi.bigcommerce, host, bc_port, "sandbox-bigcommerce-multi")
    om_server, om_thread = _serve(multi.ometria, host, ometria_port, "sandbox-ometria-multi")
    multi.bc_url = f"http://{host}:{bc_server.server_port}"
    multi.ometria_url = f"http://{host}:{om_server.server_port}"
    multi._servers, multi._threads = [bc_server, om_server], [bc_thread, om_thread]
    return multi
