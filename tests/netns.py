"""Simulated hosts on one machine, for the scale-out test (tests/reliability/test_multihost.py) and benchmark
(bench/scaleout.py). Root only, Linux only.

Each host is a network namespace with one interface, `eth0`, on a private subnet (10.231.0.0/24),
the other end of its veth pair plugged into a bridge that lives in a namespace of its own. Nothing
is created in the root namespace: no interface, no address, no route. A host namespace has no route
but the subnet's, so its traffic cannot leave it. Every process of a host is started with
`ip netns exec` (inside `unshare --uts`, so that it also has its own hostname, e.g. `worker2`, and
Celery's node names differ as on real machines). `Network.close()` stops whatever still runs in each
namespace and removes every namespace, and with them every veth pair and the bridge.

The services a deployment needs are started the same way on a host: a PostgreSQL cluster of its own
(`initdb` into a fresh directory, listening on the host's address, trust auth for the subnet), a
redis-server of its own, the sandbox (simulated BigCommerce + Ometria, `python -m tests.netns sandbox`,
which binds `sandbox.server.start_sandbox` to the host's address: `bcsync sandbox` binds loopback
only), and the Procfile's processes of a fresh `git clone` of HEAD (`Deployment`). The shared
services on 127.0.0.1 are never used.

The test process itself can step onto a host (`Host.entered()`: `setns(2)` for the calling thread,
undone on the way out) to reach the others, as an operator's machine on the same network would.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
SUBNET = "10.231.0"  # .0/24, private; .1 is never used (no gateway)
PREFIX = "bcmh"  # namespace names: bcmh<pid>x<run>-<host>; a dead pid marks a leftover to remove
CLONE_NEWNET = 0x40000000
PG_PORT, REDIS_PORT, WEB_PORT = 5432, 6379, 5000
SANDBOX_BC_PORT, SANDBOX_OMETRIA_PORT = 5101, 5102


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def unavailable() -> str | None:
    """Why simulated hosts cannot be built here (None: they can)."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces and veth pairs need root"
    for tool in ("ip", "ss", "unshare", "setpriv", "git"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    probe = f"{PREFIX}{os.getpid()}probe"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


def postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def missing_services() -> str | None:
    """Why the db host cannot run its own PostgreSQL and Redis (None: it can)."""
    if postgres_bin() is None:
        return "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
    if shutil.which("redis-server") is None:
        return "redis-server is not on PATH"
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        return "no `postgres` user to run PostgreSQL as (it refuses to run as root)"
    return None


def remove_leftovers() -> list[str]:
    """Namespaces of earlier runs whose process is gone (killed before it could clean up)."""
    removed = []
    out = _ip("netns", "list", check=False).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(rf"^{PREFIX}(\d+)x", name)
        if not m or Path(f"/proc/{m.group(1)}").exists():
            continue
        _kill_namespace(name)
        _ip("netns", "del", name, check=False)
        removed.append(name)
    for path in Path(tempfile.gettempdir()).glob(f"{PREFIX}*-pg-*"):
        m = re.match(rf"^{PREFIX}(\d+)-pg-", path.name)
        if m and not Path(f"/proc/{m.group(1)}").exists():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    return removed


def root_namespace_state() -> dict[str, list[str]]:
    """The root namespace's interfaces, its addresses on our subnet, and its routes."""
    links = [
        line.split(":")[1].strip() for line in _ip("-o", "link", "show", check=False).stdout.splitlines()
    ]
    addresses = [
        line for line in _ip("-o", "addr", "show", check=False).stdout.splitlines() if f" {SUBNET}." in line
    ]
    routes = _ip("route", "show", "table", "all", check=False).stdout.splitlines()
    return {"interfaces": links, "addresses": addresses, "routes": routes}


def _ns_pids(ns: str) -> list[int]:
    out = _ip("netns", "pids", ns, check=False).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def _kill_namespace(ns: str, grace: float = 10.0) -> None:
    """SIGTERM every process in `ns`, SIGKILL what is left after `grace` s."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        pids = _ns_pids(ns)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _ns_pids(ns):
            time.sleep(0.1)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _current_namespace() -> int:
    """An fd of the calling thread's network namespace."""
    return os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)


