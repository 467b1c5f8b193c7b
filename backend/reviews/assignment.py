"""Assigning threads to reviewers: the threads worth reviewing (``selection``) or the ones a
manager names, each to the eligible reviewers with the fewest open assignments.

Eligible for a thread: the managers and reps of its agent's team, except the rep who owns the
agent (nobody is asked to judge their own agent), who have not been given the thread before
and have not reviewed it already. Ties go to the lower user id, so equal loads take turns
(round-robin). A reviewer is never given the same thread twice (also under concurrent runs:
the table's unique (thread, reviewer) key); a thread may have several reviewers.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from backend.agents.models import Agent
from backend.crm.models import Conversation
from backend.database import insert_rows, utcnow
from backend.errors import ErrorCode, InvalidInput, PermissionDeniedError, Problems
from backend.feedback.models import Feedback, FeedbackTarget
from backend.orgs.models import Role, TeamManager, User
from backend.outcomes.rules import rules_for
from backend.reviews.models import ReviewAssignment, ReviewReason, ReviewStatus
from backend.reviews.selection import PRIORITY, Candidate, candidates
from backend.scope import agents_of_team, date_range, organization_config, teams_in_scope
from backend.viewer import Viewer, ViewerRole, scoped

ASSIGNERS = (ViewerRole.MANAGER, ViewerRole.EXECUTIVE, ViewerRole.ADMIN)
MAX_THREADS = 100
MAX_REVIEWERS_PER_THREAD = 5
DEFAULT_MIN_MESSAGES = 8


@dataclass(frozen=True)
class AssignReviewsInput:
    team_id: int | None = None  # default: every team the viewer manages (or sees)
    since: dt.date | None = None  # default: the trailing 30 days
    until: dt.date | None = None
    reasons: Sequence[str] = tuple(r.value for r in PRIORITY)
    conversation_ids: Sequence[int] = ()  # named threads (reason "manual") instead of a search
    reviewer_id: int | None = None  # one reviewer for every thread, instead of round-robin
    reviewers_per_thread: int = 1  # reviewers each thread should end up with
    limit: int = 20  # threads given out
    min_messages: int = DEFAULT_MIN_MESSAGES  # a long thread has at least this many


@dataclass(frozen=True)
class ThreadToAssign:
    conversation_id: int
    agent_id: int
    team_id: int
    owner_id: int
    reason: ReviewReason


@dataclass(frozen=True)
class PlannedReview:
    conversation_id: int
    agent_id: int
    reviewer_id: int
    reason: ReviewReason


@dataclass(frozen=True)
class AssignedReviews:
    assignments: list[ReviewAssignment]
    unassigned: list[int] = field(default_factory=list)  # worth it, but nobody eligible left


def plan_reviews(
    threads: Sequence[ThreadToAssign],
    *,
    pools: Mapping[int, Sequence[int]],
    covered: Mapping[int, set[int]],
    active: Mapping[int, int],
    load: Mapping[int, int],
    reviewers_per_thread: int,
    limit: int,
    reviewer_id: int | None = None,
    org_wide: frozenset[int] = frozenset(),
) -> tuple[list[PlannedReview], list[int]]:
    """Who reviews what (pure): ``pools`` are each team's reviewers, ``covered`` who already had
    or reviewed each thread, ``active`` how many reviewers each thread has (skips aside),
    ``load`` each reviewer's open assignments. With ``reviewer_id`` that person gets every
    thread they may review and have not had. Stops after ``limit`` threads."""
    load = dict(load)
    planned: list[PlannedReview] = []
    unassigned: list[int] = []
    given = 0
    for thread in threads:
        if given >= limit:
            break
        taken = covered.get(thread.conversation_id, set())
        if reviewer_id is not None:
            if reviewer_id in taken:
                continue
            eligible = reviewer_id in pools.get(thread.team_id, ()) or reviewer_id in org_wide
            chosen = [reviewer_id] if eligible else []
        else:
            need = reviewers_per_thread - active.get(thread.conversation_id, 0)
            if need <= 0:
                continue
            pool = [
                u for u in pools.get(thread.team_id, ()) if u != thread.owner_id and u not in taken
            ]
            chosen = sorted(pool, key=lambda u: (load.get(u, 0), u))[:need]
        if not chosen:
            if len(unassigned) < MAX_THREADS:
                unassigned.append(thread.conversation_id)
            continue
        for user_id in chosen:
            load[user_id] = load.get(user_id, 0) + 1
            planned.append(
                PlannedReview(thread.conversation_id, thread.agent_id, user_id, thread.reason)
            )
        given += 1
    return planned, unassigned


async def _pools(
    session: AsyncSession, organization_id: int, team_ids: Iterable[int]
) -> dict[int, list[int]]:
    """Each team's reviewers: its managers and its reps, active."""
    teams = sorted(set(team_ids))
    managers = (
        select(TeamManager.team_id, TeamManager.user_id)
        .join(User, User.id == TeamManager.user_id)
        .where(
            TeamManager.team_id.in_(teams),
            User.organization_id == organization_id,
            User.active.is_(True),
        )
    )
    members = select(User.team_id, User.id).where(
        User.organization_id == organization_id,
        User.team_id.in_(teams),
        User.active.is_(True),
        User.role.in_([Role.REP.value, Role.MANAGER.value]),
    )
    pools: dict[int, set[int]] = defaultdict(set)
    team_id: int  # members are selected by team: never NULL here
    user_id: int
    for team_id, user_id in await session.execute(union(managers, members)):
        pools[team_id].add(user_id)
    return {team_id: sorted(users) for team_id, users in pools.items()}


