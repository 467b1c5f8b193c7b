"""Settings: defaults, and wrong values failing with the variable named."""

from __future__ import annotations

import pytest

from backend.settings import DEVELOPMENT_SECRET_KEY, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ("ENV", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "TIMEZONE", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_are_embedded() -> None:
    settings = load_settings()
    assert settings.database_url.startswith("sqlite+aiosqlite:///./var/")
    assert settings.redis_url is None
    assert settings.secret_key == DEVELOPMENT_SECRET_KEY
    assert settings.is_sqlite


def test_reads_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    (tmp_path / ".env").write_text("TIMEZONE=Europe/Paris\nLOG_LEVEL=debug\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/sales")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    settings = load_settings()
    assert settings.database_url == "postgresql+asyncpg://u@db:5432/sales"
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.timezone == "Europe/Paris"
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "DATABASE_URL",
            "mysql://root@localhost/x",
            "DATABASE_URL: scheme 'mysql' is not supported",
        ),
        ("DATABASE_URL", "not a url", "DATABASE_URL: could not parse"),
        ("REDIS_URL", "amqp://x", "REDIS_URL: scheme 'amqp' is not supported"),
        ("TIMEZONE", "Mars/Olympus", "TIMEZONE: unknown time zone 'Mars/Olympus'"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL: unknown log level 'LOUD'"),
        ("ENV", "staging", "ENV:"),
        ("SECRET_KEY", "short", "SECRET_KEY must be at least 32 characters"),
        ("REDIS_CHANNEL_PREFIX", "prod*", "REDIS_CHANNEL_PREFIX: must be printable, without"),
    ],
)
def test_wrong_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert expected in str(raised.value)


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV", "production")
    with pytest.raises(SettingsError, match="SECRET_KEY is the development default"):
        load_settings()
    monkeypatch.setenv("SECRET_KEY", "x" * 48)
    assert load_settings().secret_key == "x" * 48
