"""Seeding the demo for its tests: the reference time, database URLs, one seed call."""

from __future__ import annotations

import datetime as dt
from typing import Any

from backend.database import create_engine, create_sessionmaker
from backend.demo import SeedReport, seed_demo

NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


def sqlite_url(path: Any) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def seed(url: str, **options: Any) -> SeedReport:
    engine = create_engine(url)
    try:
        return await seed_demo(create_sessionmaker(engine), **{"progress": False, **options})
    finally:
        await engine.dispose()
