"""The ingest benchmark's diagnostic endpoints do what the table says they do: bench.nodb and bench.freedb
answer a valid signed callback with 200 and write nothing; bench.baredb stores the body as one row.
Each runs in its own interpreter, configured by environment variables as gunicorn would run it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import text

from bench.common import REPO
from tests.harness import service_env
from workers.store import storage
from workers.store.storage import session_scope

pytestmark = pytest.mark.services

SCRIPT = """
import json, sys
from bench.loadgen import signed_requests
from {module} import app
head, body = signed_requests(1, "localhost", 80)[0].split(b"\\r\\n\\r\\n", 1)
headers = dict(line.split(": ", 1) for line in head.decode().split("\\r\\n")[1:])
answer = app.test_client().post("/webhooks/bigcommerce", data=body, headers=headers)
print(json.dumps({{"status": answer.status_code}}))
"""


def _post_one(module: str, db_url: str, tmp_path) -> int:  # type: ignore[no-untyped-def]
    env = service_env(
        bc_url="http://127.0.0.1:9",
        ometria_url="http://127.0.0.1:9",
        db_url=db_url,
        broker_url="memory://",
        var_dir=tmp_path,
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(module=module)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])["status"]


@pytest.mark.parametrize("module", ["bench.nodb", "bench.freedb"])
def test_the_receiver_diagnostics_answer_200_and_record_nothing(  # type: ignore[no-untyped-def]
    module: str, pg_url: str, tmp_path
) -> None:
    with session_scope(pg_url) as s:
        before = storage.dirty_counts(s)
    assert _post_one(module, pg_url, tmp_path) == 200
    with session_scope(pg_url) as s:
        assert storage.dirty_counts(s) == before


def test_bare_flask_with_an_insert_stores_the_body(pg_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert _post_one("bench.baredb", pg_url, tmp_path) == 200
    with session_scope(pg_url) as s:
        bodies = [bytes(b) for b in s.execute(text("SELECT body FROM bench_bare_inbox")).scalars()]
        s.execute(text("DROP TABLE bench_bare_inbox"))
    assert len(bodies) == 1 and json.loads(bodies[0])["scope"].startswith("store/")
