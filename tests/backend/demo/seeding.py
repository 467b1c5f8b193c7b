"""Seeding the demo for its tests: the reference time, database URLs, one seed call, and a
fingerprint of what a seed wrote."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.calibration.models import CalibrationStat
from backend.crm.models import Contact
from backend.database import Base, create_engine, create_sessionmaker
from backend.demo import SeedReport, seed_demo
from backend.feedback.models import Feedback
from backend.outcomes.models import Outcome

NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


def sqlite_url(path: Any) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def seed(url: str, **options: Any) -> SeedReport:
    engine = create_engine(url)
    try:
        return await seed_demo(create_sessionmaker(engine), **{"progress": False, **options})
    finally:
        await engine.dispose()


async def rows(session: AsyncSession, statement: Select[Any]) -> list[Any]:
    return list((await session.execute(statement)).all())


async def fingerprint(url: str) -> dict[str, Any]:
    """Aggregate numbers of a seeded database that any difference in the data would move."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            counts = {
                t.name: await session.scalar(select(func.count()).select_from(t))
                for t in Base.metadata.sorted_tables
            }
            actions = (
                await session.execute(
                    select(
                        func.sum(AgentAction.confidence),
                        func.sum(AgentAction.cost_tokens),
                        func.min(AgentAction.occurred_at),
                        func.max(AgentAction.occurred_at),
                    )
                )
            ).one()
            outcomes = await rows(
                session,
                select(
                    Outcome.status, Outcome.detection, func.count(), func.sum(Outcome.value)
                ).group_by(Outcome.status, Outcome.detection),
            )
            ratings = await session.scalar(select(func.sum(Feedback.rating)))
            stats = (
                await session.execute(
                    select(func.sum(CalibrationStat.sum_p), func.sum(CalibrationStat.sum_log_loss))
                )
            ).one()
            contacts = list(await session.scalars(select(Contact.email).order_by(Contact.id)))
        return {
            "counts": counts,
            "actions": tuple(actions),
            "outcomes": sorted(map(tuple, outcomes)),
            "ratings": ratings,
            "stats": tuple(stats),
            "contacts": contacts,
        }
    finally:
        await engine.dispose()