@contextlib.contextmanager
def _thread_in_namespace(path: str) -> Iterator[None]:
    """setns(2) the calling thread into the network namespace at `path` (a /run/netns/ name or a
    /proc/self/fd/ link); back on the way out."""
    libc = _libc()
    back = _current_namespace()
    target = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {path} failed")
        try:
            yield
        finally:
            if libc.setns(back, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back into the original namespace failed")
    finally:
        os.close(target)
        os.close(back)


@dataclass
class Host:
    """A simulated machine: a network namespace with `eth0` at `ip`."""

    name: str
    ns: str
    ip: str
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Host({self.name!r}, {self.ip})"

    def argv(self, command: str | list[str]) -> list[str]:
        """`command` (a shell line or an argv) as run on this host: its namespace, its hostname."""
        line = command if isinstance(command, str) else shlex.join(command)
        return [
            "ip",
            "netns",
            "exec",
            self.ns,
            "unshare",
            "--uts",
            "--",
            "sh",
            "-c",
            f"hostname {shlex.quote(self.name)} && exec {line}",
        ]

    def spawn(
        self, label: str, command: str | list[str], *, env: dict[str, str], cwd: Path, log: Path
    ) -> subprocess.Popen:
        """Start a long-running process (stdout and stderr to `log`); the Popen's pid is the process's
        own (ip netns exec, unshare and sh each exec the next)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                self.argv(command),
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[label] = proc
        self.logs[label] = log
        return proc

    def run(
        self, command: str | list[str], *, env: dict[str, str], cwd: Path, timeout: float = 300
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.argv(command), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
        )

    def pids(self) -> list[int]:
        """Every process running on this host (in its namespace), whoever started it."""
        return _ns_pids(self.ns)

    def kill_everything(self, sig: int = signal.SIGKILL) -> list[int]:
        """Send `sig` to every process on the host at once; returns the pids signalled."""
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        return pids

    def stop(self, label: str, sig: int = signal.SIGTERM, wait: float = 20.0, group: bool = True) -> None:
        """Stop one of the processes this host started: `sig` to its process group (to it alone
        without `group`), SIGKILL to the group if it is still there after `wait` s."""
        proc = self.procs.get(label)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(proc.pid, sig)
            else:
                os.kill(proc.pid, sig)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def log(self, label: str) -> str:
        path = self.logs.get(label)
        return path.read_text(errors="replace") if path and path.exists() else ""

    @contextlib.contextmanager
    def entered(self) -> Iterator[Host]:
        """Run the calling thread on this host (threads it starts meanwhile stay there)."""
        with _thread_in_namespace(f"/run/netns/{self.ns}"):
            yield self


class Network:
    """Hosts on one bridge. A context manager: leaving it removes everything, whatever happened."""

    def __init__(self) -> None:
        remove_leftovers()
        self._root = _current_namespace()  # where this process stood: what must stay untouched
        weakref.finalize(self, os.close, self._root)
        self.root_before = root_namespace_state()
        self.tag = f"{PREFIX}{os.getpid()}x{uuid.uuid4().hex[:4]}"
        self.hosts: dict[str, Host] = {}
        self._namespaces: list[str] = []
        self._bridge_ns = f"{self.tag}-bridge"
        try:
            self._add_namespace(self._bridge_ns)
            _ip("-n", self._bridge_ns, "link", "add", "br0", "type", "bridge")
            _ip("-n", self._bridge_ns, "link", "set", "br0", "up")
        except BaseException:
            self.close()
            raise

    def _add_namespace(self, ns: str) -> None:
        self._namespaces.append(ns)  # first: close() removes it even if the rest fails
        _ip("netns", "add", ns)
        _ip("-n", ns, "link", "set", "lo", "up")

    def add(self, name: str) -> Host:
        if not re.fullmatch(r"[a-z][a-z0-9]{0,11}", name) or name in self.hosts:
            raise ValueError(f"bad or duplicate host name {name!r}")
        index = len(self.hosts) + 2
        if index > 254:
            raise ValueError("the /24 is full")
        host = Host(name=name, ns=f"{self.tag}-{name}", ip=f"{SUBNET}.{index}")
        self._add_namespace(host.ns)
        port = f"p{index}"  # this end of the pair stays in the bridge's namespace
        _ip(
            "-n",
            self._bridge_ns,
            "link",
            "add",
            port,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            host.ns,
        )
        _ip("-n", self._bridge_ns, "link", "set", port, "master", "br0", "up")
        _ip("-n", host.ns, "addr", "add", f"{host.ip}/24", "dev", "eth0")
        _ip("-n", host.ns, "link", "set", "eth0", "up")
        self.hosts[name] = host
        return host

    def root_changes(self) -> dict[str, list[str]]:
        """What differs in the root namespace since this network was made: interfaces, addresses on
        the subnet, routes (must be nothing)."""
        with _thread_in_namespace(f"/proc/self/fd/{self._root}"):
            now = root_namespace_state()
        return {
            key: sorted(set(now[key]) ^ set(self.root_before[key]))
            for key in now
            if set(now[key]) != set(self.root_before[key])
        }

    def close(self) -> None:
        for host in self.hosts.values():
            _kill_namespace(host.ns)
            for proc in host.procs.values():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(10)
        for ns in reversed(self._namespaces):
            _kill_namespace(ns)
            _ip("netns", "del", ns, check=False)
        self._namespaces.clear()

    def leftovers(self) -> list[str]:
        """Namespaces of this network still present (after close(): must be none)."""
        return [line for line in _ip("netns", "list", check=False).stdout.splitlines() if self.tag in line]

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def stop_together(hosts: list[Host], wait: float = 15.0) -> None:
    """SIGTERM every process the hosts started, all at once; SIGKILL what is left after `wait` s."""
    procs = [p for h in hosts for p in h.procs.values() if p.poll() is None]
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


# --- waiting ----------------------------------------------------------------------------------------


def port_open(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(pred, timeout: float, what: str, interval: float = 0.2, proc: subprocess.Popen | None = None):  # type: ignore[no-untyped-def]
    """Poll `pred` until truthy; fail saying `what` (and the exit code if `proc` died meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {proc.returncode}")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


# --- the db host: PostgreSQL and Redis of its own -----------------------------------------------------


@dataclass
class Database:
    url: str
    broker_url: str
    data_dir: Path


def start_database_host(host: Host, work: Path) -> Database:
    """Its own PostgreSQL cluster and redis-server on `host`, reachable from the subnet.

    The cluster's directory is a fresh one under /tmp, not under `work`: PostgreSQL runs as the
    `postgres` user (it refuses root) and pytest's directories are private to root. `stop_database`
    removes it."""
    import pwd

    bindir = postgres_bin()
    assert bindir is not None, missing_services()
    pg = pwd.getpwnam("postgres")
    data = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-pg-"))
    os.chown(data, pg.pw_uid, pg.pw_gid)
    as_postgres = ["setpriv", f"--reuid={pg.pw_uid}", f"--regid={pg.pw_gid}", "--init-groups", "--"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(data)}
    init = subprocess.run(
        [*as_postgres, str(bindir / "initdb"), "-D", str(data / "pg"), "-U", "postgres", "--auth=trust"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if init.returncode:
        raise RuntimeError(f"initdb failed: {init.stderr[-2000:]}")
    with open(data / "pg" / "pg_hba.conf", "a") as hba:
        hba.write(f"host all all {SUBNET}.0/24 trust\n")
    host.spawn(
        "postgres",
        [
            *as_postgres,
            str(bindir / "postgres"),
            "-D",
            str(data / "pg"),
            "-c",
            f"listen_addresses={host.ip}",
            "-c",
            f"port={PG_PORT}",
            "-c",
            f"unix_socket_directories={data}",  # not /var/run/postgresql: the shared server's
            "-c",
            "max_connections=300",
        ],
        env=env,
        cwd=data,
        log=work / f"{host.name}-postgres.log",
    )
    host.spawn(
        "redis",
        [
            "redis-server",
            "--bind",
            host.ip,
            "--port",
            str(REDIS_PORT),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
            "--dir",
            str(data),
        ],
        env=env,
        cwd=data,
        log=work / f"{host.name}-redis.log",
    )
    return Database(
        url=f"postgresql+psycopg://postgres@{host.ip}:{PG_PORT}/postgres",
        broker_url=f"redis://{host.ip}:{REDIS_PORT}/0",
        data_dir=data,
    )


def stop_database(host: Host, db: Database) -> None:
    host.stop("postgres", sig=signal.SIGINT, group=False)  # fast shutdown, no shared memory left
    host.stop("redis")
    shutil.rmtree(db.data_dir, ignore_errors=True)


# --- the sandbox host ---------------------------------------------------------------------------------


def start_sandbox_host(
    host: Host,
    work: Path,
    *,
    products: int,
    seed: int,
    window_seconds: float,
    time_scale: float,
    push_rate: float = 8.0,
    hooks: dict[str, list[str]] | None = None,
) -> tuple[str, str]:
    """The sandbox (this checkout's `sandbox` package) serving on `host`; (bc_url, ometria_url).

    `hooks`: destination -> scopes ([] = every catalogue scope), registered in the sandbox process
    with `Sandbox.register_hooks` (X-Webhook-Secret header as tests.harness does): the control API's
    /_sandbox/hooks/register, like BigCommerce, takes only https on 443 unless the destination is
    loopback, and a web host is neither."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    hook_args = [
        arg for dest, scopes in (hooks or {}).items() for arg in ("--hook", f"{dest}|{','.join(scopes)}")
    ]
    proc = host.spawn(
        "sandbox",
        [
            sys.executable,
            "-m",
            "tests.netns",
            "sandbox",
            "--host",
            host.ip,
            "--products",
            str(products),
            "--seed",
            str(seed),
            "--window-seconds",
            str(window_seconds),
            "--time-scale",
            str(time_scale),
            "--push-rate",
            str(push_rate),
            *hook_args,
        ],
        env=env,
        cwd=REPO,
        log=work / f"{host.name}-sandbox.log",
    )
    wait_for(
        lambda: port_open(host.ip, SANDBOX_BC_PORT) and port_open(host.ip, SANDBOX_OMETRIA_PORT),
        120,
        "the sandbox to listen",
        proc=proc,
    )
    return f"http://{host.ip}:{SANDBOX_BC_PORT}", f"http://{host.ip}:{SANDBOX_OMETRIA_PORT}"


def _serve_sandbox(argv: list[str]) -> None:
    import argparse

    from sandbox.server import start_sandbox

    parser = argparse.ArgumentParser(prog="python -m tests.netns sandbox")
    parser.add_argument("--host", required=True)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--window-seconds", type=float, default=30.0)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--push-rate", type=float, default=8.0)
    parser.add_argument("--hook", action="append", default=[], help="DESTINATION|SCOPE,SCOPE...")
    args = parser.parse_args(argv)
    sb = start_sandbox(
        products=args.products,
        seed=args.seed,
        plan="standard",
        window_seconds=args.window_seconds,
        time_scale=args.time_scale,
        push_rate=args.push_rate,
        host=args.host,
        bc_port=SANDBOX_BC_PORT,
        ometria_port=SANDBOX_OMETRIA_PORT,
    )
    for spec in args.hook:
        destination, _, scopes = spec.partition("|")
        sb.register_hooks(destination, [s for s in scopes.split(",") if s] or None)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"sandbox serving: {sb.bc_url} {sb.ometria_url}", flush=True)
    while not stop.wait(1):
        pass
    sb.stop()


# --- the deployment: the Procfile's processes of a fresh clone ----------------------------------------


@dataclass
class Deployment:
    """A fresh `git clone` of HEAD of this checkout, run with this checkout's virtualenv: `cwd` and
    PYTHONPATH are the clone, so its code is what runs (the venv's editable install is only a
    fallback the import system never reaches for the project's packages)."""

    root: Path
    procfile: dict[str, str]

    @classmethod
    def clone(cls, into: Path) -> Deployment:
        subprocess.run(
            ["git", "clone", "--quiet", str(REPO), str(into)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        procfile = {}
        for line in (into / "Procfile").read_text().splitlines():
            kind, sep, command = line.partition(":")
            if sep and kind.strip() and not kind.startswith("#"):
                procfile[kind.strip()] = command.strip()
        return cls(root=into, procfile=procfile)

    def head(self) -> str:
        return subprocess.run(
            ["git", "-C", str(self.root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def env(self, base: dict[str, str], **extra: str) -> dict[str, str]:
        env = dict(base)
        env["PATH"] = f"{VENV_BIN}:{env.get('PATH', os.environ.get('PATH', '/usr/bin:/bin'))}"
        env["PYTHONPATH"] = str(self.root)
        env.update(extra)
        return env

    def start(
        self, host: Host, kind: str, env: dict[str, str], work: Path, label: str | None = None
    ) -> subprocess.Popen:
        """The Procfile's `kind` line on `host`, through a shell as a Procfile runner does."""
        label = label or kind
        return host.spawn(
            label, self.procfile[kind], env=env, cwd=self.root, log=work / f"{host.name}-{label}.log"
        )

    def run(
        self, host: Host, command: list[str], env: dict[str, str], timeout: float = 600
    ) -> subprocess.CompletedProcess:
        return host.run(command, env=env, cwd=self.root, timeout=timeout)


if __name__ == "__main__":
    if sys.argv[1:2] == ["sandbox"]:
        _serve_sandbox(sys.argv[2:])
    else:
        sys.exit("usage: python -m tests.netns sandbox --host IP [--products N ...]")
