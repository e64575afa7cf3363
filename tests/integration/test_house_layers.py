"""The house rule that all SQL lives in `workers/store/`, checked on the source (ast): outside it,
no module of `workers/` or `consumer/` imports SQLAlchemy or a database driver, opens a session, or
builds a statement — they call `workers.store` functions instead."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STORE = REPO / "workers" / "store"

DRIVERS = ("sqlalchemy", "psycopg", "psycopg2", "sqlite3", "alembic")
# names that hand out a session, an engine or a statement builder (whether imported from
# sqlalchemy or re-exported by workers.store.storage); `Session` alone is also requests' and
# counts only as an attribute of a workers.store module
SESSION_NAMES = {"session_scope", "get_engine", "Session", "sessionmaker", "insert_for", "_sessionmaker"}
STATEMENT_BUILDERS = {"select", "update", "delete", "insert", "text", "func", "or_", "and_"}

# What must stay outside workers/store/, each with its reason (module path -> name -> why). Empty:
# every transaction outside workers/store/ has moved into a workers/store function taking the URL.
ALLOWED: dict[str, dict[str, str]] = {}


def _python_files() -> list[Path]:
    files = [*(REPO / "workers").rglob("*.py"), *(REPO / "consumer").rglob("*.py")]
    return sorted(f for f in files if STORE not in f.parents)


def _violations(path: Path) -> list[str]:
    return _violations_in(path.read_text(), path.relative_to(REPO).as_posix())


def _violations_in(source: str, rel: str) -> list[str]:
    allowed = ALLOWED.get(rel, {})
    tree = ast.parse(source, filename=rel)
    found: list[str] = []
    store_modules: set[str] = set()  # local names bound to workers.store modules
    for node in ast.walk(tree):
        where = f"{rel}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in DRIVERS and alias.name not in allowed:
                    found.append(f"{where}: import {alias.name}")
                if alias.name.startswith("workers.store"):
                    store_modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[0] in DRIVERS and module not in allowed:
                found.append(f"{where}: from {module} import …")
            for alias in node.names:
                if module.startswith("workers.store"):
                    if alias.name in SESSION_NAMES | STATEMENT_BUILDERS and alias.name not in allowed:
                        found.append(f"{where}: from {module} import {alias.name}")
                    store_modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Name) and node.id in SESSION_NAMES - {"Session"} and node.id not in allowed:
            found.append(f"{where}: {node.id}")
        elif isinstance(node, ast.Attribute):
            owner = node.value
            if node.attr in SESSION_NAMES - {"Session"} and node.attr not in allowed:
                found.append(f"{where}: .{node.attr}")
            elif (
                isinstance(owner, ast.Name)
                and owner.id in store_modules
                and node.attr in SESSION_NAMES | STATEMENT_BUILDERS
                and node.attr not in allowed
            ):
                found.append(f"{where}: {owner.id}.{node.attr}")
    return found


def test_no_sql_outside_workers_store() -> None:
    files = _python_files()
    assert len(files) > 50  # the walk found the tree
    problems = [p for f in files for p in _violations(f)]
    assert not problems, "SQL or sessions outside workers/store/:\n" + "\n".join(problems)


def test_the_check_sees_what_it_forbids() -> None:
    """The check itself finds each kind of use (so a green run means something)."""
    problems = _violations_in(
        "from sqlalchemy import select\n"
        "from workers.store import storage\n"
        "from workers.store.storage import session_scope\n"
        "def f(url):\n"
        "    with session_scope(url) as s:\n"
        "        return s.execute(storage.select(storage.Dirty))\n",
        "workers/probe.py",
    )
    assert any("from sqlalchemy" in p for p in problems)
    assert any("import session_scope" in p for p in problems)
    assert any(p.endswith(": session_scope") for p in problems)
    assert any("storage.select" in p for p in problems)
