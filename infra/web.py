"""The `web` process (the Procfile's `web` line): nginx on $PORT in front of gunicorn on loopback.

    python infra/web.py

Why: gunicorn's worker threads read each request themselves, so clients that send half a request and
stall hold every thread and the receiver stops answering (issue 14). nginx reads each request whole,
with short header/body timeouts and the receiver's 64 KiB limit, before gunicorn sees a byte of it;
gunicorn then only ever works on complete requests. See infra/README.md, "The web shape".

What it does: opens one listening socket on 127.0.0.1 per gunicorn process (ephemeral ports, handed to
gunicorn as fd://N so nothing can take them in between), renders infra/nginx.conf.template for $PORT
into $BCSYNC_VAR_DIR/web/ (nginx balances over the gunicorns, least busy first), empties the metrics folder
$BCSYNC_VAR_DIR/web/prometheus/ and hands it to every gunicorn (PROMETHEUS_MULTIPROC_DIR: GET /metrics then
sums all of them; infra/gunicorn_hooks.py drops a dead worker's live gauges), starts WEB_CONCURRENCY
single-process gunicorns and nginx, forwards SIGTERM/SIGINT (graceful stop of all) and SIGHUP (reload),
and exits when any of them exits, stopping the others.

Environment: PORT (5000), WEB_CONCURRENCY (2 gunicorn processes), WEB_THREADS (4 threads each),
BCSYNC_VAR_DIR (var). The gunicorns get TRUSTED_PROXIES=1 unless it is set (to count a load balancer in
front of this nginx too): nginx sets X-Forwarded-For and X-Real-IP, so the app sees the client's
address (the admin's sign-in throttle counts per client), not 127.0.0.1.
Standard library only: it runs before anything else is known to work.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "nginx.conf.template"
GUNICORN_HOOKS = HERE / "gunicorn_hooks.py"
APP = "consumer.wsgi:app"
MAX_BODY = 64 * 1024  # consumer/webhooks.py MAX_BODY: nginx refuses bigger bodies the same way (413)
CLIENT_TIMEOUT = 5  # seconds for a client to send its headers, and between two reads of its body
GUNICORN_KEEPALIVE = 30  # longer than nginx's upstream keepalive_timeout (20 s): nginx closes first
STOP_SECONDS = 40  # gunicorn's graceful timeout is 30 s
NGINX_SEARCH = ("/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin")
# gunicorn's default access log line, with the client's address as nginx saw it
ACCESS_LOG_FORMAT = '%({x-real-ip}i)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'


def say(message: str) -> None:
    print(f"web: {message}", file=sys.stderr, flush=True)


def find_nginx() -> str:
    path = os.pathsep.join([os.environ.get("PATH", ""), *NGINX_SEARCH])
    found = shutil.which("nginx", path=path)
    if found is None:
        raise SystemExit(
            "web: nginx not found. The web process runs gunicorn behind nginx so that slow clients "
            "cannot starve it (infra/README.md). Install it: `apt-get install nginx` "
            "(or `make nginx` as root)."
        )
    return found


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip() or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"web: {name}={raw!r} is not a whole number") from None
    if not 0 < value < 65536:
        raise SystemExit(f"web: {name}={value} is out of range")
    return value


def render_nginx_conf(run_dir: Path, port: int, upstreams: list[str]) -> Path:
    """nginx.conf for `port`, proxying to `upstreams`, every file it writes under `run_dir`."""
    user = ""
    if os.geteuid() == 0:  # nginx's workers drop root; name an account that exists here
        nobody = pwd.getpwnam("nobody")
        user = f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
    fields = {
        "USER": user,
        "RUN_DIR": str(run_dir),
        "PORT": str(port),
        "UPSTREAM_SERVERS": "\n".join(f"        server {u};" for u in upstreams),
        "MAX_BODY": str(MAX_BODY),
        "CLIENT_TIMEOUT": str(CLIENT_TIMEOUT),
    }
    text = TEMPLATE.read_text()
    for name, value in fields.items():
        text = text.replace(f"@{name}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise SystemExit(f"web: {TEMPLATE} has fields this launcher does not fill: {left}")
    path = run_dir / "nginx.conf"
    path.write_text(text)
    return path


def loopback_listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def metrics_folder(run_dir: Path) -> Path:
    """prometheus-client's multiprocess folder, shared by every gunicorn and emptied at each start:
    what an earlier run counted must not be summed into this one (its processes are gone)."""
    folder = run_dir / "prometheus"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700)
    return folder


def gunicorn_argv(fd: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--worker-class",
        "gthread",
        "--workers",
        "1",
        "--threads",
        str(env_int("WEB_THREADS", 4)),
        "--bind",
        f"fd://{fd}",
        "--keep-alive",
        str(GUNICORN_KEEPALIVE),
        "--access-logfile",
        "-",
        "--access-logformat",
        ACCESS_LOG_FORMAT,
        "--config",
        str(GUNICORN_HOOKS),
        APP,
    ]


def gunicorn_env(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The gunicorns' environment: ours, plus the one proxy (this nginx) their app may believe."""
    env = dict(environ)
    if not env.get("TRUSTED_PROXIES", "").strip():
        env["TRUSTED_PROXIES"] = "1"
    return env


