"""Mining a team's coaching insights: each mined outcome's last weeks of matured, decided
actions through ``analytics_engine.coaching.find_insights``, stored with their evidence,
audience, advice and expiry; learning from the managers' decisions (a dismissed finding stays
quiet unless its evidence clearly grows; an acted-on one is not raised again but has its effect
measured on later runs). Usable inside any unit of work: it never commits.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.coaching import CoachingInsight as Finding
from analytics_engine.coaching import CoachingReport, EffectDirection, find_insights
from backend.agents.models import Agent
from backend.coaching import advice
from backend.coaching.events import CoachingInsightsRaised
from backend.coaching.features import UNKNOWN, FeatureTable, feature_table
from backend.coaching.follow_up import measure_follow_up
from backend.coaching.models import CoachingInsight, InsightStatus
from backend.coaching.samples import (
    HUMAN_RATING,
    MINED_OUTCOMES,
    Period,
    decided_actions,
    matured_period,
)
from backend.coaching.wording import insight_statement
from backend.database import utc_date
from backend.errors import NotFoundError, flush
from backend.orgs.models import Team
from backend.outcomes.rules import OutcomeRules, rules_for
from backend.scope import organization_config
from backend.unit_of_work import raise_event


@dataclass(frozen=True)
class MiningPolicy:
    """How a run mines and how long its findings and the managers' decisions last."""

    weeks: int = 8  # matured weeks mined per outcome
    min_support: int = 30  # actions needed in a group and outside it
    fdr: float = 0.05  # Benjamini-Hochberg false discovery rate, per outcome
    examples: int = 5  # example actions kept as evidence
    expires_after: dt.timedelta = dt.timedelta(weeks=4)  # an undecided insight's life
    dismissed_quiet: dt.timedelta = dt.timedelta(weeks=12)  # a dismissal holds this long
    acted_quiet: dt.timedelta = dt.timedelta(weeks=26)  # follow-ups measured this long


DEFAULT_POLICY = MiningPolicy()


def _assured(difference_ci: tuple[float, float], direction: str) -> float:
    """The smallest effect the interval allows, in the finding's direction."""
    low, high = difference_ci
    return low if direction == EffectDirection.HIGHER.value else -high


def clearly_stronger(dismissed: CoachingInsight, finding: Finding) -> bool:
    """A dismissed finding returns only when the new interval rules out the effect that was
    dismissed (its smallest plausible effect exceeds the dismissed estimate), or when the
    effect has turned round."""
    if finding.direction.value != dismissed.direction:
        return True
    return _assured(finding.ci, dismissed.direction) > abs(dismissed.difference)


def _examples(table: FeatureTable, finding: Finding, count: int) -> list[int]:
    """Actions of the group that show the finding: its successes when the group does better,
    its failures when it does worse; the latest first."""
    in_group = table.features[finding.feature] == finding.value
    rest_mean = finding.rest_rate
    showing = (
        table.outcomes > rest_mean
        if finding.direction is EffectDirection.HIGHER
        else table.outcomes < rest_mean
    )
    chosen = np.flatnonzero(in_group & showing)[::-1][:count]
    return [int(i) for i in table.action_ids[chosen]]


def _fill(
    row: CoachingInsight,
    finding: Finding,
    *,
    report: CoachingReport,
    table: FeatureTable,
    outcome_type: str,
    period: Period,
    agent_names: dict[str, str],
    policy: MiningPolicy,
    now: dt.datetime,
) -> None:
    subject = advice.subject(finding.feature, finding.value, agent_names=agent_names)
    row.statement = insight_statement(
        finding,
        feature_phrases={finding.feature: subject.replace("{", "{{").replace("}", "}}")},
        outcome_phrase=advice.outcome_phrase(outcome_type),
    )
    row.advice = advice.advice(finding, outcome_type=outcome_type, agent_names=agent_names)
    row.audience = advice.audience(finding.feature, outcome_type).value
    row.direction = finding.direction.value
    row.measure = finding.measure.value
    row.support, row.sample_size = finding.support, report.sample_size
    row.rate, row.baseline_rate = finding.rate, finding.rest_rate
    row.difference, (row.ci_low, row.ci_high) = finding.difference, finding.ci
    row.confidence_level = finding.confidence_level
    row.lift = finding.lift if np.isfinite(finding.lift) else None
    row.p_value, row.q_value, row.test = finding.p_value, finding.q_value, finding.test
    row.evidence = {
        "n": report.sample_size,
        "support": finding.support,
        "candidates_tested": report.candidates_tested,
        "fdr": report.fdr,
        "min_support": policy.min_support,
        "adjusted_odds_ratio": finding.adjusted_odds_ratio,
        "adjusted_p_value": finding.adjusted_p_value,
        "example_action_ids": _examples(table, finding, policy.examples),
    }
    row.period_start, row.period_end = period.start, period.end
    row.expires_at = now + policy.expires_after
    row.updated_at = now


async def _latest(
    session: AsyncSession, team_id: int, outcome_type: str, finding: Finding
) -> CoachingInsight | None:
    statement = (
        select(CoachingInsight)
        .where(
            CoachingInsight.team_id == team_id,
            CoachingInsight.outcome_type == outcome_type,
            CoachingInsight.feature == finding.feature,
            CoachingInsight.feature_value == finding.value,
        )
        .order_by(CoachingInsight.created_at.desc(), CoachingInsight.id.desc())
        .limit(1)
    )
    return await session.scalar(statement)


def _quiet(
    latest: CoachingInsight, finding: Finding, policy: MiningPolicy, now: dt.datetime
) -> bool:
    """Whether the managers' last decision on this finding keeps it from being raised."""
    if latest.decided_at is None:
        return False
    since = now - latest.decided_at
    if latest.status == InsightStatus.ACTED_ON.value:
        return since < policy.acted_quiet
    if latest.status == InsightStatus.DISMISSED.value:
        return since < policy.dismissed_quiet and not clearly_stronger(latest, finding)
    return False


