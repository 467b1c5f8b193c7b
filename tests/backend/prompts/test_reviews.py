"""A rating of a whole thread through the feedback service (submitFeedback with
threadExternalId, from any channel) settles the rater's open review assignment of that thread,
and nobody else's."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.database import utcnow
from backend.errors import InvalidInput
from backend.feedback.service import FeedbackInput
from backend.learning import submit_rating
from backend.reviews.assignment import AssignReviewsInput, assign_thread_reviews
from backend.reviews.models import ReviewAssignment
from backend.unit_of_work import transaction
from tests.backend.prompts.conftest import rows
from tests.backend.reviews.conftest import Reviews


async def _assign(reviews: Reviews, thread_id: int, *reviewers: str) -> None:
    async with transaction(reviews.state.sessions) as session:
        for reviewer in reviewers:
            await assign_thread_reviews(
                session,
                reviews.people["manager_a"],
                AssignReviewsInput(
                    conversation_ids=[thread_id], reviewer_id=reviews.user_id(reviewer)
                ),
            )


async def _rate_thread(
    reviews: Reviews, who: str, thread: str, rating: int, now: dt.datetime | None = None
) -> None:
    await submit_rating(
        reviews.state,
        reviews.people[who],
        FeedbackInput(channel="slack", thread_external_id=thread, rating=rating),
        now=now,
    )


async def _states(reviews: Reviews) -> dict[tuple[int, str], tuple[str, object]]:
    names = {u.id: k for k, u in reviews.world.users.items()}
    return {
        (a.conversation_id, names[a.reviewer_id]): (a.status, a.completed_at)
        for a in await rows(reviews.state, ReviewAssignment)
    }


async def test_the_reviewers_rating_of_the_thread_marks_their_assignment_done(
    reviews: Reviews,
) -> None:
    first, _ = await reviews.thread("t-1", messages=2)
    second, _ = await reviews.thread("t-2")
    await _assign(reviews, first, "manager_a", "exec_n")
    await _assign(reviews, second, "manager_a")

    await _rate_thread(reviews, "rep_a1", "t-1", 4)  # the agent's owner: not a reviewer here
    assert {s for s, _ in (await _states(reviews)).values()} == {"assigned"}

    now = utcnow()
    await _rate_thread(reviews, "manager_a", "t-1", 2, now=now)
    assert await _states(reviews) == {
        (first, "manager_a"): ("done", now),
        (first, "exec_n"): ("assigned", None),  # another reviewer of the same thread
        (second, "manager_a"): ("assigned", None),  # another thread of the same reviewer
    }
    # Rating again changes the rating; the assignment stays done when it was done.
    await _rate_thread(reviews, "manager_a", "t-1", 5, now=now + dt.timedelta(hours=1))
    assert (await _states(reviews))[(first, "manager_a")] == ("done", now)


async def test_a_rejected_rating_leaves_the_assignment_open(reviews: Reviews) -> None:
    thread, _ = await reviews.thread("t-1")
    await _assign(reviews, thread, "manager_a")
    with pytest.raises(InvalidInput):
        await _rate_thread(reviews, "manager_a", "t-1", 9)
    assert await _states(reviews) == {(thread, "manager_a"): ("assigned", None)}


async def test_an_assigned_teammate_may_rate_the_thread_from_any_channel(
    reviews: Reviews,
) -> None:
    """A peer reviewer (rep_a2, whose scope is their own agent) was given rep_a1's thread: their
    rating of it through the feedback service counts as the review and settles the assignment,
    as submitThreadReview would; a thread nobody gave them stays unknown to them."""
    thread, _ = await reviews.thread("t-1")
    await reviews.thread("t-2")
    await _assign(reviews, thread, "rep_a2")
    now = utcnow()
    await _rate_thread(reviews, "rep_a2", "t-1", 3, now=now)
    assert await _states(reviews) == {(thread, "rep_a2"): ("done", now)}
    with pytest.raises(InvalidInput) as raised:
        await _rate_thread(reviews, "rep_a2", "t-2", 3)
    assert [(e.field, e.code) for e in raised.value.errors] == [("threadExternalId", "not_found")]
