"""The worker mines every team's coaching insights (weekly; `worker --once` runs it once)."""

from __future__ import annotations

from sqlalchemy import select

from backend.coaching.models import CoachingInsight
from backend.unit_of_work import transaction
from backend.worker import JOBS, run_jobs_once
from tests.backend.coaching.builders import email_history, tuesday_twice
from tests.backend.coaching.test_mining import DAYS, FIRST
from tests.backend.conftest import Loop
from tests.factories import NOW


async def test_the_worker_mines_each_team_once_per_period(loop: Loop) -> None:
    assert any(job.name == "mine_coaching_insights" for job in JOBS)
    world = loop.world
    async with transaction(loop.state.sessions) as session:
        agents = [world.agents["rep_a1"], world.agents["rep_a2"]]  # type: ignore[attr-defined]
        await email_history(
            session,
            agents,
            first_day=FIRST,
            days=DAYS,
            per_day=25,
            reply_rate=tuesday_twice,
            seed=3,
        )
    done = await run_jobs_once(loop.state, now=NOW)
    assert done["mine_coaching_insights"] == 1
    again = await run_jobs_once(loop.state, now=NOW)
    assert again["mine_coaching_insights"] == 0
    async with loop.state.sessions() as session:
        rows = list(await session.scalars(select(CoachingInsight)))
    assert [(r.team_id, r.feature_value) for r in rows] == [
        (world.teams["alpha"].id, "tue")  # type: ignore[attr-defined]
    ]