class Web:
    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False

    def start(self) -> None:
        port = env_int("PORT", 5000)
        nginx = find_nginx()
        run_dir = (Path(os.environ.get("BCSYNC_VAR_DIR", "").strip() or "var") / "web").absolute()
        run_dir.mkdir(parents=True, exist_ok=True)
        listeners = [loopback_listener() for _ in range(env_int("WEB_CONCURRENCY", 2))]
        upstreams = [f"127.0.0.1:{sock.getsockname()[1]}" for sock in listeners]
        conf = render_nginx_conf(run_dir, port, upstreams)
        env = {**gunicorn_env(os.environ), "PROMETHEUS_MULTIPROC_DIR": str(metrics_folder(run_dir))}
        for i, sock in enumerate(listeners, 1):
            self.procs[f"gunicorn-{i}"] = subprocess.Popen(
                gunicorn_argv(sock.fileno()), pass_fds=[sock.fileno()], env=env
            )
            sock.close()  # that gunicorn holds it now
        self.procs["nginx"] = subprocess.Popen([nginx, "-p", str(run_dir), "-c", str(conf), "-e", "stderr"])
        say(f"nginx on port {port} in front of gunicorn on {', '.join(upstreams)} ({conf})")

    def signal(self, signum: int, _frame: object) -> None:
        if signum == signal.SIGHUP:  # reload: gunicorn restarts its workers, nginx re-reads its file
            for proc in self.procs.values():
                proc.send_signal(signal.SIGHUP)
            return
        self.stop()

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        for name, proc in self.procs.items():
            if proc.poll() is None:
                proc.send_signal(signal.SIGQUIT if name == "nginx" else signal.SIGTERM)

    def wait(self) -> int:
        """Until all have exited; the first to exit unasked takes the others down. Its code is ours."""
        code: int | None = None
        deadline: float | None = None
        while any(p.poll() is None for p in self.procs.values()):
            for name, proc in self.procs.items():
                if proc.returncode is not None and not self.stopping:
                    say(f"{name} exited (code {proc.returncode}); stopping the others")
                    code = proc.returncode or 1
                    self.stop()
            if self.stopping and deadline is None:
                deadline = time.monotonic() + STOP_SECONDS
            if deadline is not None and time.monotonic() > deadline:
                for proc in self.procs.values():
                    if proc.poll() is None:
                        proc.kill()
            time.sleep(0.1)
        return code if code is not None else 0


def main() -> int:
    web = Web()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, web.signal)
    try:
        web.start()
    except BaseException:
        web.stop()
        web.wait()
        raise
    return web.wait()


if __name__ == "__main__":
    sys.exit(main())
