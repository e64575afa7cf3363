"""Which `.env` is read, and what of it (issue 14): only the project directory's (or BCSYNC_ENV_FILE's),
never the current directory's, and only for the variables the service defines (never HTTP_PROXY and
the like into the process's environment). A local listener stands in for the attacker and proves that
the real `bcsync` sends it nothing — not the X-Auth-Token, not a connection. Outside the sandbox, an API
URL that is not https on the official host is warned about once, naming the variable, never a value."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.server import Sandbox, start_sandbox
from tests.harness import free_port
from workers import settings as settings_module

BCSYNC = Path(sys.executable).parent / "bcsync"
PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


class Listener:
    """A TCP listener on loopback that keeps whatever arrives (the attacker's end)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(2)
                try:
                    self.received.append(conn.recv(65536))
                    conn.sendall(
                        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def attacker() -> Iterator[Listener]:
    listener = Listener()
    try:
        yield listener
    finally:
        listener.close()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = start_sandbox(products=4, seed=3, window_seconds=3)
    try:
        yield sb
    finally:
        sb.stop()


def _clean_environ(tmp: Path, **extra: str) -> dict[str, str]:
    """The test process's environment without any of the service's variables or proxies, plus `extra`."""
    names = set(settings_module.ENVIRONMENT) | {p for name in PROXIES for p in (name, name.lower())}
    env = {k: v for k, v in os.environ.items() if k not in names}
    env.update(DATABASE_URL=f"sqlite:///{tmp / 'bcsync.db'}", BCSYNC_VAR_DIR=str(tmp / "var"), COLUMNS="200")
    env.update(extra)
    return env


def _bcsync(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BCSYNC), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_hostile_dotenv_in_the_current_directory_is_not_read(tmp_path: Path, attacker: Listener) -> None:
    token = f"real-token-{uuid.uuid4().hex}"
    elsewhere = tmp_path / "downloads"
    elsewhere.mkdir()
    (elsewhere / ".env").write_text(
        f"BIGCOMMERCE_API_URL={attacker.url}/attacker\n"
        f"HTTP_PROXY={attacker.url}\nHTTPS_PROXY={attacker.url}\nhttps_proxy={attacker.url}\n"
    )
    # The real credentials come from the environment; the official host is reached through a proxy
    # that refuses at once (a port nobody listens on), so the token never leaves this machine.
    env = _clean_environ(
        tmp_path,
        BIGCOMMERCE_STORE_HASH="realstore",
        BIGCOMMERCE_ACCESS_TOKEN=token,
        WEBHOOK_SECRET=f"hook-{uuid.uuid4().hex}",
        HTTPS_PROXY=f"http://127.0.0.1:{free_port()}",
    )
    proc = _bcsync(elsewhere, env, "hooks", "list")
    assert attacker.connections == 0 and attacker.received == [], attacker.received[:1]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert token not in proc.stdout + proc.stderr
    assert ".env is not read" in proc.stderr  # the operator is told why that file had no effect


def test_the_project_dotenv_sets_only_the_services_variables(
    tmp_path: Path, attacker: Listener, sandbox: Sandbox
) -> None:
    project_env = tmp_path / "bcsync.env"
    project_env.write_text(
        f"BIGCOMMERCE_STORE_HASH={sandbox.store_hash}\nBIGCOMMERCE_ACCESS_TOKEN={sandbox.access_token}\n"
        f"WEBHOOK_SECRET={sandbox.webhook_secret}\nBIGCOMMERCE_API_URL={sandbox.bc_url}\n"
        f"HTTP_PROXY={attacker.url}\nhttp_proxy={attacker.url}\nALL_PROXY={attacker.url}\n"
    )
    env = _clean_environ(tmp_path, BCSYNC_ENV_FILE=str(project_env))
    proc = _bcsync(tmp_path, env, "hooks", "list", "--json")
    assert attacker.connections == 0 and attacker.received == [], attacker.received[:1]
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.lstrip().startswith("[")  # the sandbox store answered, directly
    assert sandbox.access_token not in proc.stdout + proc.stderr


def test_an_api_url_off_the_official_host_is_warned_about_once(tmp_path: Path, sandbox: Sandbox) -> None:
    env = _clean_environ(
        tmp_path,
        BCSYNC_ENV_FILE=str(tmp_path / "absent.env"),
        BIGCOMMERCE_STORE_HASH=sandbox.store_hash,
        BIGCOMMERCE_ACCESS_TOKEN=sandbox.access_token,
        WEBHOOK_SECRET=sandbox.webhook_secret,
        BIGCOMMERCE_API_URL=sandbox.bc_url,
        OMETRIA_API_URL=sandbox.ometria_url,
    )
    proc = _bcsync(tmp_path, env, "hooks", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("BIGCOMMERCE_API_URL is not https") == 1, proc.stderr
    assert proc.stderr.count("OMETRIA_API_URL is not https") == 1, proc.stderr
    assert sandbox.bc_url not in proc.stderr and sandbox.access_token not in proc.stderr
    # the sandbox itself (no store hash) is not warned about
    sandbox_env = _clean_environ(tmp_path, BCSYNC_ENV_FILE=str(tmp_path / "absent.env"))
    quiet = _bcsync(tmp_path, sandbox_env, "db", "upgrade")
    assert quiet.returncode == 0, quiet.stderr
    assert "API_URL" not in quiet.stderr


def test_the_warning_is_logged_once_per_process_and_names_no_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name in (*settings_module.ENVIRONMENT, *PROXIES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(settings_module, "_warned", set())
    monkeypatch.setenv("BCSYNC_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("BIGCOMMERCE_STORE_HASH", "abc123")
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", "tok-s3cret")
    monkeypatch.setenv("BIGCOMMERCE_API_URL", "https://user:pa55@api.bigcommerce.com.evil.example/x?k=q")
    monkeypatch.setenv("OMETRIA_API_URL", "https://api.ometria.com")
    with caplog.at_level(logging.WARNING, logger="workers.settings"):
        settings_module.load_settings()
        settings_module.load_settings()
    warnings = [r.getMessage() for r in caplog.records if "API_URL" in r.getMessage()]
    assert warnings == [
        "BIGCOMMERCE_API_URL does not name api.bigcommerce.com: the store's credentials are sent there "
        "(expected https://api.bigcommerce.com)"
    ]
    for secret in ("tok-s3cret", "pa55", "evil.example", "k=q"):
        assert secret not in warnings[0]
