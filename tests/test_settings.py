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
