"""Support's commands through the real CLI (the installed console script, or click's runner) against
the sandbox store and Ometria: a resync that repairs a stale Ometria copy, the dry run's field
diffs, not-found cases that change nothing, one failed entry per product across failures and
replays, a record refused locally, pause and resume, verify's pending products, databases that are
not there, and the routine log lines kept out of INFO."""

# ruff: noqa: F811 — `env` is the CLI suite's fixture, imported and taken as a parameter

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.integration.test_cli import Env, _push_raw, env, product_with_variants  # noqa: F401 — env: fixture
from workers.store import storage
from workers.store.storage import PRODUCT, Base, FailedTask, StoreState, session_scope

pytestmark = pytest.mark.services


def snapshot(e: Env) -> dict[str, Any]:
    """Every table's rows (as tuples), the store_state hashes, and what the sandbox Ometria got."""
    out: dict[str, Any] = {}
    with session_scope(e.db) as s:
        for table in Base.metadata.sorted_tables:
            if table.name in ("rate_budget", "store_state"):  # API calls spend budget, refresh lookups
                continue
            out[table.name] = sorted(map(repr, s.execute(select(table)).all()))
        out["store_state"] = sorted(
            (st.store_hash, st.paused_until, st.pause_reason, st.pause_kind)
            for st in s.scalars(select(StoreState))
        )
    out["ometria_pushes"] = e.sandbox.account.stats["pushes"]
    out["ometria"] = json.dumps(e.ometria(), sort_keys=True)
    return out


def tamper(e: Env, pid: int, title: str = "Tampered title") -> dict[str, Any]:
    record = dict(e.ometria()[str(pid)])
    record["title"] = title
    _push_raw(e, [record])  # someone edited Ometria behind our back: the ledger does not know
    return record


# --- resync repairs --------------------------------------------------------------------------------


def test_resync_product_repairs_a_stale_ometria_copy_through_the_console_script(env: Env) -> None:
    env.ok("resync", "all")
    pid = product_with_variants(env.sandbox)
    tamper(env, pid)
    variant = next(r for r in env.ometria() if r.startswith(f"{pid}-"))
    with env.sandbox.account.lock:
        env.sandbox.account.records.pop(variant)  # and Ometria lost a variant
    assert env.run("verify", "--product", str(pid)).exit_code == 1

    proc = env.subprocess("resync", "product", str(pid))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "already equal" not in proc.stdout and "push whole" in proc.stdout
    held = env.ometria()
    assert held[str(pid)]["title"] == env.sandbox.store.get_product(pid)["name"]
    assert variant in held
    assert "no drift" in env.ok("verify", "--product", str(pid))
    # the fingerprints were recorded: the nightly delta walk finds nothing left to push
    assert "0 record(s) changed, 0 pushed" in env.ok("resync", "all")


def test_resync_category_repairs_its_products(env: Env) -> None:
    env.ok("resync", "all")
    store = env.sandbox.store
    cid, members = next(
        (c, ids)
        for c in store.category_ids()
        if (ids := [p["id"] for p in store.query_products(categories=[c], limit=250)[1]])
    )
    tamper(env, members[0])
    proc = env.subprocess("resync", "category", str(cid))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert env.ometria()[str(members[0])]["title"] == store.get_product(members[0])["name"]


def test_a_gone_product_we_pushed_is_pushed_inactive_and_one_never_known_is_not_found(env: Env) -> None:
    env.ok("resync", "all")
    gone = env.sandbox.store.product_ids()[0]
    env.sandbox.store.delete_product(gone)  # no webhook reached us
    result = env.run("resync", "product", str(gone), "999999")
    assert result.exit_code == 1
    assert "product 999999 not found" in result.output and "gone from the store" in result.output
    assert env.ometria()[str(gone)]["is_active"] is False
    assert "999999" not in json.dumps(list(env.ometria()))