async def _mine_outcome(
    session: AsyncSession,
    *,
    team: Team,
    agent_ids: list[int],
    agent_names: dict[str, str],
    outcome_type: str,
    rules: OutcomeRules,
    policy: MiningPolicy,
    now: dt.datetime,
) -> list[CoachingInsight]:
    """Mine one outcome; the insights it raised (refreshed ones are updated in place)."""
    period = matured_period(rules, outcome_type, today=utc_date(now), weeks=policy.weeks)
    rows = await decided_actions(
        session,
        organization_id=team.organization_id,
        agent_ids=agent_ids,
        outcome_type=outcome_type,
        period=period,
    )
    if len(rows) < 2 * policy.min_support:
        return []
    table = feature_table(rows)
    # Scipy's tests and the logistic fit are CPU work: off the event loop.
    report = await asyncio.to_thread(
        find_insights,
        table.features,
        table.outcomes,
        action_type=table.action_types,
        min_support=policy.min_support,
        fdr=policy.fdr,
    )
    raised = []
    for finding in report.insights:
        if finding.value == UNKNOWN or finding.direction is EffectDirection.NONE:
            continue
        latest = await _latest(session, team.id, outcome_type, finding)
        if latest is not None and _quiet(latest, finding, policy, now):
            continue
        if latest is not None and (
            latest.status == InsightStatus.NEW.value or latest.period_end == period.end
        ):
            if latest.status == InsightStatus.NEW.value:  # still open: refreshed in place
                _fill(
                    latest,
                    finding,
                    report=report,
                    table=table,
                    outcome_type=outcome_type,
                    period=period,
                    agent_names=agent_names,
                    policy=policy,
                    now=now,
                )
            continue  # the same period's finding was already decided: nothing new
        row = CoachingInsight(
            organization_id=team.organization_id,
            team_id=team.id,
            outcome_type=outcome_type,
            feature=finding.feature,
            feature_value=finding.value,
            status=InsightStatus.NEW.value,
            created_at=now,
        )
        _fill(
            row,
            finding,
            report=report,
            table=table,
            outcome_type=outcome_type,
            period=period,
            agent_names=agent_names,
            policy=policy,
            now=now,
        )
        session.add(row)
        raised.append(row)
    return raised


async def expire_insights(session: AsyncSession, *, team_id: int, now: dt.datetime) -> int:
    """Undecided insights past their expiry become expired."""
    result = await session.execute(
        update(CoachingInsight)
        .where(
            CoachingInsight.team_id == team_id,
            CoachingInsight.status == InsightStatus.NEW.value,
            CoachingInsight.expires_at <= now,
        )
        .values(status=InsightStatus.EXPIRED.value, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def refresh_team_insights(
    session: AsyncSession,
    *,
    organization_id: int,
    team_id: int,
    now: dt.datetime,
    policy: MiningPolicy = DEFAULT_POLICY,
) -> int:
    """Mine one team as of ``now``: expire what nobody decided in time, raise new insights
    (refreshing the undecided ones found again), measure the follow-up of those acted on.
    Returns how many insights it raised; raises `CoachingInsightsRaised` when any. A rerun
    over the same matured days raises nothing new."""
    team = await session.scalar(
        select(Team).where(Team.organization_id == organization_id, Team.id == team_id)
    )
    if team is None:
        raise NotFoundError("team", field="teamId")
    await expire_insights(session, team_id=team.id, now=now)
    rules = rules_for(await organization_config(session, organization_id))
    agents = list(
        await session.execute(
            select(Agent.id, Agent.name)
            .where(Agent.organization_id == organization_id, Agent.team_id == team.id)
            .order_by(Agent.id)
        )
    )
    agent_ids = [a.id for a in agents]
    agent_names = {str(a.id): a.name for a in agents}
    raised: list[CoachingInsight] = []
    for outcome_type in (*MINED_OUTCOMES, HUMAN_RATING):
        raised += await _mine_outcome(
            session,
            team=team,
            agent_ids=agent_ids,
            agent_names=agent_names,
            outcome_type=outcome_type,
            rules=rules,
            policy=policy,
            now=now,
        )
    await flush(session)
    await _follow_up(session, team=team, agent_ids=agent_ids, rules=rules, policy=policy, now=now)
    await flush(session)
    if raised:
        ids = tuple(row.id for row in raised)
        raise_event(session, CoachingInsightsRaised(organization_id, team.id, ids))
    return len(raised)


async def _follow_up(
    session: AsyncSession,
    *,
    team: Team,
    agent_ids: list[int],
    rules: OutcomeRules,
    policy: MiningPolicy,
    now: dt.datetime,
) -> None:
    acted = await session.scalars(
        select(CoachingInsight).where(
            CoachingInsight.team_id == team.id,
            CoachingInsight.status == InsightStatus.ACTED_ON.value,
            CoachingInsight.decided_at >= now - policy.acted_quiet,
        )
    )
    for insight in list(acted):
        period = matured_period(
            rules, insight.outcome_type, today=utc_date(now), weeks=policy.weeks
        )
        if await measure_follow_up(
            session, insight, agent_ids=agent_ids, last_matured_day=period.end, now=now
        ):
            insight.updated_at = now


async def teams_to_mine(session: AsyncSession) -> list[tuple[int, int]]:
    """Every team of every organisation, as (organization id, team id)."""
    rows = await session.execute(select(Team.organization_id, Team.id).order_by(Team.id))
    return [(row.organization_id, row.id) for row in rows]
