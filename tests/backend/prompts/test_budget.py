"""The daily prompt budget: each prompt a person gets takes one unit of their (UTC) day; once
it is spent, critical actions are recorded and mirrored without a prompt until the next day.
Concurrent writers never overspend it."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from backend.database import create_engine, create_sessionmaker
from backend.prompts.models import PromptBudget
from backend.prompts.service import budget_used, take_budget
from backend.unit_of_work import transaction
from tests.backend.prompts.conftest import T0, Prompts
from tests.backend.slack.conftest import configure_north
from tests.backend.slack.standin import SlackStandIn

TWO_A_DAY = pytest.mark.parametrize("prompt_settings", [{"prompt_daily_budget": 2}], indirect=True)
MIDNIGHT = dt.datetime.combine(T0.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


@TWO_A_DAY
async def test_a_spent_budget_means_no_prompt_until_the_next_utc_day(
    prompts: Prompts, stand_in: SlackStandIn
) -> None:
    await configure_north(prompts.state, prompts.world, stand_in.base_url)
    at = [T0, T0 + dt.timedelta(hours=1), MIDNIGHT - dt.timedelta(seconds=1), MIDNIGHT]
    recorded = [(await prompts.record(f"esc-{i}", now=now)).action.id for i, now in enumerate(at)]
    asked = [p.action_id for p in await prompts.prompts()]
    assert asked == [recorded[0], recorded[1], recorded[3]]  # the third of the day was not
    rep = prompts.user_id("rep_a1")
    assert await prompts.budgets() == {(rep, T0.date()): 2, (rep, MIDNIGHT.date()): 1}
    # In Slack, the unprompted escalation is a plain decision to rate.
    posts = await prompts.slack_posts()
    assert [(p.action_id, p.kind) for p in posts] == [
        (recorded[0], "prompt"),
        (recorded[1], "prompt"),
        (recorded[2], "action"),
        (recorded[3], "prompt"),
    ]
    third = stand_in.of("chat.postMessage")[2]
    assert third.arguments["blocks"][0]["text"]["text"].startswith("Escalation by agent_rep_a1")


async def test_budgets_are_per_person(prompts: Prompts) -> None:
    north = prompts.org
    rep, other = prompts.user_id("rep_a1"), prompts.user_id("rep_a2")
    async with transaction(prompts.state.sessions) as session:
        taken = [
            await take_budget(session, organization_id=north, user_id=who, day=T0.date(), budget=1)
            for who in (rep, other, rep)
        ]
        assert taken == [True, True, False]
        assert await budget_used(session, user_id=rep, day=T0.date()) == 1
        assert await budget_used(session, user_id=rep, day=MIDNIGHT.date()) == 0
        assert (
            await take_budget(session, organization_id=north, user_id=rep, day=T0.date(), budget=0)
            is False
        )
    assert await prompts.budgets() == {(rep, T0.date()): 1, (other, T0.date()): 1}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_concurrent_writers_never_overspend_the_budget(prompts: Prompts) -> None:
    """Ten transactions at once, each in its own session and connection, want one of 3."""
    engine = create_engine(prompts.state.settings.database_url)
    sessions = create_sessionmaker(engine)
    rep, north = prompts.user_id("rep_a1"), prompts.org
    ready = asyncio.Barrier(10)

    async def want_one() -> bool:
        async with transaction(sessions) as session:
            await session.connection()  # every transaction is open before any takes
            await ready.wait()
            return await take_budget(
                session, organization_id=north, user_id=rep, day=T0.date(), budget=3
            )

    try:
        taken = await asyncio.gather(*(want_one() for _ in range(10)))
    finally:
        await engine.dispose()
    assert sorted(taken) == [False] * 7 + [True] * 3
    [row] = await prompts.rows(PromptBudget)
    assert (row.user_id, row.day, row.used) == (rep, T0.date(), 3)