def test_dry_runs_show_each_field_old_to_new_and_push_nothing(env: Env) -> None:
    env.ok("resync", "all")
    pid = env.sandbox.store.product_ids()[0]
    tamper(env, pid, "Stale title in Ometria")
    before = snapshot(env)
    out = env.ok("resync", "product", str(pid), "--dry-run")
    assert "Stale title in Ometria" in out and env.sandbox.store.get_product(pid)["name"] in out
    assert "title" in out and "update" in out and "Nothing was pushed" in out
    assert snapshot(env) == before

    other = env.sandbox.store.product_ids()[1]
    old_price = env.ometria()[str(other)]["price"]
    env.sandbox.store.update_product(other, price=old_price + 7)  # no webhook: the ledger is stale
    out = env.ok("resync", "all", "--dry-run")
    line = next(ln for ln in out.splitlines() if "price" in ln and f"{old_price + 7:g}" in ln)
    assert f"{old_price:g}" in line
    assert snapshot(env) == before
    forced = env.ok("resync", "all", "--dry-run", "--force")
    assert "pushed whole" in forced and snapshot(env) == before


# --- not found: exit 1, nothing changed ------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["resync", "product", "999999"], "product 999999 not found"),
        (["resync", "product", "999999", "--dry-run"], "product 999999 not found"),
        (["resync", "category", "999999"], "category 999999 not found"),
        (["verify", "--product", "999999"], "product 999999 not found"),
        (["events", "--product", "999999"], "no product 999999 known"),
        (["resync", "product", "1", "--store", "abc123"], "store 'abc123' is not configured"),
        (["pause", "abc123"], "store 'abc123' is not configured"),
        (["resume", "abc123"], "store 'abc123' is not configured"),
        (["events", "--store", "abc123"], "store 'abc123' is not configured"),
        (["failed", "replay", "999"], "no failed task with id 999"),
    ],
)
def test_naming_what_does_not_exist_says_so_exits_1_and_changes_nothing(
    env: Env, args: list[str], message: str
) -> None:
    env.ok("resync", "product", str(env.sandbox.store.product_ids()[0]))
    before = snapshot(env)
    proc = env.subprocess(*args)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert message in proc.stdout + proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(env) == before
    with session_scope(env.db) as s:
        assert s.get(StoreState, "abc123") is None


def test_a_database_the_configuration_names_but_that_is_not_there_is_one_error(
    env: Env, tmp_path: Path
) -> None:
    missing = tmp_path / "nonexistent" / "dir" / "x.db"
    proc = env.subprocess("status", DATABASE_URL=f"sqlite:///{missing}")
    assert proc.returncode == 1
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error")]
    assert errors == [
        f"Error: no database at {missing} (DATABASE_URL): check the path, or run `bcsync db upgrade` "
        "to create it there"
    ]
    assert not (tmp_path / "nonexistent").exists()
    proc = env.subprocess("status", DATABASE_URL="mysql://u:hunter2@db.example/x")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "hunter2" not in proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error")]
    assert "unsupported scheme 'mysql'" in line and "sqlite:///" in line and "postgresql://" in line
    # db upgrade creates the file it names (and its folder): the one command meant to
    proc = env.subprocess("db", "upgrade", DATABASE_URL=f"sqlite:///{missing}")
    assert proc.returncode == 0 and missing.is_file()


# --- honest failures -------------------------------------------------------------------------------


def _oversize(env: Env, pid: int) -> list[int]:
    """Custom fields enough for the parent record to pass Ometria's 60 KB per record."""
    ids = []
    for n in range(300):
        result = env.sandbox.store.set_custom_field(pid, f"field {n:03d}", "x" * 240)
        ids.append(int(result.entity["id"]))
    return ids


def test_a_record_refused_locally_says_so_and_one_entry_per_product_across_replays(env: Env) -> None:
    pid = env.sandbox.store.product_ids()[0]
    fields = _oversize(env, pid)
    result = env.run("resync", "product", str(pid))
    assert result.exit_code == 1, result.output
    assert "refused locally" in result.output and "Ometria refused" not in result.output
    assert "already equal" not in result.output
    with session_scope(env.db) as s:
        (entry,) = s.scalars(select(FailedTask)).all()
    assert entry.entity_ids == [pid] and entry.attempts == 1 and "refused locally" in entry.error

    result = env.run("failed", "replay", str(entry.id))  # the store still has it too large
    assert result.exit_code == 1
    assert f"#{entry.id} still failing" in result.output and "refused locally" in result.output
    assert "no change to push" not in result.output
    env.run("resync", "product", str(pid))  # fails once more
    with session_scope(env.db) as s:
        entries = s.scalars(select(FailedTask)).all()
        assert [(e.id, e.status, e.attempts) for e in entries] == [(entry.id, "failed", 3)]

    for field_id in fields:  # fixed in the store
        env.sandbox.store.delete_custom_field(pid, field_id)
    out = env.ok("failed", "replay", str(entry.id))
    assert f"#{entry.id} replayed: pushed " in out and str(pid) in env.ometria()
    with session_scope(env.db) as s:
        assert s.scalar(select(func.count()).select_from(FailedTask)) == 1
    timeline = json.loads(env.ok("events", "--product", str(pid), "--json"))
    kinds = [e["kind"] for e in timeline]
    assert kinds.count("failure") == 3 and "replay" in kinds and kinds[-1] == "push"
    refused = [e for e in timeline if e["kind"] == "push" and not e["detail"]["accepted"]]
    assert refused and all(e["detail"]["refused_locally"] for e in refused)