async def _org_wide(session: AsyncSession, organization_id: int) -> frozenset[int]:
    return frozenset(
        await session.scalars(
            select(User.id).where(
                User.organization_id == organization_id,
                User.active.is_(True),
                User.role.in_([Role.EXECUTIVE.value, Role.ADMIN.value]),
            )
        )
    )


async def _threads(session: AsyncSession, found: Sequence[Candidate]) -> list[ThreadToAssign]:
    rows = await session.execute(
        select(Conversation.id, Conversation.agent_id, Agent.team_id, Agent.owner_id)
        .join(Agent, Agent.id == Conversation.agent_id)
        .where(Conversation.id.in_(sorted({c.conversation_id for c in found})))
    )
    facts = {row.id: row for row in rows}
    return [
        ThreadToAssign(
            c.conversation_id,
            facts[c.conversation_id].agent_id,
            facts[c.conversation_id].team_id,
            facts[c.conversation_id].owner_id,
            c.reason,
        )
        for c in found
        if c.conversation_id in facts
    ]


async def _history(
    session: AsyncSession, conversation_ids: Sequence[int]
) -> tuple[dict[int, set[int]], dict[int, int]]:
    """Per thread: who had or reviewed it, and how many reviewers it has (skips aside)."""
    ids = sorted(set(conversation_ids))
    covered: dict[int, set[int]] = defaultdict(set)
    counting: dict[int, set[int]] = defaultdict(set)
    assigned = select(
        ReviewAssignment.conversation_id, ReviewAssignment.reviewer_id, ReviewAssignment.status
    ).where(ReviewAssignment.conversation_id.in_(ids))
    for conversation_id, reviewer_id, status in await session.execute(assigned):
        covered[conversation_id].add(reviewer_id)
        if status != ReviewStatus.SKIPPED.value:
            counting[conversation_id].add(reviewer_id)
    reviewed = select(Feedback.conversation_id, Feedback.author_id).where(
        Feedback.target_type == FeedbackTarget.CONVERSATION.value,
        Feedback.conversation_id.in_(ids),
    )
    for review_thread_id, author_id in await session.execute(reviewed):
        assert review_thread_id is not None  # selected by conversation_id IN (...)
        covered[review_thread_id].add(author_id)
        counting[review_thread_id].add(author_id)
    return covered, {c: len(users) for c, users in counting.items()}


async def _load(session: AsyncSession, organization_id: int) -> dict[int, int]:
    rows = await session.execute(
        select(ReviewAssignment.reviewer_id, func.count())
        .where(
            ReviewAssignment.organization_id == organization_id,
            ReviewAssignment.status == ReviewStatus.ASSIGNED.value,
        )
        .group_by(ReviewAssignment.reviewer_id)
    )
    return {int(user_id): int(count) for user_id, count in rows}


def _check(data: AssignReviewsInput, problems: Problems) -> list[ReviewReason]:
    automatic = [r.value for r in PRIORITY]
    reasons = list(dict.fromkeys(data.reasons))
    if not data.conversation_ids:
        problems.require(
            bool(reasons) and all(r in automatic for r in reasons),
            "reasons",
            "name one or more of: " + ", ".join(automatic),
        )
    problems.require(
        len(data.conversation_ids) <= MAX_THREADS,
        "threadIds",
        f"at most {MAX_THREADS} threads at once",
    )
    problems.require(
        1 <= data.reviewers_per_thread <= MAX_REVIEWERS_PER_THREAD,
        "reviewersPerThread",
        f"must be 1..{MAX_REVIEWERS_PER_THREAD}",
    )
    problems.require(1 <= data.limit <= MAX_THREADS, "limit", f"must be 1..{MAX_THREADS}")
    problems.require(2 <= data.min_messages <= 1000, "minMessages", "must be 2..1000")
    return [ReviewReason(r) for r in reasons if r in automatic]


