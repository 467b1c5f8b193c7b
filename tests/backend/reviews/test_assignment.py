"""Assigning threads to reviewers: which threads are picked and why, round-robin over the team,
never the same thread twice for one reviewer (also under concurrent runs), several reviewers
per thread, and every rejected input changes nothing."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import func, select

from backend.errors import DomainError, InvalidInput
from backend.reviews.assignment import (
    AssignedReviews,
    AssignReviewsInput,
    ThreadToAssign,
    assign_thread_reviews,
    plan_reviews,
)
from backend.reviews.models import ReviewAssignment, ReviewReason
from backend.unit_of_work import transaction

# --- the plan (pure) --------------------------------------------------------------------------


def _threads(n: int, *, team: int = 1, owner: int = 99) -> list[ThreadToAssign]:
    return [ThreadToAssign(100 + i, 7, team, owner, ReviewReason.WON) for i in range(n)]


def test_plan_takes_turns_and_skips_the_agents_owner() -> None:
    planned, unassigned = plan_reviews(
        _threads(6, owner=3),
        pools={1: [1, 2, 3]},
        covered={},
        active={},
        load={},
        reviewers_per_thread=1,
        limit=10,
    )
    assert [p.reviewer_id for p in planned] == [1, 2, 1, 2, 1, 2]
    assert unassigned == []


def test_plan_balances_existing_load_and_fills_each_thread_up_to_its_target() -> None:
    planned, _ = plan_reviews(
        _threads(2),
        pools={1: [1, 2, 3]},
        covered={100: {2}},
        active={100: 1},
        load={1: 5, 2: 0, 3: 1},
        reviewers_per_thread=2,
        limit=10,
    )
    # Thread 100 has reviewer 2 already: one more, the least loaded other (3). Thread 101: two,
    # 2 (load 1 now) and 3 (load 2) before 1 (load 5).
    assert [(p.conversation_id, p.reviewer_id) for p in planned] == [(100, 3), (101, 2), (101, 3)]


def test_plan_never_repeats_a_reviewer_and_reports_threads_nobody_is_left_for() -> None:
    planned, unassigned = plan_reviews(
        _threads(2),
        pools={1: [1, 2]},
        covered={100: {1, 2}},
        active={100: 1},
        load={},
        reviewers_per_thread=2,
        limit=10,
    )
    assert [(p.conversation_id, p.reviewer_id) for p in planned] == [(101, 1), (101, 2)]
    assert unassigned == [100]


def test_plan_with_one_reviewer_and_a_limit() -> None:
    threads = [*_threads(3), ThreadToAssign(200, 8, 2, 99, ReviewReason.LOST)]
    planned, unassigned = plan_reviews(
        threads,
        pools={1: [1, 2], 2: [5]},
        covered={101: {2}},
        active={},
        load={},
        reviewers_per_thread=1,
        limit=10,
        reviewer_id=2,
    )
    # 101 was theirs already; team 2 is not theirs.
    assert [p.conversation_id for p in planned] == [100, 102] and unassigned == [200]
    planned, _ = plan_reviews(
        _threads(5), pools={1: [1]}, covered={}, active={}, load={}, reviewers_per_thread=1, limit=2
    )
    assert len(planned) == 2


# --- the service ------------------------------------------------------------------------------


async def _assign(reviews, who: str = "manager_a", **options) -> AssignedReviews:
    async with transaction(reviews.state.sessions) as session:
        return await assign_thread_reviews(
            session, reviews.people[who], AssignReviewsInput(**options)
        )


async def _rows(reviews) -> list[ReviewAssignment]:
    async with reviews.state.sessions() as session:
        return list(await session.scalars(select(ReviewAssignment).order_by(ReviewAssignment.id)))


async def _world(reviews) -> dict[str, int]:
    """Threads of team alpha worth reviewing, one of team beta, one not worth it."""
    t = {}
    t["won"], _ = await reviews.thread("t-won", deal="d-won")
    await reviews.deal_closed("d-won", "deal.won", hours_ago=2)
    t["lost"], _ = await reviews.thread("t-lost", deal="d-lost")
    await reviews.deal_closed("d-lost", "deal.lost")
    t["long"], _ = await reviews.thread("t-long", messages=9)
    t["disagree"], (action,) = await reviews.thread("t-dis", confidence=0.8)
    await reviews.rate_action("rep_a1", action, 1)  # the rep says bad; the agent was confident
    t["both"], (action,) = await reviews.thread("t-both", deal="d-both", confidence=0.8)
    await reviews.deal_closed("d-both", "deal.lost", hours_ago=3)
    await reviews.rate_action("manager_a", action, 2)
    t["plain"], _ = await reviews.thread("t-plain", messages=3)
    t["a2_won"], _ = await reviews.thread("u-won", agent="rep_a2", deal="d-u")
    await reviews.deal_closed("d-u", "deal.won", agent="rep_a2", hours_ago=1)
    t["beta"], _ = await reviews.thread("b-won", agent="rep_b1", deal="d-b")
    await reviews.deal_closed("d-b", "deal.won", agent="rep_b1")
    return t


async def test_threads_worth_reviewing_are_picked_in_order_and_shared_round_robin(
    reviews,
) -> None:
    t = await _world(reviews)
    done = await _assign(reviews)
    picked = [(a.conversation_id, a.reason) for a in done.assignments]
    # Disagreements (newest thread first on ties), lost, won (latest first), long threads; a
    # thread matching two reasons (lost and disagreement) is listed once, under the first.
    assert picked == [
        (t["both"], "disagreement"),
        (t["disagree"], "disagreement"),
        (t["lost"], "lost"),
        (t["a2_won"], "won"),
        (t["won"], "won"),
        (t["long"], "long_thread"),
    ]
    users = {reviews.user_id(k): k for k in ("manager_a", "rep_a1", "rep_a2")}
    given = [users[a.reviewer_id] for a in done.assignments]
    # Nobody reviews their own agent: rep_a1's threads go to manager_a or rep_a2 in turn,
    # rep_a2's (a2_won) to the least loaded of manager_a and rep_a1.
    assert given == ["manager_a", "rep_a2", "manager_a", "rep_a1", "rep_a2", "manager_a"]
    assert all(a.status == "assigned" and a.completed_at is None for a in done.assignments)
    assert {a.assigned_by_id for a in done.assignments} == {reviews.user_id("manager_a")}
    assert done.unassigned == []
    # Run again: every thread has its reviewer, nothing is given twice.
    assert (await _assign(reviews)).assignments == []
    assert len(await _rows(reviews)) == 6


async def test_several_reviewers_per_thread_and_never_one_twice(reviews) -> None:
    t = await _world(reviews)
    await _assign(reviews)
    second = await _assign(reviews, reviewers_per_thread=2)
    assert len(second.assignments) == 6
    rows = await _rows(reviews)
    pairs = Counter((r.conversation_id, r.reviewer_id) for r in rows)
    assert max(pairs.values()) == 1
    assert Counter(r.conversation_id for r in rows) == {
        t[k]: 2 for k in ("both", "disagree", "lost", "a2_won", "won", "long")
    }
    # Three reviewers each: only two people may review each thread (its owner may not).
    third = await _assign(reviews, reviewers_per_thread=3)
    assert third.assignments == [] and len(third.unassigned) == 6
    assert len(await _rows(reviews)) == 12


async def test_one_reason_a_team_a_limit_and_an_explicit_reviewer(reviews) -> None:
    t = await _world(reviews)
    alpha = reviews.world.teams["alpha"].id
    won = await _assign(reviews, reasons=["won"], team_id=alpha, limit=1)
    assert [(a.conversation_id, a.reason) for a in won.assignments] == [(t["a2_won"], "won")]
    executive = reviews.user_id("exec_n")
    mine = await _assign(reviews, reasons=["long_thread", "lost"], reviewer_id=executive)
    assert [(a.conversation_id, a.reviewer_id) for a in mine.assignments] == [
        (t["lost"], executive),
        (t["both"], executive),
        (t["long"], executive),
    ]
    again = await _assign(reviews, reviewer_id=executive, reasons=["long_thread", "lost"])
    assert again.assignments == []


async def test_named_threads_and_a_team_with_nobody_else_to_review(reviews) -> None:
    t = await _world(reviews)
    # The executive sees team beta's thread too. Team beta has no manager and its only rep
    # owns the agent: nobody may review it, which is reported; t-plain goes round-robin.
    named = await _assign(reviews, "exec_n", conversation_ids=[t["beta"], t["plain"]])
    assert [(a.conversation_id, a.reason, a.reviewer_id) for a in named.assignments] == [
        (t["plain"], "manual", reviews.user_id("manager_a"))
    ]
    assert named.unassigned == [t["beta"]]


async def test_concurrent_runs_never_give_a_thread_twice_to_one_reviewer(reviews) -> None:
    t = await _world(reviews)
    executive = reviews.user_id("exec_n")
    runs = await asyncio.gather(
        *(
            _assign(
                reviews, conversation_ids=[t["won"], t["lost"], t["long"]], reviewer_id=executive
            )
            for _ in range(4)
        )
    )
    assert sum(len(r.assignments) for r in runs) == 3
    assert len(await _rows(reviews)) == 3


async def test_who_may_assign_and_what_they_may_name(reviews) -> None:
    t = await _world(reviews)
    for who in ("rep_a1", "rep_b1"):
        with pytest.raises(DomainError) as error:
            await _assign(reviews, who)
        assert error.value.code == "forbidden"
    async with transaction(reviews.state.sessions) as session:
        with pytest.raises(DomainError) as error:
            await assign_thread_reviews(session, reviews.keys["rep_a1"], AssignReviewsInput())
    assert error.value.code == "forbidden"
    with pytest.raises(InvalidInput) as error:
        await _assign(
            reviews,
            reasons=["manual"],
            limit=0,
            reviewers_per_thread=6,
            min_messages=1,
            team_id=reviews.world.teams["beta"].id,
            reviewer_id=reviews.user_id("rep_b1"),
        )
    assert {e.field: e.code for e in error.value.errors} == {
        "reasons": "invalid",
        "limit": "invalid",
        "reviewersPerThread": "invalid",
        "minMessages": "invalid",
        "teamId": "not_found",
        "reviewerId": "not_found",
    }
    # A thread of another team is unknown to manager_a, like one of another organisation.
    with pytest.raises(InvalidInput) as error:
        await _assign(reviews, conversation_ids=[t["won"], t["beta"], 10**9])
    assert {e.field: e.code for e in error.value.errors} == {
        "threadIds[1]": "not_found",
        "threadIds[2]": "not_found",
    }
    async with reviews.state.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ReviewAssignment)) == 0