# --- pause and resume ------------------------------------------------------------------------------


def test_pause_says_why_and_how_it_lifts_and_resume_lifts_it(env: Env) -> None:
    sh = env.sandbox.store_hash
    pid = env.sandbox.store.product_ids()[0]
    out = env.ok("pause", "--reason", "Ometria maintenance window")
    assert "paused by an operator" in out and "Ometria maintenance window" in out
    assert f"bcsync resume {sh}" in out
    status = env.ok("status")
    assert "until resumed" in status and "Ometria maintenance window" in status and "bcsync resume" in status
    data = json.loads(env.ok("status", "--json"))
    assert data["stores"][0]["pause_kind"] == "operator" and data["stores"][0]["paused_until"] is None

    result = env.run("resync", "product", str(pid))
    assert result.exit_code == 1 and "nothing flushed" in result.output
    assert env.ometria() == {}

    out = env.ok("resume")
    assert f"store {sh} resumed" in out
    assert "not paused" in env.ok("resume")
    after = env.ok("status").split("ledger", 1)[1]
    # no pause sentence, no way-to-lift hint; the liveness table's own `paused` check says "not paused"
    assert f"store {sh} paused" not in after and "bcsync resume" not in after and "until resumed" not in after
    assert "not paused" in after.split("liveness", 1)[1]
    env.ok("resync", "product", str(pid))
    assert str(pid) in env.ometria()
    timeline = json.loads(env.ok("events", "--product", str(pid), "--json"))
    kinds = [e["kind"] for e in timeline]
    assert kinds.index("pause") < kinds.index("resume") < kinds.index("push")


# --- verify ----------------------------------------------------------------------------------------


def test_verify_lists_products_still_dirty_as_pending_not_drift(env: Env) -> None:
    env.ok("resync", "all")
    pid = env.sandbox.store.product_ids()[0]
    env.sandbox.store.update_product(pid, price=env.ometria()[str(pid)]["price"] + 3)
    assert env.run("verify").exit_code == 1  # nobody told us: that is drift
    with session_scope(env.db) as s:  # a callback arrived and waits for its flush
        storage.mark_dirty(s, env.sandbox.store_hash, PRODUCT, [pid])
    result = env.run("verify")
    assert result.exit_code == 0, result.output
    assert "pending, not drift" in result.output and str(pid) in result.output
    report = json.loads(env.run("verify", "--json").output)
    assert report["pending"] == [pid] and report["drift"] == []


# --- logs ------------------------------------------------------------------------------------------


def test_a_flush_that_did_nothing_is_logged_at_debug_and_one_that_worked_at_info() -> None:
    from celery.app import trace

    from workers.ops.observability import demote_routine_logs

    demote_routine_logs()
    logger = logging.getLogger("celery.app.trace")
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep(level=logging.DEBUG)
    logger.addHandler(handler)
    root = logging.getLogger()
    level = root.level
    try:
        root.setLevel(logging.INFO)
        for value in ("{'paused': 'until resumed'}", "{'settling': True}", "{'batches': 2, 'pushed': 40}"):
            context = {"id": "x", "name": "workers.tasks.flush_store", "return_value": value, "runtime": 0.01}
            logger.info(trace.LOG_SUCCESS, context)
        context = {"id": "y", "name": "workers.tasks.sweep_dirty", "return_value": "[]", "runtime": 0.01}
        logger.info(trace.LOG_SUCCESS, context)
    finally:
        root.setLevel(level)
        logger.removeHandler(handler)
    assert [(r.getMessage().split(": ", 1)[1], r.levelname) for r in seen] == [
        ("{'batches': 2, 'pushed': 40}", "INFO"),
        ("[]", "INFO"),
    ]
