"""Report subscriptions: kind against role and scope, every problem named by its field, a
rejected request changing nothing, the person themself or an administrator, and the list."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from backend.errors import DomainError, InvalidInput
from backend.reports.models import ReportSubscription
from backend.reports.subscriptions import (
    SubscriptionInput,
    delete_subscription,
    subscriptions_page,
    unsubscribe,
    upsert_subscription,
)
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.backend.conftest import Loop
from tests.backend.reports.conftest import person
from tests.factories import NOW


async def upsert(loop: Loop, viewer: Viewer, given: SubscriptionInput) -> ReportSubscription:
    async with transaction(loop.state.sessions) as session:
        return await upsert_subscription(session, viewer, given, now=NOW)


async def problems(loop: Loop, viewer: Viewer, given: SubscriptionInput) -> set[tuple[str, Any]]:
    with pytest.raises(DomainError) as caught:
        await upsert(loop, viewer, given)
    error = caught.value
    found = error.errors if isinstance(error, InvalidInput) else [error]
    return {(e.code.value, e.field) for e in found}


async def count(loop: Loop) -> int:
    async with loop.state.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ReportSubscription)) or 0)


def team(loop: Loop, key: str) -> int:
    world: Any = loop.world
    return int(world.teams[key].id)


def agent(loop: Loop, key: str) -> int:
    world: Any = loop.world
    return int(world.agents[key].id)


async def test_a_manager_subscribes_to_their_team_and_a_retry_changes_nothing(
    loop: Loop,
) -> None:
    given = SubscriptionInput(
        kind="manager_daily",
        team_id=team(loop, "alpha"),
        timezone="Europe/Berlin",
        send_hour=7,
        channels=["email", "email"],
    )
    made = await upsert(loop, loop.manager, given)
    assert (made.cadence, made.weekday, made.channels, made.timezone) == (
        "daily",
        None,
        ["email"],
        "Europe/Berlin",
    )
    assert made.created_by_id == loop.manager.user_id
    again = await upsert(loop, loop.manager, given)
    assert again.id == made.id and again.updated_at is None
    moved = await upsert(
        loop, loop.manager, SubscriptionInput(**{**given.__dict__, "send_hour": 9})
    )
    assert (moved.id, moved.send_hour, moved.updated_at) == (made.id, 9, NOW)
    assert await count(loop) == 1


async def test_kind_against_role_and_scope(loop: Loop, admin: Viewer) -> None:
    beta = team(loop, "beta")
    assert await problems(
        loop, loop.manager, SubscriptionInput(kind="manager_daily", team_id=beta)
    ) == {("not_found", "teamId")}
    assert await problems(loop, admin, SubscriptionInput(kind="manager_daily")) == {
        ("required", "teamId")
    }
    assert await problems(
        loop, loop.rep, SubscriptionInput(kind="manager_daily", team_id=team(loop, "alpha"))
    ) == {("invalid", "kind")}
    assert await problems(loop, loop.manager, SubscriptionInput(kind="executive_weekly")) == {
        ("invalid", "kind")
    }
    other_agent = agent(loop, "rep_a2")
    assert await problems(
        loop, loop.rep, SubscriptionInput(kind="rep_weekly", agent_id=other_agent)
    ) == {("not_found", "agentId")}
    assert await problems(loop, loop.rep, SubscriptionInput(kind="yearly")) == {("invalid", "kind")}
    # Another organisation's team is unknown.
    assert await problems(
        loop, admin, SubscriptionInput(kind="manager_daily", team_id=team(loop, "gamma"))
    ) == {("not_found", "teamId")}
    assert await count(loop) == 0
    executive = await person(loop, "exec_n")
    weekly = await upsert(loop, executive, SubscriptionInput(kind="executive_weekly", weekday=4))
    assert (weekly.cadence, weekly.weekday) == ("weekly", 4)
    digest = await upsert(
        loop, loop.rep, SubscriptionInput(kind="rep_weekly", agent_id=agent(loop, "rep_a1"))
    )
    assert (digest.cadence, digest.weekday, digest.agent_id) == (
        "weekly",
        0,
        agent(loop, "rep_a1"),
    )
    # An executive may have any team's daily report.
    assert (
        await upsert(loop, executive, SubscriptionInput(kind="manager_daily", team_id=beta))
    ).team_id == beta


async def test_every_invalid_value_is_named_and_nothing_changes(loop: Loop) -> None:
    given = SubscriptionInput(
        kind="manager_daily",
        team_id=team(loop, "alpha"),
        timezone="Mars/Olympus",
        send_hour=24,
        weekday=2,
        channels=["email", "pigeon"],
        slack_channel="#general",
    )
    assert await problems(loop, loop.manager, given) == {
        ("invalid", "timezone"),
        ("invalid", "sendHour"),
        ("invalid", "weekday"),
        ("invalid", "channels"),
        ("invalid", "slackChannel"),
    }
    empty = SubscriptionInput(kind="manager_daily", team_id=team(loop, "alpha"), channels=[])
    assert await problems(loop, loop.manager, empty) == {("invalid", "channels")}
    # Slack without a channel needs a recipient mapped to a Slack user.
    slack = SubscriptionInput(kind="manager_daily", team_id=team(loop, "alpha"), channels=["slack"])
    assert await problems(loop, loop.manager, slack) == {("invalid", "slackChannel")}
    weekly = SubscriptionInput(kind="rep_weekly", agent_id=agent(loop, "rep_a1"), weekday=7)
    assert await problems(loop, loop.rep, weekly) == {("invalid", "weekday")}
    assert await count(loop) == 0
    with_channel = SubscriptionInput(
        kind="manager_daily",
        team_id=team(loop, "alpha"),
        channels=["slack", "email"],
        slack_channel="C0123ABCD",
    )
    assert (await upsert(loop, loop.manager, with_channel)).channels == ["email", "slack"]


async def test_only_an_administrator_subscribes_someone_else(loop: Loop, admin: Viewer) -> None:
    world: Any = loop.world
    for_manager = SubscriptionInput(
        kind="manager_daily", team_id=team(loop, "alpha"), user_id=world.users["manager_a"].id
    )
    assert await problems(loop, loop.rep, for_manager) == {("forbidden", "userId")}
    made = await upsert(loop, admin, for_manager)
    assert (made.user_id, made.created_by_id) == (world.users["manager_a"].id, admin.user_id)
    # The admin subscribes the manager only to what the manager may see.
    beta = SubscriptionInput(
        kind="manager_daily", team_id=team(loop, "beta"), user_id=world.users["manager_a"].id
    )
    assert await problems(loop, admin, beta) == {("not_found", "teamId")}
    foreign = SubscriptionInput(kind="executive_weekly", user_id=world.users["exec_s"].id)
    assert await problems(loop, admin, foreign) == {("not_found", "userId")}
    # The recipient sees and changes it; another person finds nothing.
    async with loop.state.sessions() as session:
        own = await subscriptions_page(session, loop.manager)
        others = await subscriptions_page(session, loop.rep)
        everyone = await subscriptions_page(session, admin)
    assert [s.id for s in own.items] == [made.id]
    assert others.items == []
    assert [s.id for s in everyone.items] == [made.id]
    with pytest.raises(DomainError) as caught:
        async with transaction(loop.state.sessions) as session:
            await delete_subscription(session, loop.rep, made.id)
    assert (caught.value.code.value, caught.value.field) == ("not_found", "id")
    async with transaction(loop.state.sessions) as session:
        await delete_subscription(session, loop.manager, made.id)
    assert await count(loop) == 0


async def test_api_keys_have_no_subscriptions(loop: Loop) -> None:
    assert await problems(loop, loop.agent, SubscriptionInput(kind="rep_weekly")) == {
        ("forbidden", None)
    }


async def test_unsubscribe_disables_once_and_enabling_again_clears_it(loop: Loop) -> None:
    made = await upsert(
        loop, loop.manager, SubscriptionInput(kind="manager_daily", team_id=team(loop, "alpha"))
    )
    for _ in range(2):
        async with transaction(loop.state.sessions) as session:
            done = await unsubscribe(session, made.id, user_id=made.user_id, now=NOW)
        assert done is not None and (done.enabled, done.unsubscribed_at) == (False, NOW)
    async with transaction(loop.state.sessions) as session:
        assert await unsubscribe(session, made.id, user_id=made.user_id + 1000, now=NOW) is None
    again = await upsert(
        loop, loop.manager, SubscriptionInput(kind="manager_daily", team_id=team(loop, "alpha"))
    )
    assert (again.id, again.enabled, again.unsubscribed_at) == (made.id, True, None)
