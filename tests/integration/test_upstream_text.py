"""Upstream text never carries terminal escapes to the screen (issue 14): an Ometria answer holding a
clear-screen sequence, an OSC 8 link and an OSC 0 title is stored without them, and the real `bcsync`
prints no escape byte for it — nor for rows an older version stored raw (failed show / list / JSON,
status's pause reason)."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.integration import test_cli
from tests.integration.test_cli import Env
from workers.domain.errors import body_excerpt

HOSTILE = (
    "refused \x1b[2Jclear-me \x1b]8;;https://evil.example/\x1b\\link text\x1b]8;;\x1b\\ "
    "\x1b]0;pwned title\x07 then \x9b31mred\x9b0m and \x1b[31mmore\x1b[0m end"
)
# any C0 control but tab and newline, DEL, any C1 control (ESC, BEL, CSI, OSC included)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


env = test_cli.env  # the fixture: the sandbox store, a temp database, no secret in any output


def _controls(text: str) -> list[str]:
    return sorted({repr(c) for c in CONTROL.findall(text)})


@pytest.fixture
def hostile_ometria() -> Iterator[str]:
    """An "Ometria" that refuses every push with HOSTILE as its message (HTTP 400)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"status": "ERROR", "message": HOSTILE}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _raw(env: Env, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(env.db.removeprefix("sqlite:///")) as conn:
        return list(conn.execute(sql, params))


def test_an_upstream_error_is_stored_and_printed_without_escapes(env: Env, hostile_ometria: str) -> None:
    pid = env.sandbox.store.product_ids()[0]
    result = env.run("resync", "product", str(pid), OMETRIA_API_URL=hostile_ometria)
    assert "1 failed" in result.output and _controls(result.output) == [], result.output
    (entry_id, error, tb), *_ = _raw(env, "SELECT id, error, traceback FROM failed_tasks")
    assert "clear-me" in error and "link text" in error and _controls(error) == [], error
    assert _controls(tb.replace("\n", "")) == []
    for args in (
        ["failed", "show", str(entry_id)],
        ["failed", "list"],
        ["failed", "show", str(entry_id), "--json"],
    ):
        proc = env.subprocess(*args)
        assert proc.returncode == 0, proc.stderr
        assert "clear-me" in proc.stdout or args == ["failed", "list"]  # the list cuts errors short
        assert _controls(proc.stdout + proc.stderr) == [], (args, proc.stdout)


def test_rows_stored_raw_by_an_older_version_print_without_escapes(env: Env) -> None:
    store = env.sandbox.store_hash
    _raw(env, "SELECT 1")  # the database exists (migrated by the fixture)
    with sqlite3.connect(env.db.removeprefix("sqlite:///")) as conn:
        entry_id = conn.execute(
            "INSERT INTO failed_tasks (store_hash, task, entity, entity_ids, record_id, kind, error,"
            " traceback, attempts, first_failed_at, last_failed_at, status)"
            " VALUES (?, 'flush', 'product', '[5]', ?, 'permanent', ?, ?, 1, 1.0, 2.0, 'failed')",
            (store, "5\x1b[2J", HOSTILE, f"Traceback:\n  PermanentError: {HOSTILE}"),
        ).lastrowid
        conn.execute(
            "INSERT INTO store_state (store_hash, lookups_at, last_sweep_at, paused_until, pause_reason,"
            " flush_due_at) VALUES (?, 0, 0, 4102444800, ?, 0)",
            (store, HOSTILE),
        )
    for args in (
        ["failed", "show", str(entry_id)],
        ["failed", "show", str(entry_id), "--json"],
        ["failed", "list"],
        ["failed", "list", "--json"],
        ["status"],
        ["status", "--json"],
    ):
        proc = env.subprocess(*args)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "clear-me" in proc.stdout, (args, proc.stdout)
        assert _controls(proc.stdout + proc.stderr) == [], (args, proc.stdout)
        assert "\\u001b" not in proc.stdout and "\\u009b" not in proc.stdout  # nor escaped in JSON


def test_response_excerpts_lose_escapes_but_keep_their_words() -> None:
    excerpt = body_excerpt(HOSTILE, secrets=["s3cret"])
    assert _controls(excerpt) == []
    assert excerpt.startswith("refused clear-me link text then red and more end")


def test_log_lines_quoting_upstream_text_lose_escapes(caplog: pytest.LogCaptureFixture) -> None:
    from workers.ops.redact import install_log_redaction

    install_log_redaction(["s3cret-token"])
    with caplog.at_level(logging.WARNING, logger="workers.test_upstream_text"):
        logging.getLogger("workers.test_upstream_text").warning("Ometria said %s (key s3cret-token)", HOSTILE)
    (message,) = [r.getMessage() for r in caplog.records if r.name == "workers.test_upstream_text"]
    assert "clear-me" in message and "s3cret-token" not in message
    assert _controls(message) == [], message


def test_every_bcsync_console_cleans_what_it_renders() -> None:
    """What any command prints (hooks list's destinations, doctor's details, events, logs) goes through
    workers.cli.render.console: strings, table cells and markup-free text alike lose their escapes,
    while the words stay."""
    import io

    from rich.table import Table

    from workers.cli.render import console

    out = io.StringIO()
    shown = console(out)
    table = Table("destination", "detail")
    table.add_row(HOSTILE, f"[bold]{HOSTILE}[/bold]")
    shown.print(table)
    shown.print(HOSTILE, markup=False)
    shown.print(f"store x paused: {HOSTILE}")
    text = out.getvalue()
    assert _controls(text.replace("\n", "")) == [], repr(text)
    assert text.count("clear-me") == 4 and text.count(" end") >= 4