async def _named(
    session: AsyncSession, viewer: Viewer, ids: Sequence[int], problems: Problems
) -> list[Candidate]:
    if not ids:
        return []
    statement = scoped(
        select(Conversation.id, Conversation.external_thread_id), Conversation, viewer
    ).where(Conversation.id.in_(sorted(set(ids))))
    found = {c: e for c, e in await session.execute(statement)}
    for i, conversation_id in enumerate(ids):
        if conversation_id not in found:
            problems.add(f"threadIds[{i}]", "thread not found", ErrorCode.NOT_FOUND)
        elif found[conversation_id] is None:
            problems.add(
                f"threadIds[{i}]", "this thread has no provider thread id; it cannot be reviewed"
            )
    return [Candidate(c, ReviewReason.MANUAL) for c in dict.fromkeys(ids)]


async def assign_thread_reviews(
    session: AsyncSession,
    viewer: Viewer,
    data: AssignReviewsInput,
    *,
    now: dt.datetime | None = None,
) -> AssignedReviews:
    """Give threads to reviewers (managers for their teams; executives and admins for any):
    the named threads, or those worth reviewing in the range. Assignments already made stay;
    every problem of the input is reported at once."""
    if not viewer.is_person:
        raise PermissionDeniedError("thread reviews are assigned by people")
    viewer.require_role(*ASSIGNERS)
    now = now or utcnow()
    problems = Problems()
    reasons = _check(data, problems)
    days = None
    try:
        days = date_range(data.since, data.until, today=now.date())
    except InvalidInput as error:
        problems.errors.extend(error.errors)
    agent_ids: list[int] | None = None
    team_ids = [t.id for t in await teams_in_scope(session, viewer)]
    if data.team_id is not None:
        team_ids = [data.team_id] if data.team_id in team_ids else []
        if not team_ids:
            problems.add("teamId", "team not found", ErrorCode.NOT_FOUND)
        else:
            agent_ids = [a.id for a in await agents_of_team(session, viewer, data.team_id)]
    named = await _named(session, viewer, data.conversation_ids, problems)
    pools = await _pools(session, viewer.organization_id, team_ids)
    org_wide = await _org_wide(session, viewer.organization_id)
    if data.reviewer_id is not None and data.reviewer_id not in org_wide.union(*pools.values()):
        problems.add("reviewerId", "no eligible reviewer with this id", ErrorCode.NOT_FOUND)
    problems.raise_if_any()
    assert days is not None
    if data.conversation_ids:
        found = named
    else:
        start = dt.datetime.combine(days.since, dt.time(), tzinfo=dt.UTC)
        end = dt.datetime.combine(days.until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        rules = rules_for(await organization_config(session, viewer.organization_id))
        found = await candidates(
            session,
            viewer,
            agent_ids=agent_ids,
            start=start,
            end=end,
            reasons=reasons,
            min_messages=data.min_messages,
            rules=rules,
        )
    threads = await _threads(session, found)
    covered, active = await _history(session, [t.conversation_id for t in threads])
    planned, unassigned = plan_reviews(
        threads,
        pools=pools,
        covered=covered,
        active=active,
        load=await _load(session, viewer.organization_id),
        reviewers_per_thread=data.reviewers_per_thread,
        limit=data.limit,
        reviewer_id=data.reviewer_id,
        org_wide=org_wide,
    )
    rows = [
        {
            "organization_id": viewer.organization_id,
            "agent_id": p.agent_id,
            "conversation_id": p.conversation_id,
            "reviewer_id": p.reviewer_id,
            "assigned_by_id": viewer.user_id,
            "reason": p.reason.value,
            "status": ReviewStatus.ASSIGNED.value,
            "created_at": now,
            "completed_at": None,
        }
        for p in planned
    ]
    written = await insert_rows(
        session,
        ReviewAssignment,
        rows,
        conflict=("conversation_id", "reviewer_id"),
        returning=("id",),
    )
    ids = sorted(int(row[0]) for row in written)
    assignments = (
        list(
            await session.scalars(
                select(ReviewAssignment)
                .where(ReviewAssignment.id.in_(ids))
                .order_by(ReviewAssignment.id)
            )
        )
        if ids
        else []
    )
    return AssignedReviews(assignments, unassigned)
