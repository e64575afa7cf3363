"""Every number `bcsync` takes is read as ASCII digits and bounded to 2^63 - 1 (issue 14): "²", "-1",
2^63 and 1e400 are usage errors (exit 2) saying why, never a traceback or a database overflow."""

from __future__ import annotations

import pytest

from tests.integration import test_cli
from tests.integration.test_cli import Env

env = test_cli.env  # the fixture: the sandbox store, a temp database, no secret in any output

BAD_IDS = [str(2**63), "²", "٣", "-1", "0", "1e400", "1.5", "0x10", "1_000", " "]

COMMANDS = {
    "failed show": lambda v: ["failed", "show", "--", v],
    "failed replay": lambda v: ["failed", "replay", "--", v],
    "failed discard": lambda v: ["failed", "discard", "--", v],
    "resync product": lambda v: ["resync", "product", "--", v],
    "resync category": lambda v: ["resync", "category", "--", v],
    "storefront-token --channel-id": lambda v: [
        "storefront-token",
        "create",
        "--channel-id",
        v,
        "--expires-at",
        "2099-01-01",
        "--cors-origin",
        "https://a.example",
    ],
    "verify --limit": lambda v: ["verify", "--limit", v],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_bad_number_is_a_usage_error(env: Env, command: str) -> None:
    env.seed_failure([5])
    for value in BAD_IDS:
        result = env.run(*COMMANDS[command](value))
        assert result.exit_code == 2, (command, value, result.output)
        assert "whole number from 1 to 9223372036854775807" in result.output, result.output
        assert "Traceback" not in result.output


def test_verify_product_ids_are_bounded_too(env: Env) -> None:
    for value in ("²", str(2**63), "1e400"):
        result = env.run("verify", "--product", value)
        assert result.exit_code == 1 and "whole number from 1 to" in result.output, result.output  # as before


def test_the_largest_id_is_accepted(env: Env) -> None:
    # parsed (not a usage error, exit 2): it reaches the store, which does not have it — not found
    result = env.run("resync", "product", "--async", str(2**63 - 1))
    assert result.exit_code == 1, result.output
    assert f"product {2**63 - 1} not found" in result.output and "Traceback" not in result.output
    assert env.dirty() == {}


BAD_TIMES = ["1e400", "-1e400", "nan", "inf", "١٧١٤٥٦٤٨٠٠", "99999999999999d", "1e300"]
TIME_COMMANDS = [
    ["failed", "list", "--since"],
    ["failed", "replay", "--all", "--since"],
    ["storefront-token", "create", "--channel-id", "1", "--cors-origin", "https://a.example", "--expires-at"],
]


def test_a_time_out_of_range_is_a_usage_error(env: Env) -> None:
    for value in BAD_TIMES:
        for command in TIME_COMMANDS:
            result = env.run(*command, value)
            assert result.exit_code == 2 and "not a time" in result.output, (command, value, result.output)
            assert "Traceback" not in result.output


def test_the_installed_script_answers_a_bad_id_in_one_line(env: Env) -> None:
    for value in ("²", str(2**63)):
        proc = env.subprocess("failed", "show", value)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and "whole number" in proc.stderr
