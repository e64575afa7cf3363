"""Start the sandbox: the simulated BigCommerce store and Ometria account, each an HTTP server on loopback.

In-process (tests, benchmarks):

    sandbox = start_sandbox(products=500, seed=3, plan="standard", window_seconds=3)
    ... sandbox.bc_url, sandbox.ometria_url, sandbox.store, sandbox.account, sandbox.client() ...
    sandbox.stop()

Multi-storefront (opt-in; without it the store has one channel, one currency, no price list):

    sandbox = start_sandbox(products=500, currency="GBP", channels=2, channel_currencies={2: "EUR"},
                            price_lists=2)
    sandbox.register_hooks(url, sandbox.all_scopes)   # catalogue + channel, price-list, metafield scopes

Several stores behind one host each for BigCommerce and Ometria: `sandbox.multi.start_multi_sandbox`.

From a shell: `python -m sandbox --products 2000 --live` (or `bcsync sandbox`, which mounts
`sandbox_command`; `--channels 2 --channel-currency 2=EUR --currency GBP --price-lists 2` for
storefronts): prints the URLs and credentials, then serves until Ctrl-C.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox.bigcommerce import SANDBOX_CLIENT_ID, create_bigcommerce_app, register_hooks_for
from sandbox.delivery import HookDispatcher
from sandbox.faults import Counters, Faults
from sandbox.live import LiveActivity, start_live
from sandbox.ometria import OmetriaAccount, create_ometria_app
from sandbox.ratelimit import DEFAULT_CONCURRENCY, PLAN_QUOTAS, RateLimiter
from sandbox.store import CATALOG_SCOPES, DEFAULT_CURRENCY, DEFAULT_SITE_URL, Store, storefront_scopes
from workers import settings as S

if TYPE_CHECKING:
    from sandbox.client import SandboxClient

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request: a storm would flood the console."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def _serve(app: Any, host: str, port: int, name: str) -> tuple[BaseWSGIServer, threading.Thread]:
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    server.daemon_threads = True  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return server, thread


@dataclass
class Sandbox:
    """A running sandbox. Everything a test needs is an attribute; `stop()` shuts it all down."""

    store: Store
    account: OmetriaAccount
    dispatcher: HookDispatcher
    limiter: RateLimiter
    bc_faults: Faults
    bc_counters: Counters
    ometria_faults: Faults
    ometria_counters: Counters
    bc_url: str
    ometria_url: str
    access_token: str
    client_secret: str
    webhook_secret: str
    ometria_key: str
    client_id: str = SANDBOX_CLIENT_ID
    live: LiveActivity | None = None
    bc_app: Any = field(default=None, repr=False)  # the WSGI apps, for hosts that serve several stores
    ometria_app: Any = field(default=None, repr=False)
    _servers: list[BaseWSGIServer] = field(default_factory=list, repr=False)
    _threads: list[threading.Thread] = field(default_factory=list, repr=False)

    def __repr__(self) -> str:  # no secrets
        return f"Sandbox(bc_url={self.bc_url!r}, ometria_url={self.ometria_url!r}, store={self.store_hash!r})"

    @property
    def store_hash(self) -> str:
        return self.store.store_hash

    @property
    def api_url(self) -> str:
        """The v3 API base a BigCommerce client uses: <bc_url>/stores/<hash>/v3."""
        return f"{self.bc_url}/stores/{self.store_hash}/v3"

    def client(self) -> SandboxClient:
        from sandbox.client import SandboxClient

        return SandboxClient(self.bc_url, self.ometria_url)

    def register_hooks(
        self, destination: str, scopes: list[str] | None = None, headers: dict[str, str] | None = None
    ) -> list[dict]:
        """One hook per catalogue scope to `destination`, with the X-Webhook-Secret header by default."""
        if headers is None:
            headers = {"X-Webhook-Secret": self.webhook_secret}
        return register_hooks_for(
            self.store, destination, list(scopes or CATALOG_SCOPES), headers, self.client_id
        )

    @property
    def all_scopes(self) -> list[str]:
        """The catalogue scopes and every storefront scope (channels, price lists, metafields)."""
        return [*CATALOG_SCOPES, *storefront_scopes(self.store.channel_ids())]

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self.dispatcher.stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_sandbox(
    products: int = 200,
    seed: int = 1,
    bc_port: int = 0,
    ometria_port: int = 0,
    plan: str = "standard",
    window_seconds: float = 30.0,
    time_scale: float = 1.0,
    live: bool = False,
    *,
    store_hash: str = S.SANDBOX_STORE_HASH,
    access_token: str = S.SANDBOX_ACCESS_TOKEN,
    client_secret: str = S.SANDBOX_CLIENT_SECRET,
    webhook_secret: str = S.SANDBOX_WEBHOOK_SECRET,
    ometria_key: str = S.SANDBOX_OMETRIA_KEY,
    push_rate: float = 8.0,
    concurrency: int = DEFAULT_CONCURRENCY,
    hook_destination: str | None = None,
    site_url: str = DEFAULT_SITE_URL,
    currency: str = DEFAULT_CURRENCY,
    host: str = "127.0.0.1",
    delivery_timeout: float = 10.0,
    live_interval: tuple[float, float] = (1.0, 3.0),
    fault_seed: int = 0,
    store: Store | None = None,
    channels: int = 1,
    channel_currencies: dict[int, str] | None = None,
    price_lists: int = 0,
) -> Sandbox:
    """Generate the store (or use `store`), start both servers in daemon threads (port 0 = a free port).
    `channels`, `channel_currencies`, `price_lists`: multi-storefront, as `Store` takes them."""
    store = store or Store(
        products,
        seed,
        store_hash=store_hash,
        site_url=site_url,
        currency=currency,
        channels=channels,
        channel_currencies=channel_currencies,
        price_lists=price_lists,
    )
    limiter = RateLimiter(plan=plan, window_seconds=window_seconds, concurrency=concurrency)
    dispatcher = HookDispatcher(
        store.store_hash,
        client_secret,
        get_hooks=store.list_hooks,
        deactivate=store.deactivate_hook,
        time_scale=time_scale,
        timeout=delivery_timeout,
    )
    store.add_listener(dispatcher.fire)
    account = OmetriaAccount(ometria_key, push_rate=push_rate)
    bc_faults, bc_counters = Faults(seed=fault_seed), Counters()
    om_faults, om_counters = Faults(seed=fault_seed + 1), Counters()
    bc_app = create_bigcommerce_app(
        store,
        limiter,
        dispatcher,
        bc_faults,
        bc_counters,
        access_token=access_token,
        client_secret=client_secret,
    )
    om_app = create_ometria_app(account, om_faults, om_counters)
    bc_server, bc_thread = _serve(bc_app, host, bc_port, "sandbox-bigcommerce")
    om_server, om_thread = _serve(om_app, host, ometria_port, "sandbox-ometria")
    sandbox = Sandbox(
        store=store,
        account=account,
        dispatcher=dispatcher,
        limiter=limiter,
        bc_faults=bc_faults,
        bc_counters=bc_counters,
        ometria_faults=om_faults,
        ometria_counters=om_counters,
        bc_url=f"http://{host}:{bc_server.server_port}",
        ometria_url=f"http://{host}:{om_server.server_port}",
        access_token=access_token,
        client_secret=client_secret,
        webhook_secret=webhook_secret,
        ometria_key=ometria_key,
        _servers=[bc_server, om_server],
        _threads=[bc_thread, om_thread],
        bc_app=bc_app,
        ometria_app=om_app,
    )
    if hook_destination:  # with storefronts, their scopes too
        multi = channels > 1 or price_lists > 0
        sandbox.register_hooks(hook_destination, sandbox.all_scopes if multi else None)
    if live:
        sandbox.live = start_live(store, seed=seed, interval=live_interval)
    return sandbox


@click.command("sandbox")
@click.option(
    "--products",
    default=200,
    show_default=True,
    type=click.IntRange(10, 1_000_000),
    help="Products in the generated catalogue.",
)
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same catalogue.")
@click.option(
    "--bc-port",
    default=None,
    type=int,
    help=f"Port of the simulated BigCommerce API (0: any free port) [default: $BCSYNC_SANDBOX_BC_PORT "
    f"or {S.SANDBOX_BC_PORT}].",
)
@click.option(
    "--ometria-port",
    default=None,
    type=int,
    help=f"Port of the simulated Ometria API (0: any free port) [default: $BCSYNC_SANDBOX_OMETRIA_PORT "
    f"or {S.SANDBOX_OMETRIA_PORT}].",
)
@click.option(
    "--plan",
    default="standard",
    show_default=True,
    type=click.Choice(sorted(PLAN_QUOTAS)),
    help="BigCommerce plan: the API quota per window.",
)
@click.option(
    "--window-seconds", default=30.0, show_default=True, type=float, help="Rate-limit window length."
)
@click.option(
    "--time-scale",
    default=1.0,
    show_default=True,
    type=float,
    help="Multiplies webhook retry delays (0.01: retries 100x sooner).",
)
@click.option(
    "--live/--no-live",
    default=True,
    show_default=True,
    help="Make a random change every 1-3 s so webhooks keep flowing.",
)
@click.option(
    "--channels",
    default=1,
    show_default=True,
    type=click.IntRange(1, 5),
    help="Storefront channels (more than 1: multi-storefront, each with its site, tree and products).",
)
@click.option(
    "--channel-currency",
    "channel_currency",
    multiple=True,
    metavar="ID=CODE",
    help="A channel's default currency, e.g. 2=EUR (repeatable; others sell in the store's currency).",
)
@click.option("--currency", default=DEFAULT_CURRENCY, show_default=True, help="The store's default currency.")
@click.option(
    "--price-lists",
    default=0,
    show_default=True,
    type=click.IntRange(0, 4),
    help="Generated price lists (1: the second channel's, 2: + wholesale group, 3: + VIP, 4: + inactive).",
)
@click.option(
    "--hook-destination",
    default=None,
    help="Register hooks for every product/sku/category scope pointing at this URL "
    "(with the X-Webhook-Secret header).",
)
def sandbox_command(
    products: int,
    seed: int,
    bc_port: int | None,
    ometria_port: int | None,
    plan: str,
    window_seconds: float,
    time_scale: float,
    live: bool,
    channels: int,
    channel_currency: tuple[str, ...],
    currency: str,
    price_lists: int,
    hook_destination: str | None,
) -> None:
    """Run the simulated BigCommerce store and Ometria account on loopback until Ctrl-C."""
    if bc_port is None or ometria_port is None:  # the ports the service's settings expect
        environment = S.read_environment()
        bc_port = environment.BCSYNC_SANDBOX_BC_PORT if bc_port is None else bc_port
        ometria_port = environment.BCSYNC_SANDBOX_OMETRIA_PORT if ometria_port is None else ometria_port
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    currencies: dict[int, str] = {}
    for item in channel_currency:
        cid, _, code = item.partition("=")
        if not cid.strip().isdigit() or len(code.strip()) != 3:
            raise click.BadParameter(
                f"{item!r}: expected ID=CODE, e.g. 2=EUR", param_hint="--channel-currency"
            )
        currencies[int(cid)] = code.strip().upper()
    click.echo(f"Generating {products} products (seed {seed})...")
    sandbox = start_sandbox(
        products=products,
        seed=seed,
        bc_port=bc_port,
        ometria_port=ometria_port,
        plan=plan,
        window_seconds=window_seconds,
        time_scale=time_scale,
        live=live,
        hook_destination=hook_destination,
        channels=channels,
        channel_currencies=currencies,
        currency=currency.upper(),
        price_lists=price_lists,
    )
    lines = [
        ("BigCommerce API", f"{sandbox.bc_url}  (v3 base: {sandbox.api_url})"),
        ("Ometria API", sandbox.ometria_url),
        ("store hash", sandbox.store_hash),
        ("access token", sandbox.access_token),
        ("client secret", sandbox.client_secret),
        ("webhook secret", sandbox.webhook_secret),
        ("Ometria key", sandbox.ometria_key),
        ("plan", f"{plan}: {PLAN_QUOTAS[plan] or 'unlimited'} requests per {window_seconds:g} s"),
        (
            "hooks",
            f"{len(sandbox.store.list_hooks())} registered"
            + (f" -> {hook_destination}" if hook_destination else ""),
        ),
        (
            "storefronts",
            ", ".join(
                f"{c['id']}: {c['name']} ({c['currencies']['default_currency']})"
                for c in sandbox.store.channels()
            )
            + f"; {len(sandbox.store.price_lists())} price list(s)",
        ),
        ("live changes", "on (every 1-3 s)" if live else "off"),
        ("control API", f"{sandbox.bc_url}/_sandbox/snapshot, /_sandbox/mutations, /_sandbox/storm, ..."),
    ]
    width = max(len(k) for k, _ in lines)
    click.echo("Sandbox running (these are the sandbox's fixed, public credentials):")
    for key, value in lines:
        click.echo(f"  {key.ljust(width)}  {value}")
    click.echo("Press Ctrl-C to stop.")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        click.echo("Stopping sandbox...")
    finally:
        sandbox.stop()


def main(argv: list[str] | None = None) -> None:
    sandbox_command.main(args=argv, prog_name="python -m sandbox")
