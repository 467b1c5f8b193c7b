"""Settings: defaults, wrong values failing with the variable named, and what a process refuses
to start with in production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.settings import (
    DEVELOPMENT_SECRET_KEY,
    SettingsError,
    check_startup,
    deployment_warnings,
    load_settings,
    production_refusals,
)


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


# -- what a process refuses to start with -------------------------------------------------------

STRONG_KEY = "Vq3-8tZk_Lr2Wm9xYc4bN7dHs1Fj6PgA0eTuKiOo5Q"  # 42 characters, 42 different
POSTGRES = "postgresql+asyncpg://sales@db:5432/sales"


def _production(**settings: str):
    return load_settings(env="production", **{"secret_key": STRONG_KEY, **settings})


def test_production_with_a_strong_key_and_postgresql_starts() -> None:
    settings = _production(database_url=POSTGRES, redis_url="redis://cache:6379/0")
    assert production_refusals(settings) == []
    assert deployment_warnings(settings) == []
    check_startup(settings)


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("a" * 32, "has 1 different characters, 0 bits"),
        ("a" * 64, "has 1 different characters, 0 bits"),
        ("0123456789abcdef" * 2, "has 16 different characters, 128 bits and repeats itself"),
        ("0123456789" * 6, "has 10 different characters"),
        ("3a9c0d2e4b6a8c5a0e3d5b7a2c4e6c8a", "has 14 different characters, 121 bits"),  # 32 hex
    ],
)
def test_production_refuses_a_weak_secret_key(key: str, why: str) -> None:
    (refusal,) = production_refusals(_production(secret_key=key, database_url=POSTGRES))
    assert refusal.startswith("SECRET_KEY is too weak for ENV=production")
    assert why in refusal
    assert key not in refusal  # the value is never repeated


def test_production_refuses_sqlite() -> None:
    (refusal,) = production_refusals(_production())  # the default DATABASE_URL: SQLite
    assert refusal.startswith("DATABASE_URL is SQLite, which ENV=production refuses")
    with pytest.raises(SettingsError, match="unsafe settings: DATABASE_URL is SQLite"):
        check_startup(_production())


def test_production_lists_every_refusal_at_once() -> None:
    with pytest.raises(SettingsError) as raised:
        check_startup(_production(secret_key="a" * 32))
    assert "SECRET_KEY is too weak" in str(raised.value)
    assert "DATABASE_URL is SQLite" in str(raised.value)


@pytest.mark.parametrize("env", ["development", "test"])
def test_development_and_test_keep_their_freedom(env: str) -> None:
    settings = load_settings(env=env, secret_key="a" * 32)
    assert production_refusals(settings) == []
    assert deployment_warnings(settings) == []


def test_production_without_redis_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    settings = _production(database_url=POSTGRES)
    (warning,) = deployment_warnings(settings)
    assert warning.startswith("REDIS_URL is not set with ENV=production")
    with caplog.at_level("WARNING", logger="backend.settings"):
        check_startup(settings)
    assert [r.getMessage() for r in caplog.records] == [warning]


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("ENV", "REDIS_URL", "SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "-m", "backend", *args],
        capture_output=True,
        text=True,
        env={**clean, "LOG_LEVEL": "WARNING", **env},
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_the_cli_refuses_unsafe_production_settings_before_anything() -> None:
    weak = _cli("migrate", ENV="production", SECRET_KEY="a" * 32, DATABASE_URL=POSTGRES)
    assert weak.returncode == 2
    assert weak.stderr.startswith("error: unsafe settings: SECRET_KEY is too weak")
    assert "Traceback" not in weak.stderr
    sqlite = _cli("migrate", ENV="production", SECRET_KEY=STRONG_KEY)
    assert sqlite.returncode == 2
    assert sqlite.stderr.startswith("error: unsafe settings: DATABASE_URL is SQLite")


def test_the_cli_warns_of_production_without_redis() -> None:
    # --sql reads nothing from the database: only the settings are at stake here.
    result = _cli(
        "migrate", "--sql", "--to", "0019:0020",
        ENV="production", SECRET_KEY=STRONG_KEY, DATABASE_URL=POSTGRES,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "REDIS_URL is not set" in line]
    assert "warning" in line.lower() and "backend.settings" in line  # text or JSON logs
