"""Quality metrics from feedback given in a date range, for the agents a viewer sees:

- per agent, target (message thumbs, action 1..5, thread review 1..5) and action type: the
  mean rating on the target's scale and the share positive (thumb up, or 4..5), each with a
  95% Wilson (1927) interval (for the mean: on the rating rescaled to [0, 1], as the engine
  treats ordinal outcomes, mapped back to the scale);
- escalation appropriateness: of the escalation actions rated 1..5, the share whose mean
  rating is 4 or more ("appropriate"), with its interval;
- the three-way view of rating, outcome and confidence (``judgements``): per pair, the share
  of actions where both take the same side and their Pearson correlation, how many actions
  have all three, and how many disagree.

People read by role; API keys need `read:feedback`; the agent's own key reads none of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from analytics_engine.agreement import pearson_correlation
from analytics_engine.intervals import wilson_interval
from analytics_engine.roi import RateEstimate, rate_estimate
from backend.actions.models import ActionType, AgentAction
from backend.database import utcnow
from backend.errors import PermissionDeniedError
from backend.feedback.judgements import POSITIVE_RATING, Judgement, disagrees, judgements, verdict
from backend.feedback.models import Feedback, FeedbackTarget
from backend.outcomes.rules import rules_for
from backend.scope import DateRange, date_range, organization_config, scope_agents
from backend.viewer import Viewer, ViewerRole, scoped


def require_feedback_reader(viewer: Viewer) -> None:
    if viewer.role is ViewerRole.AGENT:
        raise PermissionDeniedError("ratings of the agent are for the people who coach it")
    viewer.require_scope("read:feedback")


@dataclass(frozen=True)
class RatingMean:
    """The mean rating on its target's scale (thumbs: the share up) with its 95% interval."""

    count: int
    mean: float  # NaN without ratings
    lower: float
    upper: float


@dataclass(frozen=True)
class FeedbackGroup:
    agent_id: int
    target_type: str
    action_type: str | None  # None for thread reviews, and messages of no action
    mean: RatingMean
    positive: RateEstimate


@dataclass(frozen=True)
class PairAgreement:
    """Two of the three judgements over the actions that have both."""

    paired: int  # actions with both
    same_side: RateEstimate  # of those where both take a side, the share on the same side
    correlation: float  # Pearson over the paired actions; NaN when undefined


@dataclass(frozen=True)
class ThreeWayAgreement:
    actions: int  # actions rated in the range
    complete: int  # of which with a resolved outcome too (rating and confidence always exist)
    disagreements: int  # ``judgements.disagrees``
    rating_outcome: PairAgreement
    rating_confidence: PairAgreement
    outcome_confidence: PairAgreement


@dataclass(frozen=True)
class FeedbackSummary:
    range: DateRange
    groups: tuple[FeedbackGroup, ...]
    escalations: RateEstimate
    agreement: ThreeWayAgreement


def rating_mean(count: int, total: float, *, low: int, high: int) -> RatingMean:
    """Mean of ``count`` ratings summing to ``total`` on ``low..high``, with the Wilson interval
    of the rescaled mean mapped back to the scale."""
    width = high - low
    interval = wilson_interval([(total - count * low) / width], [count])
    back = [low + width * float(v[0]) for v in (interval.estimate, interval.lower, interval.upper)]
    return RatingMean(count, *back)


def _pair(
    rated: Sequence[Judgement],
    first: Callable[[Judgement], float | None],
    second: Callable[[Judgement], float | None],
) -> PairAgreement:
    both: list[tuple[float, float]] = []
    for j in rated:
        a, b = first(j), second(j)
        if a is not None and b is not None:
            both.append((a, b))
    sides = [(verdict(a), verdict(b)) for a, b in both]
    sided = [(a, b) for a, b in sides if a is not None and b is not None]
    correlation = pearson_correlation([a for a, _ in both], [b for _, b in both])
    return PairAgreement(
        len(both), rate_estimate(sum(a == b for a, b in sided), len(sided)), correlation
    )


