"""How far reviewers agree on the threads they all reviewed (overall ratings, 1..5).

- **Pooled** over every unordered pair of reviews of the same thread: mean absolute difference
  and share of exact agreement (``analytics_engine.agreement.rating_agreement``).
- **Kappa**: Cohen's (1968) quadratically weighted kappa of the first two reviews of each
  thread (earlier as rater A, later as rater B), over two threads or more. Kappa assumes two
  fixed raters; with rotating reviewers this is the usual first-versus-second approximation.
- **Reviewer pairs**: for each two reviewers, over the threads both reviewed, the same figures
  and their kappa (fixed raters: Cohen's own setting), once they share two threads or more.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_engine.agreement import (
    RatingAgreement,
    WeightedKappa,
    rating_agreement,
    weighted_kappa,
)
from backend.database import utcnow
from backend.feedback.models import Feedback, FeedbackTarget
from backend.feedback.summary import require_feedback_reader
from backend.scope import DateRange, date_range, scope_agents
from backend.viewer import Viewer, scoped

MIN_PAIR_THREADS = 2  # kappa needs at least two threads (of a pair, or first-two reviews)
MAX_PAIRS = 50


@dataclass(frozen=True)
class ReviewerPair:
    reviewer_a: int  # the lower user id
    reviewer_b: int
    threads: int
    mean_absolute_difference: float
    exact_agreement: float
    kappa: float  # NaN below MIN_PAIR_THREADS, or when undefined


@dataclass(frozen=True)
class ReviewAgreement:
    range: DateRange
    reviews: int
    threads: int  # threads reviewed (once or more)
    pooled: RatingAgreement
    first_two: WeightedKappa
    pairs: tuple[ReviewerPair, ...]


def thread_agreement(ratings: Sequence[int]) -> RatingAgreement:
    """Agreement of one thread's overall ratings (pairs of its reviews)."""
    return rating_agreement(np.zeros(len(ratings), dtype=np.int64), list(ratings))


def _pairs(by_thread: dict[int, list[tuple[int, int]]]) -> tuple[ReviewerPair, ...]:
    shared: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for reviews in by_thread.values():
        rating_of = dict(reviews)  # author -> rating (one review per author and thread)
        for a, b in combinations(sorted(rating_of), 2):
            shared[(a, b)].append((rating_of[a], rating_of[b]))
    pairs = []
    for (a, b), ratings in shared.items():
        x, y = np.array(ratings).T
        kappa = weighted_kappa(x, y).kappa if len(ratings) >= MIN_PAIR_THREADS else float("nan")
        pairs.append(
            ReviewerPair(
                a, b, len(ratings), float(np.abs(x - y).mean()), float((x == y).mean()), kappa
            )
        )
    pairs.sort(key=lambda p: (-p.threads, p.reviewer_a, p.reviewer_b))
    return tuple(pairs[:MAX_PAIRS])


async def review_agreement(
    session: AsyncSession,
    viewer: Viewer,
    *,
    agent_id: int | None = None,
    team_id: int | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    today: dt.date | None = None,
) -> ReviewAgreement:
    """Agreement between the reviews given in the range to the threads the viewer sees (of one
    agent or team when given). People by role; API keys need `read:feedback`."""
    require_feedback_reader(viewer)
    days = date_range(since, until, today=today or utcnow().date())
    agents = await scope_agents(session, viewer, agent_id=agent_id, team_id=team_id)
    start = dt.datetime.combine(days.since, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(days.until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    statement = scoped(
        select(Feedback.conversation_id, Feedback.author_id, Feedback.rating),
        Feedback,
        viewer,
    ).where(
        Feedback.target_type == FeedbackTarget.CONVERSATION.value,
        Feedback.created_at >= start,
        Feedback.created_at < end,
    )
    if agents is not None:
        statement = statement.where(Feedback.agent_id.in_(agents))
    rows = (await session.execute(statement.order_by(Feedback.created_at, Feedback.id))).all()
    by_thread: dict[int, list[tuple[int, int]]] = defaultdict(list)
    thread_ids: list[int] = []
    for conversation_id, author_id, rating in rows:
        assert conversation_id is not None  # a thread review names it (CHECK target_type__...)
        thread_ids.append(conversation_id)
        by_thread[int(conversation_id)].append((int(author_id), int(rating)))
    pooled = rating_agreement(thread_ids, [r[2] for r in rows])
    firsts = [reviews[:2] for reviews in by_thread.values() if len(reviews) >= 2]
    first_two = weighted_kappa([f[0][1] for f in firsts], [f[1][1] for f in firsts])
    if first_two.count < MIN_PAIR_THREADS:  # one thread says nothing about chance agreement
        first_two = dataclasses.replace(first_two, kappa=float("nan"))
    return ReviewAgreement(days, len(rows), len(by_thread), pooled, first_two, _pairs(by_thread))
