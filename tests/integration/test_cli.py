"""`bcsync`, the ops/support console script, against a real temp SQLite database and the sandbox
(simulated BigCommerce store and Ometria account on loopback): each command's happy path and its
error path, the failed-list round trip, dry runs that push nothing, verify finding and repairing
drift, and no configured secret in any output. Most runs use click's CliRunner in-process; a few
run the installed console script as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result
from sqlalchemy import select

from sandbox.server import Sandbox, start_sandbox
from workers.cli import cli
from workers.store import storage
from workers.store.migrate import upgrade
from workers.store.storage import CATEGORY, PRODUCT, Dirty, FailedTask, Ledger, session_scope
from workers.sync.hooks import scopes_for

HANDLED_SCOPES = scopes_for()  # every scope register subscribes to: the handled ones + channel 1's

BCSYNC = Path(sys.executable).parent / "bcsync"


@dataclass
class Env:
    sandbox: Sandbox
    tmp: Path
    vars: dict[str, str]
    outputs: list[str] = field(default_factory=list)

    @property
    def db(self) -> str:
        return self.vars["DATABASE_URL"]

    @property
    def secrets(self) -> list[str]:
        sb = self.sandbox
        return [sb.access_token, sb.client_secret, sb.webhook_secret, sb.ometria_key]

    def run(self, *args: str, **overrides: str) -> Result:
        result = CliRunner().invoke(cli, list(args), env={**self.vars, **overrides}, catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # an unexpected traceback is a test failure, not an exit code
        self.outputs.append(result.output)
        return result

    def ok(self, *args: str, **overrides: str) -> str:
        result = self.run(*args, **overrides)
        assert result.exit_code == 0, result.output
        return result.output

    def subprocess(self, *args: str, **overrides: str) -> subprocess.CompletedProcess:
        env = {**os.environ, **self.vars, **overrides}
        proc = subprocess.run([str(BCSYNC), *args], env=env, capture_output=True, text=True, timeout=120)
        self.outputs.append(proc.stdout + proc.stderr)
        return proc

    def ometria(self) -> dict[str, dict]:
        return dict(self.sandbox.account.records)

    def dirty(self) -> dict[tuple[str, int], str]:
        with session_scope(self.db) as s:
            return {(d.entity, d.entity_id): d.reason for d in s.scalars(select(Dirty))}

    def ledger(self) -> dict[str, str]:
        with session_scope(self.db) as s:
            return {r.record_id: r.fingerprint for r in s.scalars(select(Ledger))}

    def seed_failure(self, ids: list[int], error: str = "Ometria refused it", task: str = "flush") -> int:
        with session_scope(self.db) as s:
            return storage.record_failure(
                s,
                store_hash=self.sandbox.store_hash,
                task=task,
                entity=PRODUCT,
                entity_ids=ids,
                kind="permanent",
                error=error,
                traceback="Traceback (most recent call last):\n  boom",
            ).id

    def status_of(self, entry_id: int) -> str:
        with session_scope(self.db) as s:
            return s.get(FailedTask, entry_id).status


def sandbox_vars(sb: Sandbox, tmp: Path) -> dict[str, str]:
    return {
        "BIGCOMMERCE_STORE_HASH": sb.store_hash,
        "BIGCOMMERCE_ACCESS_TOKEN": sb.access_token,
        "BIGCOMMERCE_CLIENT_SECRET": sb.client_secret,
        "WEBHOOK_SECRET": sb.webhook_secret,
        "BIGCOMMERCE_API_URL": sb.bc_url,
        "OMETRIA_API_KEY": sb.ometria_key,
        "OMETRIA_API_URL": sb.ometria_url,
        "OMETRIA_PUSH_RATE": "100",
        "DATABASE_URL": f"sqlite:///{tmp / 'bcsync.db'}",
        "BCSYNC_VAR_DIR": str(tmp),
        "BCSYNC_ENV_FILE": str(tmp / "absent.env"),
        "CELERY_BROKER_URL": "",
        "STORES_FILE": "",
        "PUBLIC_URL": "",
        "ADMIN_TOKEN": "",
        "OMETRIA_STORE_ID": "",
        "BIGCOMMERCE_CHANNEL_ID": "1",
        "COLUMNS": "200",
    }


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    sb = start_sandbox(products=24, seed=5, window_seconds=3)
    e = Env(sandbox=sb, tmp=tmp_path, vars=sandbox_vars(sb, tmp_path))
    upgrade(e.db)  # for seeding; the commands themselves migrate a fresh database (tested below)
    try:
        yield e
        for out in e.outputs:  # no command ever prints a configured secret
            for secret in e.secrets:
                assert secret not in out, "a secret was printed"
    finally:
        sb.stop()


def product_with_variants(sb: Sandbox) -> int:
    return next(pid for pid in sb.store.product_ids() if sb.store.option_variant_ids(pid))


# --- database-only commands ----------------------------------------------------------------------


def test_status_on_a_fresh_database_and_as_json(env: Env) -> None:
    out = env.ok("status")
    assert env.sandbox.store_hash in out and "never" in out
    with session_scope(env.db) as s:
        storage.mark_dirty(s, env.sandbox.store_hash, PRODUCT, [1, 2], now=time.time() - 120)
        storage.mark_dirty(s, env.sandbox.store_hash, CATEGORY, [3])
    env.seed_failure([4])
    data = json.loads(env.ok("status", "--json"))
    (store,) = data["stores"]
    assert store["dirty"] == {PRODUCT: 2, CATEGORY: 1} and store["failed"] == 1
    assert store["oldest_dirty_age_s"] >= 119


def test_the_installed_console_script_runs_as_a_subprocess(env: Env, tmp_path: Path) -> None:
    fresh = f"sqlite:///{tmp_path / 'fresh' / 'new.db'}"
    proc = env.subprocess("db", "upgrade", DATABASE_URL=fresh)
    assert proc.returncode == 0, proc.stderr
    assert "latest migration" in proc.stdout
    proc = env.subprocess("status", "--json", DATABASE_URL=fresh)
    assert proc.returncode == 0 and json.loads(proc.stdout)["stores"][0]["dirty_total"] == 0
    proc = env.subprocess("failed", "show", "12345")
    assert proc.returncode == 1
    assert "no failed task with id 12345" in proc.stderr and "Traceback" not in proc.stderr


def test_failed_list_show_replay_discard_round_trip(env: Env) -> None:
    pid = product_with_variants(env.sandbox)
    first = env.seed_failure([pid], error="Ometria rejected " + "x" * 200)
    second = env.seed_failure([pid + 1000], error="gone for good")
    third = env.seed_failure([999999], error="another")
    out = env.ok("failed", "list")
    for i in (first, second, third):
        assert f"│ {i} " in out
    assert "Ometria rejected" in out and "x" * 200 not in out  # error shortened in the table
    shown = env.ok("failed", "show", str(first))
    assert "x" * 200 in shown and "Traceback (most recent call last)" in shown
    assert json.loads(env.ok("failed", "show", str(first), "--json"))["ids"] == [pid]

    out = env.ok("failed", "replay", str(first))
    assert f"replayed #{first}" in out and "pushed to Ometria" in out
    assert str(pid) in env.ometria()  # the flush ran in-process and pushed the product
    assert env.status_of(first) == "replayed" and env.dirty() == {}
    again = env.ok("failed", "replay", str(first))  # harmless: nothing open to redo
    assert "already replayed" in again and "nothing to replay" in again

    assert "discarded 1 entry" in env.ok("failed", "discard", str(second))
    assert env.status_of(second) == "discarded"
    assert "already discarded" in env.ok("failed", "discard", str(second))
    listed = json.loads(env.ok("failed", "list", "--all", "--json"))
    assert {e["id"]: e["status"] for e in listed} == {first: "replayed", second: "discarded", third: "failed"}
    assert [e["id"] for e in json.loads(env.ok("failed", "list", "--json"))] == [third]


def test_failed_replay_all_since_and_async(env: Env) -> None:
    old = env.seed_failure([7])
    with session_scope(env.db) as s:
        s.get(FailedTask, old).last_failed_at = time.time() - 3 * 86400
    recent = env.seed_failure([8])
    out = env.ok("failed", "replay", "--all", "--since", "1d", "--async")
    assert f"#{recent}" in out and f"#{old}" not in out
    assert env.dirty() == {(PRODUCT, 8): "replay"}  # --async: marked, not flushed here
    assert env.status_of(old) == "failed"
    env.ok("failed", "replay", "--all")
    assert env.status_of(old) == "replayed" and env.dirty() == {}


@pytest.mark.parametrize(
    "args, message",
    [
        (["failed", "show", "999"], "no failed task with id 999"),
        (["failed", "replay", "5", "999"], "no failed task with id"),
        (["failed", "discard", "999"], "no failed task with id 999"),
        (["failed", "replay"], "give entry ids, or --all"),
        (["failed", "replay", "1", "--all"], "give entry ids, or --all"),
        (["failed", "replay", "1", "--since", "2h"], "--since goes with --all"),
    ],
)
def test_failed_errors_are_one_line_and_exit_1(env: Env, args: list[str], message: str) -> None:
    env.seed_failure([5])
    result = env.run(*args)
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("value", ["yesterday", "2h ago", "2024-13-45", ""])
def test_a_bad_time_is_a_usage_error(env: Env, value: str) -> None:
    result = env.run("failed", "list", "--since", value)
    assert result.exit_code == 2 and "not a time" in result.output


@pytest.mark.parametrize("value", ["2h", "30m", "1d", "2024-05-01T12:00:00Z", "2024-05-01", "1714564800"])
def test_times_in_iso_unix_or_relative_form(env: Env, value: str) -> None:
    env.seed_failure([5])
    assert env.run("failed", "list", "--since", value, "--json").exit_code == 0


# --- resync --------------------------------------------------------------------------------------


def test_resync_product_pushes_it_and_says_what(env: Env) -> None:
    pid = product_with_variants(env.sandbox)
    result = env.run("resync", "product", str(pid), "999999")
    out = result.output
    assert result.exit_code == 1  # DESIGN.md: an id the store does not have and we never pushed
    assert "product 999999 not found" in out
    variants = env.sandbox.store.option_variant_ids(pid)
    assert "1 product(s) to push whole" in out
    expected = {str(pid), *(f"{pid}-{v}" for v in variants)}
    assert expected <= set(env.ometria()) and len(env.ometria()) == len(expected)
    for rid in expected:
        assert rid in out
    assert env.dirty() == {}
    pushes = env.sandbox.account.stats["pushes"]
    out = env.ok("resync", "product", str(pid))  # a repair: pushed whole again, whatever the ledger says
    assert f"{len(expected)} pushed" in out and "pushed to Ometria" in out
    assert env.sandbox.account.stats["pushes"] > pushes


def test_resync_product_async_only_marks_and_wakes(env: Env) -> None:
    proc = env.subprocess("resync", "product", "3", "--async")
    assert proc.returncode == 0, proc.stderr
    assert env.dirty() == {(PRODUCT, 3): "resync"} and env.ometria() == {}
    queue = env.tmp / "broker" / "queue"
    assert len(list(queue.iterdir())) == 1, "no wake-up was published to the embedded broker"
    proc = env.subprocess("resync", "all", "--async", "--dry-run")
    assert proc.returncode == 0 and "enqueued a dry-run resync" in proc.stdout, proc.stderr
    assert len(list(queue.iterdir())) == 2 and env.ometria() == {}


def test_resync_category_pushes_its_products(env: Env) -> None:
    store = env.sandbox.store
    cid, members = next(
        (c, ids)
        for c in store.category_ids()
        if (ids := [p["id"] for p in store.query_products(categories=[c], limit=250)[1]])
    )
    out = env.ok("resync", "category", str(cid))
    assert "product(s) to push whole" in out
    assert {str(p) for p in members} <= set(env.ometria())
    assert env.dirty() == {}


def test_resync_all_dry_run_pushes_nothing_then_resync_all_pushes_everything_once(env: Env) -> None:
    out = env.ok("resync", "all", "--dry-run")
    assert "Nothing was pushed" in out and "would be pushed" in out and "new" in out
    assert env.ometria() == {} and env.ledger() == {} and env.dirty() == {}
    assert env.sandbox.account.stats["pushes"] == 0
    products = len(env.sandbox.store.product_ids())
    assert f"{products} product(s) seen" in out

    out = env.ok("resync", "all")
    assert f"{products} product(s) seen" in out
    held = env.ometria()
    assert len(held) == len(env.ledger()) > products
    out = env.ok("resync", "all")
    assert "0 record(s) changed, 0 pushed" in out
    assert env.ok("resync", "all", "--dry-run").count("0 record(s) would be pushed") == 1


def test_resync_errors(env: Env) -> None:
    for args, code, message in (
        (["resync", "product"], 2, "Missing argument"),
        (["resync", "product", "0"], 2, "0"),
        (["resync", "product", "abc"], 2, "abc"),
        (["resync", "product", "1", "--store", "nope"], 1, "not configured"),
    ):
        result = env.run(*args)
        assert result.exit_code == code and message in result.output, result.output


def test_an_api_error_is_one_line_and_never_shows_the_token(env: Env) -> None:
    result = env.run("resync", "all", BIGCOMMERCE_ACCESS_TOKEN="wrong-token-1234567")
    assert result.exit_code == 1
    assert "401" in result.output and "Traceback" not in result.output
    assert "wrong-token-1234567" not in result.output


def test_a_bad_stores_file_is_a_clear_configuration_error(env: Env, tmp_path: Path) -> None:
    bad = tmp_path / "stores.toml"
    bad.write_text("[shop]\nnot_a_key = 1\n")
    result = env.run("status", STORES_FILE=str(bad))
    assert result.exit_code == 1 and "unknown keys" in result.output and "Traceback" not in result.output


# --- verify --------------------------------------------------------------------------------------


def _push_raw(env: Env, records: list[dict[str, Any]]) -> None:
    resp = requests.post(
        f"{env.sandbox.ometria_url}/v2/push",
        json=records,
        timeout=5,
        headers={"X-Ometria-Auth": env.sandbox.ometria_key},
    )
    assert resp.status_code == 200, resp.text


def test_verify_finds_drift_exits_1_and_fix_repairs_it(env: Env) -> None:
    store = env.sandbox.store
    env.ok("resync", "all")
    assert "no drift" in env.ok("verify")
    ids = store.product_ids()
    changed_pid, missing_pid, gone_pid = ids[0], ids[1], ids[2]
    record = dict(env.ometria()[str(changed_pid)])
    record["title"] = "Tampered title"
    _push_raw(env, [record])  # someone edited Ometria behind our back
    with env.sandbox.account.lock:
        env.sandbox.account.records.pop(str(missing_pid))  # a record Ometria lost
    store.delete_product(gone_pid)  # gone from the store, no webhook reached us
    assert env.ometria()[str(gone_pid)]["is_active"] is True

    result = env.run("verify")
    assert result.exit_code == 1
    assert "Tampered title" in result.output and "differs" in result.output
    assert "missing" in result.output and "should-be-inactive" in result.output
    report = json.loads(env.run("verify", "--json").output)
    kinds = {d["record_id"]: d["kind"] for d in report["drift"]}
    assert kinds[str(changed_pid)] == "differs" and kinds[str(missing_pid)] == "missing"
    assert kinds[str(gone_pid)] == "should-be-inactive"
    differs = next(d for d in report["drift"] if d["kind"] == "differs")
    assert set(differs["fields"]) == {"title"} and differs["fields"]["title"]["ometria"] == "Tampered title"
    assert differs["fields"]["title"]["store"] == store.get_product(changed_pid)["name"]
    only = json.loads(env.run("verify", "--product", str(changed_pid), "--json").output)
    assert {d["product_id"] for d in only["drift"]} == {changed_pid}

    out = env.ok("verify", "--fix")
    assert "repaired" in out
    held = env.ometria()
    assert held[str(changed_pid)]["title"] != "Tampered title" and str(missing_pid) in held
    assert held[str(gone_pid)]["is_active"] is False
    assert "no drift" in env.ok("verify")


def test_verify_arguments(env: Env) -> None:
    assert env.run("verify", "--product").exit_code == 1
    assert env.run("verify", "--all", "5").exit_code == 1
    assert env.run("verify", "--product", "x").exit_code == 1
    pid = env.sandbox.store.product_ids()[0]
    result = env.run("verify", "--product", f"{pid},{pid}")
    assert result.exit_code == 1 and "missing" in result.output  # nothing pushed yet


# --- hooks, storefront token, doctor, sandbox ----------------------------------------------------


def test_hooks_register_is_idempotent_and_check_reactivates(env: Env) -> None:
    result = env.run("hooks", "register")
    assert result.exit_code == 1 and "--destination" in result.output and "PUBLIC_URL" in result.output
    out = env.ok("hooks", "register", PUBLIC_URL="https://sync.example.com/")
    assert out.count("│ created ") == len(HANDLED_SCOPES)
    hooks = env.sandbox.store.list_hooks()
    assert {h["scope"] for h in hooks} == set(HANDLED_SCOPES)
    assert {h["destination"] for h in hooks} == {"https://sync.example.com/webhooks/bigcommerce"}
    assert all(h["headers"] == {"X-Webhook-Secret": env.sandbox.webhook_secret} for h in hooks)

    out = env.ok("hooks", "register", "--destination", "https://sync.example.com/webhooks/bigcommerce")
    assert out.count("│ unchanged ") == len(HANDLED_SCOPES)
    assert len(env.sandbox.store.list_hooks()) == len(HANDLED_SCOPES)

    victim = hooks[0]
    env.sandbox.store.deactivate_hook(victim["id"])
    listed = json.loads(env.ok("hooks", "list", "--json"))
    assert {h["id"]: h["is_active"] for h in listed}[victim["id"]] is False
    assert all(h["headers"] == ["X-Webhook-Secret"] for h in listed)
    assert "NO" in env.ok("hooks", "list")
    out = env.ok("hooks", "check")
    assert f"re-activated hook {victim['id']}" in out
    assert all(h["is_active"] for h in env.sandbox.store.list_hooks())
    env.sandbox.store.deactivate_hook(victim["id"])
    out = env.ok("hooks", "register", PUBLIC_URL="https://sync.example.com")
    assert "re-activated" in out and len(env.sandbox.store.list_hooks()) == len(HANDLED_SCOPES)
    assert "no deactivated hooks" in env.ok("hooks", "check")
    assert env.run("hooks", "register", "--destination", "ftp://x").exit_code == 1


def test_storefront_token_create(env: Env) -> None:
    future = str(int(time.time()) + 86400)
    result = env.run(
        "storefront-token",
        "create",
        "--channel-id",
        "1",
        "--expires-at",
        future,
        "--cors-origin",
        "https://shop.example",
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.count(".") == 2 and len(token) > 20  # the JWT alone on stdout
    iso_time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    assert (
        env.run(
            "storefront-token",
            "create",
            "--channel-id",
            "1",
            "--expires-at",
            iso_time,
            "--cors-origin",
            "https://a.example",
            "--cors-origin",
            "https://b.example",
        ).exit_code
        == 0
    )
    for args, message in (
        (["--expires-at", "1000"], "in the past"),
        (
            [
                "--expires-at",
                future,
                "--cors-origin",
                "https://c.example",
                "--cors-origin",
                "https://d.example",
            ],
            "one or two",
        ),
        (["--expires-at", future, "--channel-id", "7"], "channel"),
    ):
        base = ["storefront-token", "create", "--channel-id", "1", "--cors-origin", "https://a.example"]
        result = env.run(*base, *args)
        assert result.exit_code == 1 and message in result.output, result.output


def test_doctor_green_then_red(env: Env) -> None:
    env.ok("hooks", "register", "--destination", "https://sync.example.com/webhooks/bigcommerce")
    out = env.ok("doctor", ADMIN_TOKEN="admin-secret-token-77-4e9a0c2b6d8f13")
    assert "all checks passed" in out and "admin-secret-token-77-4e9a0c2b6d8f13" not in out
    for name in (
        "database",
        "broker",
        "BigCommerce token",
        "scope: products",
        "scope: webhooks",
        "hooks",
        "Ometria key",
    ):
        assert name in out
    result = env.run("doctor", OMETRIA_API_KEY="bad-ometria-key-42")
    assert result.exit_code == 1 and "Ometria key" in result.output and "403" in result.output
    assert "bad-ometria-key-42" not in result.output
    env.sandbox.store.deactivate_hook(env.sandbox.store.list_hooks()[0]["id"])
    result = env.run("doctor")
    assert result.exit_code == 1 and "deactivated" in result.output


def test_doctor_reports_a_wrong_token_per_scope(env: Env) -> None:
    result = env.run("doctor", BIGCOMMERCE_ACCESS_TOKEN="not-the-token-00")
    assert result.exit_code == 1
    assert result.output.count("HTTP 401") >= 3  # store, products, hooks, channels each say so


def test_sandbox_command_is_mounted(env: Env) -> None:
    result = env.run("sandbox", "--help")
    assert result.exit_code == 0 and "--products" in result.output