def three_way(rated: Sequence[Judgement]) -> ThreeWayAgreement:
    def rating(j: Judgement) -> float | None:
        return j.rating

    def outcome(j: Judgement) -> float | None:
        return j.outcome

    def confidence(j: Judgement) -> float | None:
        return j.confidence

    return ThreeWayAgreement(
        actions=len(rated),
        complete=sum(j.outcome is not None for j in rated),
        disagreements=sum(disagrees(j) for j in rated),
        rating_outcome=_pair(rated, rating, outcome),
        rating_confidence=_pair(rated, rating, confidence),
        outcome_confidence=_pair(rated, outcome, confidence),
    )


def escalation_appropriateness(rated: Sequence[Judgement]) -> RateEstimate:
    escalation = ActionType.ESCALATION.value
    escalations = [j for j in rated if j.action_type == escalation and j.scaled_ratings]
    appropriate = sum(
        j.scaled_rating_sum >= POSITIVE_RATING * j.scaled_ratings for j in escalations
    )
    return rate_estimate(appropriate, len(escalations))


async def _groups(
    session: AsyncSession,
    viewer: Viewer,
    agents: list[int] | None,
    start: dt.datetime,
    end: dt.datetime,
) -> list[FeedbackGroup]:
    message = Feedback.target_type == FeedbackTarget.MESSAGE.value
    sent = aliased(AgentAction)  # the action that sent the message (not the joined one)
    of_message = (
        select(func.min(sent.action_type))
        .where(sent.message_id == Feedback.message_id)
        .correlate(Feedback)
        .scalar_subquery()
    )
    action_type = case(
        (Feedback.target_type == FeedbackTarget.ACTION.value, AgentAction.action_type),
        (message, of_message),
        else_=None,
    )
    positive = case(
        (and_(message, Feedback.rating == 1), 1),
        (and_(~message, Feedback.rating >= POSITIVE_RATING), 1),
        else_=0,
    )
    inner = scoped(
        select(
            Feedback.agent_id,
            Feedback.target_type,
            action_type.label("action_type"),
            Feedback.rating,
            positive.label("positive"),
        )
        .select_from(Feedback)
        .outerjoin(AgentAction, AgentAction.id == Feedback.action_id),
        Feedback,
        viewer,
    ).where(Feedback.created_at >= start, Feedback.created_at < end)
    if agents is not None:
        inner = inner.where(Feedback.agent_id.in_(agents))
    rows = inner.subquery()
    keys = (rows.c.agent_id, rows.c.target_type, rows.c.action_type)
    statement = select(
        *keys, func.count(), func.sum(rows.c.rating), func.sum(rows.c.positive)
    ).group_by(*keys)
    groups = []
    for agent_id, target, kind, count, total, positives in await session.execute(statement):
        low, high = (0, 1) if target == FeedbackTarget.MESSAGE.value else (1, 5)
        groups.append(
            FeedbackGroup(
                int(agent_id),
                target,
                kind,
                rating_mean(int(count), float(total), low=low, high=high),
                rate_estimate(int(positives), int(count)),
            )
        )
    groups.sort(key=lambda g: (g.agent_id, g.target_type, g.action_type or ""))
    return groups


async def feedback_summary(
    session: AsyncSession,
    viewer: Viewer,
    *,
    agent_id: int | None = None,
    team_id: int | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    today: dt.date | None = None,
) -> FeedbackSummary:
    """The quality metrics of the feedback given in the range (see the module) on one agent, a
    team's agents, or every agent the viewer sees."""
    require_feedback_reader(viewer)
    days = date_range(since, until, today=today or utcnow().date())
    agents = await scope_agents(session, viewer, agent_id=agent_id, team_id=team_id)
    start = dt.datetime.combine(days.since, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(days.until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    rules = rules_for(await organization_config(session, viewer.organization_id))
    rated = await judgements(session, viewer, agent_ids=agents, start=start, end=end, rules=rules)
    groups = await _groups(session, viewer, agents, start, end)
    return FeedbackSummary(days, tuple(groups), escalation_appropriateness(rated), three_way(rated))
