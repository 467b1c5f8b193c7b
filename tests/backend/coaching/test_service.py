"""The viewer's use cases: who lists which insights, who decides, what a decision checks and
raises, and that a rejected decision changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from backend.coaching.events import CoachingInsightDecided
from backend.coaching.models import CoachingInsight, InsightAudience, InsightStatus
from backend.coaching.service import decide_insight, insights_page, refresh_insights, visible_to
from backend.errors import DomainError, ErrorCode, InvalidInput, NotFoundError
from backend.unit_of_work import transaction
from tests.backend.conftest import Loop
from tests.factories import NOW


def _insight(team_id: int, organization_id: int, audience: str, value: str) -> CoachingInsight:
    return CoachingInsight(
        organization_id=organization_id,
        team_id=team_id,
        outcome_type="email_reply",
        feature="agent" if audience == "manager" else "weekday",
        feature_value=value,
        direction="higher",
        audience=audience,
        statement="s",
        advice="a",
        measure="success_rate",
        support=40,
        sample_size=400,
        rate=0.3,
        baseline_rate=0.15,
        difference=0.15,
        ci_low=0.05,
        ci_high=0.25,
        confidence_level=0.95,
        p_value=0.001,
        q_value=0.01,
        test="two_proportion_z",
        evidence={},
        period_start=dt.date(2026, 9, 1),
        period_end=dt.date(2026, 10, 25),
        expires_at=NOW + dt.timedelta(weeks=4),
        created_at=NOW,
    )


async def _rows(loop: Loop) -> dict[str, CoachingInsight]:
    world = loop.world
    north = world.orgs["north"].id  # type: ignore[attr-defined]
    alpha, beta = world.teams["alpha"].id, world.teams["beta"].id  # type: ignore[attr-defined]
    rows = {
        "rep": _insight(alpha, north, "rep", "tue"),
        "manager": _insight(alpha, north, "manager", "7"),
        "beta": _insight(beta, north, "rep", "wed"),
    }
    async with transaction(loop.state.sessions) as session:
        session.add_all(rows.values())
    return rows


async def test_managers_see_their_teams_and_reps_the_advice_for_reps(loop: Loop) -> None:
    rows = await _rows(loop)
    alpha, beta = loop.world.teams["alpha"].id, loop.world.teams["beta"].id  # type: ignore[attr-defined]
    async with loop.state.sessions() as session:
        page = await insights_page(session, loop.manager, team_id=alpha)
        assert {r.id for r in page.items} == {rows["rep"].id, rows["manager"].id}
        page = await insights_page(
            session, loop.manager, team_id=alpha, audience=InsightAudience.MANAGER
        )
        assert [r.id for r in page.items] == [rows["manager"].id]
        page = await insights_page(
            session, loop.manager, team_id=alpha, status=InsightStatus.DISMISSED
        )
        assert page.items == []
        page = await insights_page(session, loop.rep, team_id=alpha)
        assert [r.id for r in page.items] == [rows["rep"].id]
        assert visible_to(loop.rep, rows["rep"]) and not visible_to(loop.rep, rows["manager"])
        assert not visible_to(loop.agent, rows["rep"])
        for viewer in (loop.manager, loop.rep):
            with pytest.raises(NotFoundError):
                await insights_page(session, viewer, team_id=beta)
        with pytest.raises(DomainError) as raised:
            await insights_page(session, loop.agent, team_id=alpha)
        assert raised.value.code is ErrorCode.FORBIDDEN


async def test_a_decision_is_checked_audited_and_raised_after_commit(loop: Loop) -> None:
    rows = await _rows(loop)
    insight = rows["rep"].id
    with pytest.raises(InvalidInput) as raised:
        async with transaction(loop.state.sessions) as session:
            await decide_insight(
                session,
                loop.manager,
                insight_id=insight,
                decision="ignored",
                note="x" * 1001,
                now=NOW,
            )
    assert {e.field for e in raised.value.errors} == {"decision", "note"}
    for viewer in (loop.rep, loop.agent):
        with pytest.raises(DomainError) as denied:
            async with transaction(loop.state.sessions) as session:
                await decide_insight(
                    session, viewer, insight_id=insight, decision="dismissed", note=None, now=NOW
                )
        assert denied.value.code is ErrorCode.FORBIDDEN
    with pytest.raises(NotFoundError):  # another team's: unknown to this manager
        async with transaction(loop.state.sessions) as session:
            await decide_insight(
                session,
                loop.manager,
                insight_id=rows["beta"].id,
                decision="dismissed",
                note=None,
                now=NOW,
            )
    async with loop.state.sessions() as session:
        statuses = set(await session.scalars(select(CoachingInsight.status)))
    assert statuses == {"new"}
    events: list = []
    async with transaction(loop.state.sessions, hold=events) as session:
        decided = await decide_insight(
            session, loop.manager, insight_id=insight, decision="dismissed", note=" no ", now=NOW
        )
    assert (decided.status, decided.decided_at, decided.decision_note) == ("dismissed", NOW, "no")
    assert decided.decided_by_id == loop.world.users["manager_a"].id  # type: ignore[attr-defined]
    assert events == [
        CoachingInsightDecided(
            decided.organization_id, decided.team_id, insight, "dismissed", decided.decided_by_id
        )
    ]


async def test_running_on_demand_is_for_the_teams_managers(loop: Loop) -> None:
    alpha, beta = loop.world.teams["alpha"].id, loop.world.teams["beta"].id  # type: ignore[attr-defined]
    async with transaction(loop.state.sessions) as session:
        assert await refresh_insights(session, loop.manager, team_id=alpha, now=NOW) == 0
        with pytest.raises(NotFoundError):
            await refresh_insights(session, loop.manager, team_id=beta, now=NOW)
        with pytest.raises(DomainError) as denied:
            await refresh_insights(session, loop.rep, team_id=alpha, now=NOW)
    assert denied.value.code is ErrorCode.FORBIDDEN
