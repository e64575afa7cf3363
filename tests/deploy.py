"""Deploying from a fresh clone, for tests/integration/test_infra.py and
tests/reliability/test_slow_clients.py: clone HEAD into an empty folder, read the Procfile, run its
processes with production-like settings (PostgreSQL, Redis, a store hash and its secrets, no .env), and
speak raw HTTP to them."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.harness import free_port, wait_until

REPO = Path(__file__).resolve().parents[1]
NGINX_PATHS = ("/usr/sbin", "/usr/local/sbin")

# A production store's settings, with upstream APIs pointed at a closed loopback port (no traffic out).
STORE_HASH = "deploy1"
ACCESS_TOKEN = "deploy-access-token-0123456789abcdef"
CLIENT_SECRET = "deploy-client-secret-0123456789abcdef"
WEBHOOK_SECRET = "deploy-webhook-secret-0123456789abcdef"
OMETRIA_KEY = "deploy-ometria-key-0123456789abcdef"


def need_nginx() -> None:
    path = os.pathsep.join([os.environ.get("PATH", ""), *NGINX_PATHS])
    if shutil.which("nginx", path=path) is None:
        pytest.skip(
            "nginx is not installed (`make nginx` as root, or apt-get install nginx): "
            "the web process runs gunicorn behind it"
        )


def fresh_clone(dest: Path) -> Path:
    """`git clone` of this repository's HEAD (committed files only) into `dest`."""
    if not (REPO / ".git").exists():
        pytest.skip(f"{REPO} is not a git repository: nothing to clone")
    subprocess.run(["git", "clone", "-q", str(REPO), str(dest)], check=True, capture_output=True, timeout=120)
    return dest


def procfile(root: Path, name: str = "Procfile") -> dict[str, str]:
    """{process: command line}, as Procfile platforms (and honcho) read it."""
    out = {}
    for line in (root / name).read_text().splitlines():
        key, sep, command = line.partition(":")
        if sep and key.strip() and not key.startswith("#"):
            out[key.strip()] = command.strip()
    return out


def production_env(db_url: str, broker_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """A clean environment (nothing inherited but PATH, HOME and the locale) of a single-store deploy."""
    env = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "LC_ALL", "TMPDIR")}
    env.update(
        {
            "PATH": os.pathsep.join(
                [str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")]
            ),
            "DATABASE_URL": db_url,
            "CELERY_BROKER_URL": broker_url,
            "BCSYNC_VAR_DIR": str(var_dir),
            "BCSYNC_ENV_FILE": str(var_dir.parent / "no.env"),
            "BIGCOMMERCE_STORE_HASH": STORE_HASH,
            "BIGCOMMERCE_ACCESS_TOKEN": ACCESS_TOKEN,
            "BIGCOMMERCE_CLIENT_SECRET": CLIENT_SECRET,
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "BIGCOMMERCE_API_URL": "http://127.0.0.1:9",
            "OMETRIA_API_KEY": OMETRIA_KEY,
            "OMETRIA_API_URL": "http://127.0.0.1:9",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def spawn(argv: list[str], cwd: Path, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A process in its own session (so that stopping it reaches everything it started)."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv, cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """SIGTERM to the process (as a platform does), then its code; SIGKILL to its group if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise
    finally:
        kill_group(proc)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


# --- raw HTTP ----------------------------------------------------------------------------------


def request(port: int, raw: bytes, timeout: float) -> tuple[int, bytes, float]:
    """(status, body, seconds) of one request on a new connection; raises on timeout."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.settimeout(max(0.01, timeout - (time.monotonic() - started)))
        sock.sendall(raw)
        data = b""
        while True:
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                length = _content_length(head)
                if length is not None and len(body) >= length:
                    break
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            sock.settimeout(max(0.01, timeout - (time.monotonic() - started)))
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body, time.monotonic() - started


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def get_request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: deploy.test\r\nConnection: close\r\n\r\n".encode()


def get(port: int, path: str, timeout: float = 5) -> tuple[int, bytes, float]:
    return request(port, get_request(path), timeout)


def signed_callback(product_id: int, store_hash: str = STORE_HASH) -> bytes:
    """A genuine `store/product/updated` callback: Standard Webhooks signature and X-Webhook-Secret."""
    from standardwebhooks import Webhook

    from bench.loadgen import callback

    body = json.dumps(callback("store/product/updated", product_id, store_hash), separators=(",", ":"))
    message_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    signature = Webhook(base64.b64encode(CLIENT_SECRET.encode()).decode()).sign(message_id, now, body)
    head = (
        "POST /webhooks/bigcommerce HTTP/1.1\r\nHost: deploy.test\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Webhook-Secret: {WEBHOOK_SECRET}\r\nwebhook-id: {message_id}\r\n"
        f"webhook-timestamp: {int(now.timestamp())}\r\nwebhook-signature: {signature}\r\n\r\n"
    )
    return head.encode() + body.encode()


def wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(
                f"web exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}"
            )
        with contextlib.suppress(OSError, ValueError):
            return get(port, "/readyz", timeout=3)[0] == 200
        return False

    wait_until(ready, timeout, interval=0.5, what=f"GET /readyz 200 on port {port}")


@contextlib.contextmanager
def running(
    argv: list[str], cwd: Path, env: Mapping[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    proc = spawn(argv, cwd, env, log)
    try:
        yield proc
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            stop(proc)


__all__ = ["free_port", "wait_until"]
