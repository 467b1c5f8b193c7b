"""Liveness and readiness: is the database reachable, is the broker reachable."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from sqlalchemy import text

from backend.state import AppState

CHECK_TIMEOUT_SECONDS = 3.0


def service_version() -> str:
    try:
        return version("sales-agent-learning")
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Readiness:
    ok: bool
    database: str
    broker: str
    version: str


async def check_readiness(state: AppState) -> Readiness:
    database = await _check(_ping_database(state))
    if state.settings.redis_url:
        broker = await _check(state.broker.ping())
    else:
        broker = "in-process"
    return Readiness(
        ok=database == "ok" and broker in ("ok", "in-process"),
        database=database,
        broker=broker,
        version=service_version(),
    )


async def _ping_database(state: AppState) -> None:
    async with state.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _check(probe: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(probe, timeout=CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"timed out after {CHECK_TIMEOUT_SECONDS:g}s"
    except Exception as exc:  # a readiness probe reports any failure instead of raising
        return f"unreachable: {type(exc).__name__}: {exc}".strip()[:300]
    return "ok"
