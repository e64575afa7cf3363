"""A newcomer's first run: `make run` (the real Makefile, honcho and every process of
Procfile.sandbox) on ports given as variables, printing the admin page's URL and a token generated
for the sandbox run, which the admin API then accepts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.harness import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.services


def test_make_run_takes_its_ports_from_variables_and_prints_the_admin_url_with_a_token(
    tmp_path: Path,
) -> None:
    web, bc, ometria = free_port(), free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BIGCOMMERCE_", "OMETRIA_", "SYNC_", "BCSYNC_", "ADMIN_", "PUBLIC_"))
        and k not in ("DATABASE_URL", "CELERY_BROKER_URL", "STORES_FILE", "WEBHOOK_SECRET")
    }
    env.update(BCSYNC_VAR_DIR=str(tmp_path / "var"), BCSYNC_ENV_FILE=str(tmp_path / "none.env"))
    argv = [
        "make",
        "--no-print-directory",
        "run",
        f"BCSYNC_WEB_PORT={web}",
        f"BCSYNC_SANDBOX_BC_PORT={bc}",
        f"BCSYNC_SANDBOX_OMETRIA_PORT={ometria}",
    ]
    proc = subprocess.Popen(
        argv,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        banner = wait_until(
            lambda: next((ln for ln in lines if "Admin page:" in ln), None) or proc.poll() is not None,
            120,
            what="make run's banner",
        )
        assert isinstance(banner, str), "".join(lines)[-3000:]
        text = "".join(lines)
        assert f"http://127.0.0.1:{bc}" in text and f"http://127.0.0.1:{ometria}" in text
        match = re.search(
            r"Admin page: (http://127\.0\.0\.1:(\d+)/admin/) -- log in with the token (\S+)", banner
        )
        assert match, banner
        url, port, token = match.group(1), int(match.group(2)), match.group(3)
        assert port == web and len(token) >= 24

        def admin_ok() -> bool:
            try:
                resp = requests.get(
                    f"{url}api/status", headers={"Authorization": f"Bearer {token}"}, timeout=2
                )
            except requests.RequestException:
                return False
            return resp.status_code == 200

        wait_until(admin_ok, 120, interval=1, what="the admin API to accept the printed token")
        wrong = requests.get(f"{url}api/status", headers={"Authorization": "Bearer not-it"}, timeout=5)
        assert wrong.status_code == 401
        assert requests.get(f"http://127.0.0.1:{ometria}/", timeout=5).status_code == 200
        assert (tmp_path / "var" / "bcsync.db").is_file()  # the embedded default, where BCSYNC_VAR_DIR says
    finally:
        try:
            os.killpg(proc.pid, signal.SIGINT)  # honcho stops every process it started
            proc.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        time.sleep(0.5)
