"""Three judgements of one action: the people's rating, the resolved outcome and the agent's
confidence, each on [0, 1], and the rule that says when they disagree.

- **Rating**: the mean of the people's ratings of the action (1..5, normalised as
  (r - 1) / 4) and of its message (thumbs: 0 or 1), given in the range.
- **Outcome**: the value of the action type's calibrating outcome (e.g. `email_reply`,
  `escalation_quality`), once resolved.
- **Confidence**: the confidence the agent stated (raw, before recalibration: what it believed).

Each says "success" above the middle of [0, 1], "failure" below it, and nothing at exactly
0.5 (a 3 of 5, or one thumb up and one down). An action is a **disagreement** when the rating
takes a side and the outcome or the confidence takes the other. The outcome against the
confidence alone is calibration's business (measured continuously elsewhere), not a reason
for a person to look again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Float, and_, case, cast, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.feedback.models import Feedback, FeedbackTarget
from backend.outcomes.models import Outcome, OutcomeStatus
from backend.outcomes.rules import OutcomeRules
from backend.viewer import Viewer, scoped

POSITIVE_RATING = 4  # on the 1..5 scale: 4 and 5 are positive (appropriate, for escalations)


@dataclass(frozen=True)
class Judgement:
    action_id: int
    agent_id: int
    conversation_id: int | None
    action_type: str
    confidence: float
    rating: float  # mean normalised rating, [0, 1]
    ratings: int  # how many ratings (of the action and of its message)
    scaled_ratings: int  # of which on the 1..5 scale (the action itself)
    scaled_rating_sum: int  # their sum, on 1..5
    outcome: float | None  # the calibrating outcome's value, None while unresolved


def verdict(value: float | None) -> bool | None:
    """Success (True) above the middle of [0, 1], failure (False) below, None at it or unknown."""
    if value is None or value == 0.5:
        return None
    return value > 0.5


def disagrees(judgement: Judgement) -> bool:
    """The rating takes a side, and the outcome or the confidence takes the other."""
    rated = verdict(judgement.rating)
    if rated is None:
        return False
    others = (verdict(judgement.outcome), verdict(judgement.confidence))
    return any(other is not None and other != rated for other in others)


async def judgements(
    session: AsyncSession,
    viewer: Viewer,
    *,
    agent_ids: Sequence[int] | None,
    start: dt.datetime,
    end: dt.datetime,
    rules: OutcomeRules,
) -> list[Judgement]:
    """The actions rated (directly, or through their message) by feedback given in [start, end)
    that the viewer may see, with their three judgements."""
    normalised = case(
        (Feedback.target_type == FeedbackTarget.MESSAGE.value, cast(Feedback.rating, Float)),
        else_=cast(Feedback.rating - 1, Float) / 4.0,
    )
    scaled = Feedback.target_type == FeedbackTarget.ACTION.value
    columns = (
        AgentAction.id.label("action_id"),
        normalised.label("normalised"),
        case((scaled, 1), else_=0).label("scaled"),
        case((scaled, Feedback.rating), else_=0).label("scaled_rating"),
    )
    parts = []
    for condition in (
        AgentAction.id == Feedback.action_id,
        and_(
            AgentAction.message_id == Feedback.message_id, AgentAction.agent_id == Feedback.agent_id
        ),
    ):
        part = scoped(
            select(*columns).select_from(Feedback).join(AgentAction, condition), Feedback, viewer
        ).where(Feedback.created_at >= start, Feedback.created_at < end)
        if agent_ids is not None:
            part = part.where(Feedback.agent_id.in_(sorted(agent_ids)))
        parts.append(part)
    ratings = union_all(*parts).subquery()
    per_action = (
        select(
            ratings.c.action_id,
            func.sum(ratings.c.normalised).label("total"),
            func.count().label("ratings"),
            func.sum(ratings.c.scaled).label("scaled"),
            func.sum(ratings.c.scaled_rating).label("scaled_sum"),
        ).group_by(ratings.c.action_id)
    ).subquery()
    rows = (
        await session.execute(
            select(
                per_action,
                AgentAction.agent_id,
                AgentAction.conversation_id,
                AgentAction.action_type,
                AgentAction.confidence,
            )
            .join(AgentAction, AgentAction.id == per_action.c.action_id)
            .order_by(per_action.c.action_id)
        )
    ).all()
    if not rows:
        return []
    outcomes: dict[tuple[int, str], float] = {}
    resolved = select(Outcome.action_id, Outcome.outcome_type, Outcome.value).where(
        Outcome.action_id.in_(select(per_action.c.action_id)),
        Outcome.status == OutcomeStatus.RESOLVED.value,
    )
    for action_id, outcome_type, value in await session.execute(resolved):
        assert value is not None  # a resolved outcome has its value (CHECK value__resolved)
        outcomes[(action_id, outcome_type)] = float(value)
    found = []
    for row in rows:
        calibrating = rules.calibrating_plan(row.action_type).outcome_type
        found.append(
            Judgement(
                action_id=row.action_id,
                agent_id=row.agent_id,
                conversation_id=row.conversation_id,
                action_type=row.action_type,
                confidence=float(row.confidence),
                rating=float(row.total) / int(row.ratings),
                ratings=int(row.ratings),
                scaled_ratings=int(row.scaled or 0),
                scaled_rating_sum=int(row.scaled_sum or 0),
                outcome=outcomes.get((row.action_id, calibrating)),
            )
        )
    return found
