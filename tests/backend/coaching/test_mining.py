"""Mining a team's insights on hand-built histories: a planted effect is found with the numbers
statsmodels gives, noise is not; windows still open and undecided outcomes are left out; reruns
are idempotent; decisions are learnt from (dismissed: quiet; acted on: followed up)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from backend.coaching.events import CoachingInsightsRaised
from backend.coaching.mining import MiningPolicy, refresh_team_insights
from backend.coaching.models import CoachingInsight, InsightStatus
from backend.coaching.service import decide_insight
from backend.errors import NotFoundError
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.backend.coaching.builders import email_history, no_effect, tuesday_twice
from tests.factories import NOW, build_world

# NOW is Monday 2026-11-02: the last day whose 7-day reply windows have all closed is
# 2026-10-25, so the 8 weeks mined are 2026-08-31 .. 2026-10-25.
FIRST, DAYS = dt.date(2026, 8, 31), 56
IMMATURE_FIRST = dt.date(2026, 10, 26)


async def _world(session, *, reply_rate=tuesday_twice, seed=3, **options):
    world = await build_world(session, actions_per_agent=0)
    agents = [world.agents["rep_a1"], world.agents["rep_a2"]]
    built = await email_history(
        session,
        agents,
        first_day=FIRST,
        days=DAYS,
        per_day=25,
        reply_rate=reply_rate,
        seed=seed,
        **options,
    )
    return world, built


async def _refresh(sessions, world, now=NOW, hold=None) -> int:
    async with transaction(sessions, hold=hold) as session:
        return await refresh_team_insights(
            session,
            organization_id=world.orgs["north"].id,
            team_id=world.teams["alpha"].id,
            now=now,
        )


async def _insights(sessions) -> list[CoachingInsight]:
    async with sessions() as session:
        rows = await session.scalars(select(CoachingInsight).order_by(CoachingInsight.id))
        return list(rows)


async def test_a_planted_tuesday_effect_is_found_with_statsmodels_numbers(sessions) -> None:
    async with transaction(sessions) as session:
        world, built = await _world(session)
    events: list = []
    assert await _refresh(sessions, world, hold=events) == 1
    (insight,) = await _insights(sessions)
    assert (insight.feature, insight.feature_value, insight.direction) == (
        "weekday",
        "tue",
        "higher",
    )
    assert (insight.outcome_type, insight.audience, insight.status) == ("email_reply", "rep", "new")
    # The oracle: Tuesday's e-mails against the rest, counted here and tested by statsmodels.
    tuesday = [a.occurred_at.weekday() == 1 for a in built.actions]
    x1 = sum(r for r, t in zip(built.replies, tuesday, strict=True) if t)
    n1 = sum(tuesday)
    x0, n0 = sum(built.replies) - x1, len(built.actions) - n1
    assert (insight.support, insight.sample_size) == (n1, n1 + n0)
    assert insight.rate == pytest.approx(x1 / n1)
    assert insight.baseline_rate == pytest.approx(x0 / n0)
    assert (insight.ci_low, insight.ci_high) == pytest.approx(
        confint_proportions_2indep(x1, n1, x0, n0, method="newcomb")
    )
    assert insight.p_value == pytest.approx(proportions_ztest([x1, x0], [n1, n0])[1])
    assert insight.q_value >= insight.p_value
    assert insight.evidence["candidates_tested"] > 1 and insight.evidence["fdr"] == 0.05
    examples = insight.evidence["example_action_ids"]
    by_id = {a.id: (a, r) for a, r in zip(built.actions, built.replies, strict=True)}
    assert len(examples) == 5
    assert all(by_id[i][0].occurred_at.weekday() == 1 and by_id[i][1] == 1.0 for i in examples)
    assert (insight.period_start, insight.period_end) == (FIRST, dt.date(2026, 10, 25))
    assert insight.expires_at == NOW + dt.timedelta(weeks=4)
    assert insight.statement.startswith("Actions on Tuesday get a reply")
    assert insight.advice.startswith("Send on Tuesday when you can: replies")
    assert events == [
        CoachingInsightsRaised(world.orgs["north"].id, world.teams["alpha"].id, (insight.id,))
    ]


async def test_noise_raises_nothing(sessions) -> None:
    async with transaction(sessions) as session:
        world, _ = await _world(session, reply_rate=no_effect, seed=11)
    assert await _refresh(sessions, world) == 0
    assert await _insights(sessions) == []


async def test_open_windows_and_undecided_outcomes_are_left_out(sessions) -> None:
    async with transaction(sessions) as session:
        world, built = await _world(session, undecided_share=0.2)
        # The last week, whose windows are still open, all replied: counted, it would drown
        # the planted effect and show every weekday of that week as better.
        agents = [world.agents["rep_a1"], world.agents["rep_a2"]]
        await email_history(
            session,
            agents,
            first_day=IMMATURE_FIRST,
            days=7,
            per_day=60,
            reply_rate=no_effect,
            seed=5,
            key="late",
            always_reply=True,
        )
    assert await _refresh(sessions, world) == 1
    (insight,) = await _insights(sessions)
    decided = [r for r in built.replies if r is not None]
    assert insight.sample_size == len(decided)
    assert insight.feature_value == "tue"


async def test_a_rerun_is_idempotent_and_a_later_run_refreshes_in_place(sessions) -> None:
    async with transaction(sessions) as session:
        world, _ = await _world(session)
    assert await _refresh(sessions, world) == 1
    (first,) = await _insights(sessions)
    assert await _refresh(sessions, world) == 0
    (again,) = await _insights(sessions)
    assert (again.id, again.statement, again.evidence) == (
        first.id,
        first.statement,
        first.evidence,
    )
    later = NOW + dt.timedelta(days=1)
    assert await _refresh(sessions, world, now=later) == 0
    (moved,) = await _insights(sessions)
    assert moved.id == first.id and moved.status == "new"
    assert moved.period_end == first.period_end + dt.timedelta(days=1)
    assert moved.expires_at == later + dt.timedelta(weeks=4)


async def test_an_undecided_insight_expires(sessions) -> None:
    async with transaction(sessions) as session:
        world, _ = await _world(session)
    await _refresh(sessions, world)
    # Five weeks on, most of the planted weeks have left the range: the first insight expired.
    await _refresh(sessions, world, now=NOW + dt.timedelta(weeks=5))
    rows = await _insights(sessions)
    assert rows[0].status == InsightStatus.EXPIRED.value
    assert rows[0].decided_at is None


async def test_a_dismissed_insight_is_not_raised_again(sessions) -> None:
    async with transaction(sessions) as session:
        world, _ = await _world(session)
    await _refresh(sessions, world)
    (insight,) = await _insights(sessions)
    async with transaction(sessions) as session:
        await decide_insight(
            session,
            Viewer.system(world.orgs["north"].id),
            insight_id=insight.id,
            decision="dismissed",
            note="we cannot choose the day",
            now=NOW,
        )
    for days in (0, 1, 7):
        assert await _refresh(sessions, world, now=NOW + dt.timedelta(days=days)) == 0
    (still,) = await _insights(sessions)
    assert (still.status, still.decision_note) == ("dismissed", "we cannot choose the day")


async def test_a_dismissal_lapses_after_its_quiet_period(sessions) -> None:
    async with transaction(sessions) as session:
        world, _ = await _world(session)
    await _refresh(sessions, world)
    (insight,) = await _insights(sessions)
    async with transaction(sessions) as session:
        await decide_insight(
            session,
            Viewer.system(world.orgs["north"].id),
            insight_id=insight.id,
            decision="dismissed",
            note=None,
            now=NOW - dt.timedelta(weeks=13),  # decided long enough ago
        )
    assert await _refresh(sessions, world, now=NOW + dt.timedelta(days=1)) == 1


async def test_an_acted_on_insight_is_followed_up_not_raised_again(sessions) -> None:
    async with transaction(sessions) as session:
        world, built = await _world(session)
    await _refresh(sessions, world)
    (insight,) = await _insights(sessions)
    async with transaction(sessions) as session:
        await decide_insight(
            session,
            Viewer.system(world.orgs["north"].id),
            insight_id=insight.id,
            decision="acted_on",
            note="reps now send on Tuesdays",
            now=NOW,
        )
        # After acting: four weeks where every day replies as well as Tuesdays did.
        agents = [world.agents["rep_a1"], world.agents["rep_a2"]]
        after = await email_history(
            session,
            agents,
            first_day=dt.date(2026, 11, 3),
            days=28,
            per_day=25,
            reply_rate=lambda _w, _d: 0.30,
            seed=8,
            key="after",
        )
    later = dt.datetime(2026, 12, 8, 12, tzinfo=dt.UTC)  # matured through 2026-11-30
    await _refresh(sessions, world, now=later)
    rows = await _insights(sessions)
    assert [r.id for r in rows if r.feature_value == "tue"] == [insight.id]
    followed = next(r for r in rows if r.id == insight.id)
    x1, n1 = sum(after.replies), len(after.replies)
    x0, n0 = sum(built.replies), len(built.replies)
    assert followed.follow_up_n == n1
    assert followed.follow_up_rate == pytest.approx(x1 / n1)
    assert followed.follow_up_before_rate == pytest.approx(x0 / n0)
    assert (followed.follow_up_ci_low, followed.follow_up_ci_high) == pytest.approx(
        confint_proportions_2indep(x1, n1, x0, n0, method="newcomb")
    )
    assert followed.follow_up_measured_at == later
    assert followed.follow_up_period_end == dt.date(2026, 11, 30)
    tuesday_after = sum(a.occurred_at.weekday() == 1 for a in after.actions) / n1
    assert followed.follow_up_share == pytest.approx(tuesday_after)


async def test_a_follow_up_waits_for_matured_actions(sessions) -> None:
    async with transaction(sessions) as session:
        world, _ = await _world(session)
    await _refresh(sessions, world)
    (insight,) = await _insights(sessions)
    async with transaction(sessions) as session:
        await decide_insight(
            session,
            Viewer.system(world.orgs["north"].id),
            insight_id=insight.id,
            decision="acted_on",
            note=None,
            now=NOW,
        )
    await _refresh(sessions, world, now=NOW + dt.timedelta(days=3))
    (still,) = await _insights(sessions)
    assert still.follow_up_n is None and still.follow_up_measured_at is None


async def test_a_foreign_team_is_not_found(sessions) -> None:
    async with transaction(sessions) as session:
        world = await build_world(session, actions_per_agent=0)
    with pytest.raises(NotFoundError):
        async with transaction(sessions) as session:
            await refresh_team_insights(
                session,
                organization_id=world.orgs["north"].id,
                team_id=world.teams["gamma"].id,
                now=NOW,
            )
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CoachingInsight)) == 0


def test_the_policy_defaults_are_those_documented() -> None:
    policy = MiningPolicy()
    assert (policy.weeks, policy.min_support, policy.fdr) == (8, 30, 0.05)
    assert policy.dismissed_quiet == dt.timedelta(weeks=12)
