"""Configuration from the environment, a .env file and a STORES_FILE; secrets never in reprs."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.settings import SANDBOX_STORE_HASH, ConfigError, check_webhook_auth, load_settings

VARS = (
    "BIGCOMMERCE_",
    "OMETRIA_",
    "STORES_FILE",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "WEBHOOK_SECRET",
    "ADMIN_TOKEN",
    "SYNC_",
    "BCSYNC_",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith(VARS):
            monkeypatch.delenv(key)
    monkeypatch.setenv("BCSYNC_ENV_FILE", str(tmp_path / "absent.env"))


def test_no_store_hash_means_the_sandbox_with_the_embedded_defaults() -> None:
    settings = load_settings()
    assert settings.sandbox and list(settings.stores) == [SANDBOX_STORE_HASH]
    assert settings.database_url == "sqlite:///var/bcsync.db"
    assert settings.broker_url == "filesystem://"
    assert settings.debounce_seconds == 2.0 and settings.stores[SANDBOX_STORE_HASH].ometria_push_rate == 4.0


def test_one_store_from_the_environment_and_a_dotenv_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "BIGCOMMERCE_STORE_HASH=abc123\nBIGCOMMERCE_ACCESS_TOKEN=tok-123\nWEBHOOK_SECRET=hook-s3cret\n"
    )
    monkeypatch.setenv("BCSYNC_ENV_FILE", str(env))
    monkeypatch.setenv("OMETRIA_PUSH_RATE", "8")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/x")
    settings = load_settings()
    store = settings.stores["abc123"]
    assert not settings.sandbox and settings.database_url == "postgresql://db/x"
    assert (store.access_token, store.webhook_secret, store.ometria_push_rate) == (
        "tok-123",
        "hook-s3cret",
        8.0,
    )
    assert store.api_url == "https://api.bigcommerce.com" and store.channel_id == 1
    for text in (repr(store), repr(settings)):
        assert "tok-123" not in text and "hook-s3cret" not in text


def test_several_stores_from_a_stores_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "stores.toml"
    path.write_text(
        '[stores.aaa]\naccess_token = "t1"\nwebhook_secret = "s1"\nometria_api_key = "k1"\n'
        '[stores.bbb]\naccess_token = "t2"\nclient_secret = "c2"\nchannel_id = 2\n'
    )
    monkeypatch.setenv("STORES_FILE", str(path))
    settings = load_settings()
    assert sorted(settings.stores) == ["aaa", "bbb"] and settings.stores["bbb"].channel_id == 2
    check_webhook_auth(settings)
    assert {"t1", "s1", "k1", "t2", "c2"} <= set(settings.secrets)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[stores.aaa\n", "STORES_FILE"),
        ('[stores.aaa]\ntoken = "x"\n', "unknown keys"),
        ("stores = 3\n", "one [stores.<store hash>] table"),
    ],
)
def test_a_bad_stores_file_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "stores.toml"
    path.write_text(content)
    monkeypatch.setenv("STORES_FILE", str(path))
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert problem in str(info.value)


def test_a_store_without_any_webhook_secret_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIGCOMMERCE_STORE_HASH", "abc123")
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET or BIGCOMMERCE_CLIENT_SECRET"):
        check_webhook_auth(load_settings())


NUMERIC = {  # every numeric variable, with a value that is not one
    "SYNC_DEBOUNCE_SECONDS": "2s",
    "SYNC_LEASE_SECONDS": "two minutes",
    "SYNC_MAX_WAIT_SECONDS": "30 s",
    "SYNC_SWEEP_SECONDS": "",
    "SYNC_RECONCILE_SECONDS": "5m",
    "SYNC_HOOKS_CHECK_SECONDS": "15min",
    "SYNC_ERRORS_SECONDS": "300,0",
    "OMETRIA_PUSH_RATE": "4/s",
    "BIGCOMMERCE_CHANNEL_ID": "1.5",
    "BIGCOMMERCE_RATE_RESERVE": "ten",
}


@pytest.mark.parametrize("store_hash", ["", "abc123"], ids=["sandbox", "one-store"])
@pytest.mark.parametrize(("name", "value"), sorted(NUMERIC.items()))
def test_a_bad_number_is_a_one_line_error_naming_the_variable_and_its_value(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, store_hash: str
) -> None:
    monkeypatch.setenv("BIGCOMMERCE_STORE_HASH", store_hash)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert f"{name}={value!r}" in message and "\n" not in message


def test_a_bad_number_in_the_dotenv_file_is_named_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = tmp_path / ".env"
    env.write_text("SYNC_DEBOUNCE_SECONDS=soon\n")
    monkeypatch.setenv("BCSYNC_ENV_FILE", str(env))
    with pytest.raises(ConfigError, match="SYNC_DEBOUNCE_SECONDS='soon'"):
        load_settings()


def test_numbers_are_read_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "SYNC_DEBOUNCE_SECONDS": " 0.5 ",
        "SYNC_LEASE_SECONDS": "1e2",
        "OMETRIA_PUSH_RATE": "8",
        "BIGCOMMERCE_CHANNEL_ID": " 2 ",
        "BIGCOMMERCE_RATE_RESERVE": "0",
        "BIGCOMMERCE_STORE_HASH": "abc123",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    store = settings.stores["abc123"]
    assert (settings.debounce_seconds, settings.lease_seconds) == (0.5, 100.0)
    assert (store.ometria_push_rate, store.channel_id, store.rate_reserve) == (8.0, 2, 0)
    assert settings.sweep_seconds == 10.0 and settings.errors_seconds == 300.0


def test_bcsync_status_says_which_variable_is_wrong_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from workers.cli import cli

    monkeypatch.setenv("SYNC_DEBOUNCE_SECONDS", "2s")
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == ["Error: invalid environment: SYNC_DEBOUNCE_SECONDS='2s': not a number"]


def test_the_environment_listing_names_every_variable_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.settings import ENVIRONMENT, Environment

    assert set(Environment.model_fields) <= set(ENVIRONMENT)
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = {line.split("`")[1] for line in section.splitlines() if line.startswith("| `")}
    assert documented and documented <= set(ENVIRONMENT), documented - set(ENVIRONMENT)
    assert ENVIRONMENT["SYNC_DEBOUNCE_SECONDS"].default == "2"
    assert ENVIRONMENT["BCSYNC_QUEUE"].default == "bcsync" and ENVIRONMENT["PORT"].default == "5000"
    for name in ENVIRONMENT:  # no typo between the listing and what load_settings reads
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BCSYNC_ENV_FILE", "/nonexistent/.env")
    assert load_settings().queue == "bcsync"


def test_no_module_but_settings_reads_the_environment() -> None:
    import ast

    root = Path(__file__).parents[2]
    offenders = []
    for path in sorted([*root.glob("workers/**/*.py"), *root.glob("consumer/**/*.py")]):
        if path == root / "workers" / "settings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []
