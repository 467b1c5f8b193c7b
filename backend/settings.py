"""The service's settings: one object read from the environment and an optional `.env` file,
and the checks a process makes of them when it starts (`check_startup`)."""

from __future__ import annotations

import logging
import math
import zoneinfo
from enum import StrEnum
from functools import cached_property
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from backend.derived_keys import SecretKey

DEVELOPMENT_SECRET_KEY = "dev-only-secret-key-change-me-in-production-0000"
# ENV=production refuses a SECRET_KEY with fewer different characters, or a lower estimate of
# its strength: length x log2(different characters), in bits (`secret_key_strength`), or one
# that is a shorter string repeated.
PRODUCTION_KEY_MIN_DISTINCT = 16
PRODUCTION_KEY_MIN_BITS = 128
SUPPORTED_DATABASE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class SettingsError(Exception):
    """A setting has a wrong value; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///./var/sales_agent_learning.db"
    redis_url: str | None = None
    # Prefix of this deployment's Redis pub/sub channels: deployments sharing a Redis server
    # (staging beside production, two tenants' stacks) must each have their own.
    redis_channel_prefix: str = Field(default="sal:", min_length=1, max_length=64)
    secret_key: str = DEVELOPMENT_SECRET_KEY
    # During a rotation (docs/operations.md, "Rotate keys"): the keys SECRET_KEY replaced,
    # newest first, comma-separated. Tokens they signed and secrets they encrypted are still
    # accepted; `python -m backend rotate-secrets` re-encrypts the secrets under SECRET_KEY.
    secret_key_previous: str | None = None
    timezone: str = "UTC"
    log_level: str = "INFO"
    # Log lines as JSON objects or readable text (docs/operations.md, "Metrics and logs");
    # default: json when ENV=production, text elsewhere.
    log_format: Literal["json", "text"] | None = None
    # Bearer token that GET /metrics requires; unset: /metrics is open (keep it off the internet).
    metrics_token: SecretStr | None = None
    # The worker process serves its own metrics on this port (GET /metrics); unset: it does not.
    worker_metrics_port: int | None = Field(default=None, gt=0, lt=65536)
    token_ttl_hours: int = Field(default=24 * 30, gt=0)
    # Dashboard sessions (sign-in by e-mail link): a fixed lifetime, not extended by use.
    session_ttl_days: int = Field(default=14, gt=0, le=365)
    # Sign-in links used or expired, sessions expired or revoked: deleted this long after.
    sign_in_retention_days: int = Field(default=30, gt=0, le=3650)
    public_base_url: str = "http://127.0.0.1:8000"
    # GraphQL API limits and switches (docs/api.md).
    graphql_introspection: bool | None = None  # default: on, except when ENV=production
    graphql_allow_get: bool = False  # queries over GET invite CSRF; off unless asked for
    graphql_allowlist: str | None = None  # path of a JSON {sha256: query} allow-list
    graphql_max_depth: int = Field(default=12, gt=0)
    graphql_max_tokens: int = Field(default=5000, gt=0)
    graphql_max_aliases: int = Field(default=20, gt=0)
    graphql_cost_budget: int = Field(default=2000, gt=0)  # points a principal may hold
    graphql_cost_refill: float = Field(default=100.0, gt=0)  # points restored per second
    graphql_requests_per_minute: int = Field(default=1200, gt=0)
    # Request bodies (docs/api.md, "Limits"): refused with 413 before they are read whole.
    graphql_max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    graphql_max_json_depth: int = Field(default=64, gt=0)  # nesting of the body and variables
    webhook_max_body_bytes: int = Field(default=1024 * 1024, gt=0)  # every other route
    # Web apps of other origins allowed to call the API with a bearer token (CORS), comma-
    # separated origins such as "https://crm.example.com"; none by default.
    cors_allowed_origins: str = ""
    # Gmail add-on (docs/gmail-addon.md): Google's caller, the add-on's users, where keys live.
    gmail_addon_service_account: str | None = None  # unset: the add-on's endpoints answer 503
    gmail_addon_client_id: str | None = None
    gmail_addon_base_url: str | None = None  # default: PUBLIC_BASE_URL
    gmail_certs_url: str = "https://www.googleapis.com/oauth2/v3/certs"
    # Feedback prompts (docs/prompts.md): how long one stays open, when its one reminder goes,
    # how many a person gets a day, and how many of those may be suggestions of routine actions.
    prompt_ttl_hours: float = Field(default=24.0, gt=0)
    prompt_remind_after_hours: float = Field(default=12.0, gt=0)
    prompt_daily_budget: int = Field(default=10, ge=0)
    prompt_daily_suggestions: int = Field(default=3, ge=0)
    # Alert e-mails over SMTP (docs/alerts.md, "E-mail"). No host: delivery is off and the
    # e-mails wait in the outbox, pending, until one is set.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, gt=0, lt=65536)
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "Sales Agent <alerts@localhost>"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # Partner webhooks (docs/partner-webhooks.md, "URLs"): private, loopback and link-local
    # addresses are refused, at registration and at each delivery, unless allowed here (for
    # development and tests, whose receivers listen on 127.0.0.1).
    partner_webhooks_allow_private_urls: bool = False
    # Run the periodic jobs inside `serve`. Default: yes on SQLite (one process is enough),
    # no on PostgreSQL (run `python -m backend worker`, as many as needed).
    worker_in_process: bool | None = None
    # The worker rewrites this file on each turn of its loop (its time inside, its modification
    # time for the health check: docker-compose.yml, docs/operations.md). Unset: no heartbeat.
    worker_heartbeat_file: str | None = None

    @field_validator("database_url")
    @classmethod
    def _database_url_supported(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(f"could not parse {value!r} as a database URL") from None
        scheme = url.drivername
        if scheme == "sqlite":
            scheme = "sqlite+aiosqlite"
        elif scheme in ("postgresql", "postgres"):
            scheme = "postgresql+asyncpg"
        if scheme not in SUPPORTED_DATABASE_SCHEMES:
            raise ValueError(
                f"scheme {url.drivername!r} is not supported; use one of "
                f"{', '.join(SUPPORTED_DATABASE_SCHEMES)}"
            )
        return url.set(drivername=scheme).render_as_string(hide_password=False)

    @field_validator("redis_channel_prefix")
    @classmethod
    def _prefix_is_literal(cls, value: str) -> str:
        if any(c in value for c in "*?[]\\ ") or not value.isprintable():
            raise ValueError(
                "must be printable, without spaces or the glob characters * ? [ ] \\ "
                "(the broker subscribes to the pattern <prefix>*)"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            scheme = value.split("://", 1)[0] if "://" in value else value
            raise ValueError(f"scheme {scheme!r} is not supported; use redis:// or rediss://")
        return value

    @field_validator("smtp_host", "smtp_username")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("timezone")
    @classmethod
    def _timezone_known(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level_known(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"unknown log level {value!r}")
        return level

    @model_validator(mode="after")
    def _production_needs_real_secret(self) -> Settings:
        if self.env is Environment.PRODUCTION and self.secret_key == DEVELOPMENT_SECRET_KEY:
            raise ValueError(
                "SECRET_KEY is the development default, which is refused when ENV=production"
            )
        if len(self.secret_key) < 32:
            raise ValueError("SECRET_KEY must be at least 32 characters long")
        return self

    @model_validator(mode="after")
    def _secret_key_carries_the_previous_ones(self) -> Settings:
        previous = [k.strip() for k in (self.secret_key_previous or "").split(",") if k.strip()]
        if any(len(key) < 32 for key in previous):
            raise ValueError("SECRET_KEY_PREVIOUS: each key must be at least 32 characters long")
        # A str still (what signs and encrypts), carrying the keys that verify and decrypt too.
        self.secret_key = SecretKey(self.secret_key, previous)
        return self

    @model_validator(mode="after")
    def _prompt_reminder_before_expiry(self) -> Settings:
        if self.prompt_remind_after_hours >= self.prompt_ttl_hours:
            raise ValueError(
                "PROMPT_REMIND_AFTER_HOURS must be less than PROMPT_TTL_HOURS "
                f"({self.prompt_remind_after_hours} >= {self.prompt_ttl_hours}): a prompt "
                "would expire before its reminder"
            )
        return self

    @cached_property
    def database(self) -> URL:
        return make_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.database.get_backend_name() == "sqlite"

    @property
    def introspection_enabled(self) -> bool:
        if self.graphql_introspection is None:
            return self.env is not Environment.PRODUCTION
        return self.graphql_introspection

    @property
    def resolved_log_format(self) -> str:
        if self.log_format is None:
            return "json" if self.env is Environment.PRODUCTION else "text"
        return self.log_format

    @property
    def previous_secret_keys(self) -> tuple[str, ...]:
        """SECRET_KEY_PREVIOUS, newest first (without SECRET_KEY itself)."""
        return getattr(self.secret_key, "previous", ())

    @property
    def runs_worker_in_process(self) -> bool:
        return self.is_sqlite if self.worker_in_process is None else self.worker_in_process


def secret_key_strength(key: str) -> tuple[int, int]:
    """How many different characters ``key`` has, and the bits it could carry at most if each
    character were drawn at random from those: ``len(key) * log2(different)``. 32 x "a": (1, 0);
    ``secrets.token_urlsafe(48)`` (64 characters): about (50, 360)."""
    distinct = len(set(key))
    return distinct, int(len(key) * math.log2(distinct)) if distinct > 1 else 0


def production_refusals(settings: Settings) -> list[str]:
    """What ENV=production refuses to start with, each naming its variable (nothing outside
    production)."""
    if settings.env is not Environment.PRODUCTION:
        return []
    refusals = []
    key = settings.secret_key
    distinct, bits = secret_key_strength(key)
    repeated = key in (key + key)[1:-1]  # "abc...abc...": one shorter string over and over
    if distinct < PRODUCTION_KEY_MIN_DISTINCT or bits < PRODUCTION_KEY_MIN_BITS or repeated:
        refusals.append(
            f"SECRET_KEY is too weak for ENV=production: it needs at least "
            f"{PRODUCTION_KEY_MIN_DISTINCT} different characters, {PRODUCTION_KEY_MIN_BITS} "
            f"bits by length x log2(different characters) and no repeated pattern; this one "
            f"has {distinct} different characters, {bits} bits"
            + (" and repeats itself" if repeated else "")
            + ". Make one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    if settings.is_sqlite:
        refusals.append(
            "DATABASE_URL is SQLite, which ENV=production refuses (one file for one process: "
            "no replicas, no separate workers, no online backup); use postgresql+asyncpg://..."
        )
    return refusals


def deployment_warnings(settings: Settings) -> list[str]:
    """What a process should log when it starts with these settings: allowed, but likely wrong."""
    warnings = []
    if settings.env is Environment.PRODUCTION and settings.redis_url is None:
        warnings.append(
            "REDIS_URL is not set with ENV=production: the API and its workers run as several "
            "processes, and without Redis a live subscription hears only the events of the "
            "process it is connected to"
        )
    return warnings


def check_startup(settings: Settings) -> None:
    """What a process does with its settings before anything else: refuse them with one
    SettingsError listing each of `production_refusals`, and log `deployment_warnings`."""
    refusals = production_refusals(settings)
    if refusals:
        raise SettingsError("unsafe settings: " + "; ".join(refusals))
    for warning in deployment_warnings(settings):
        logging.getLogger(__name__).warning(warning)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning validation errors into one message per variable at fault."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            if error["loc"]:
                problems.append(f"{str(error['loc'][0]).upper()}: {message}")
            else:  # a check across variables names them in its message
                problems.append(message)
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
