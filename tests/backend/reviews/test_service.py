"""Thread reviews: stored as conversation feedback with criteria, closing the reviewer's
assignment; peer reviewers read and review exactly the threads given to them; skipping; the
queue and progress per reviewer, each seen by whom it should be."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.crm.models import Conversation
from backend.errors import DomainError, InvalidInput
from backend.feedback.models import Feedback
from backend.reviews.assignment import AssignReviewsInput, assign_thread_reviews
from backend.reviews.models import ReviewAssignment
from backend.reviews.service import review_progress, review_queue, skip_thread_review
from backend.reviews.threads import DealStatus, thread_facts, thread_reviews
from backend.unit_of_work import transaction


async def _count(reviews, model) -> int:
    async with reviews.state.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _give(reviews, thread_id: int, reviewer: str, who: str = "manager_a") -> None:
    async with transaction(reviews.state.sessions) as session:
        done = await assign_thread_reviews(
            session,
            reviews.people[who],
            AssignReviewsInput(conversation_ids=[thread_id], reviewer_id=reviews.user_id(reviewer)),
        )
    assert len(done.assignments) == 1


async def test_a_review_is_conversation_feedback_with_criteria_and_closes_an_assignment(
    reviews,
) -> None:
    thread, _ = await reviews.thread("t-1", messages=2)
    first = await reviews.review("manager_a", thread, 4, tone=5, next_step=2, comment=" ok ")
    feedback, assignment = first.feedback, first.assignment
    assert first.created is True
    assert (feedback.target_type, feedback.conversation_id, feedback.rating) == (
        "conversation",
        thread,
        4,
    )
    assert feedback.criteria == {"tone": 5, "next_step": 2} and feedback.comment == "ok"
    assert feedback.channel == "dashboard" and feedback.author_id == reviews.user_id("manager_a")
    # Reviewed unasked: the assignment is recorded as manual and done.
    assert (assignment.reason, assignment.status) == ("manual", "done")
    assert assignment.completed_at is not None
    again = await reviews.review("manager_a", thread, 2, accuracy=1, timing=3, channel="api")
    assert again.created is False and again.feedback.id == feedback.id
    assert again.feedback.criteria == {"accuracy": 1, "timing": 3}
    assert again.feedback.channel == "api" and again.assignment.id == assignment.id
    assert await _count(reviews, Feedback) == 1 and await _count(reviews, ReviewAssignment) == 1


async def test_an_assignment_lets_a_teammate_read_and_review_that_thread_only(reviews) -> None:
    thread, _ = await reviews.thread("t-1", deal="d-1")
    other, _ = await reviews.thread("t-2")
    with pytest.raises(InvalidInput) as error:
        await reviews.review("rep_a2", thread, 4)  # rep_a1's agent: not theirs to see
    assert {e.field: e.code for e in error.value.errors} == {"threadId": "not_found"}
    await _give(reviews, thread, "rep_a2")
    async with reviews.state.sessions() as session:
        seen = await thread_facts(session, reviews.people["rep_a2"], [thread, other])
        assert set(seen) == {thread}
        assert seen[thread].agent.id == reviews.world.agents["rep_a1"].id
        assert (seen[thread].message_count, seen[thread].deal_status) == (1, DealStatus.OPEN)
        assert await thread_facts(session, reviews.people["rep_b1"], [thread]) == {}
    await reviews.review("manager_a", thread, 5)
    mine = await reviews.review("rep_a2", thread, 3, tone=2)
    assert mine.assignment.status == "done" and mine.assignment.reason == "manual"
    assert mine.feedback.agent_id == reviews.world.agents["rep_a1"].id
    with pytest.raises(InvalidInput):
        await reviews.review("rep_a2", other, 4)  # still not theirs
    async with reviews.state.sessions() as session:
        # The reviewer sees their own review only (reviews stay independent); the manager and
        # the agent's owner see both.
        for who, expected in (
            ("rep_a2", [3]),
            ("manager_a", [5, 3]),
            ("rep_a1", [5, 3]),
            ("rep_b1", []),
        ):
            found = await thread_reviews(session, reviews.people[who], [thread])
            assert [f.rating for f in found[thread]] == expected, who


async def test_rejected_reviews_name_every_field_and_change_nothing(reviews) -> None:
    thread, _ = await reviews.thread("t-1")
    with pytest.raises(InvalidInput) as error:
        await reviews.review(
            "manager_a", thread, None, tone=0, next_step=9, channel="slack", comment="x" * 2001
        )
    assert {e.field: e.code for e in error.value.errors} == {
        "rating": "required",
        "tone": "invalid",
        "nextStep": "invalid",
        "channel": "invalid",
        "comment": "invalid",
    }
    with pytest.raises(InvalidInput) as error:
        await reviews.review("manager_a", thread, 6)
    assert [e.field for e in error.value.errors] == ["rating"]
    with pytest.raises(InvalidInput) as error:
        await reviews.review("exec_s", thread, 4)  # another organisation: unknown
    assert {e.field: e.code for e in error.value.errors} == {"threadId": "not_found"}
    async with transaction(reviews.state.sessions) as session:
        bare = Conversation(
            organization_id=reviews.world.orgs["north"].id,
            agent_id=reviews.world.agents["rep_a1"].id,
        )
        session.add(bare)
    with pytest.raises(InvalidInput) as error:
        await reviews.review("manager_a", bare.id, 4)
    assert "no provider thread id" in error.value.errors[0].message
    from backend.learning import submit_thread_review
    from backend.reviews.service import ThreadReviewInput

    with pytest.raises(DomainError) as denied:
        await submit_thread_review(
            reviews.state, reviews.keys["rep_a1"], ThreadReviewInput(thread, 4)
        )
    assert denied.value.code == "forbidden"
    assert await _count(reviews, Feedback) == 0 and await _count(reviews, ReviewAssignment) == 0


async def test_skipping_sets_a_thread_aside_for_good(reviews) -> None:
    thread, _ = await reviews.thread("t-1", deal="d-1")
    await reviews.deal_closed("d-1", "deal.won")
    await _give(reviews, thread, "rep_a2")
    async with transaction(reviews.state.sessions) as session:
        skipped = await skip_thread_review(session, reviews.people["rep_a2"], thread)
    assert skipped.status == "skipped" and skipped.completed_at is not None
    async with transaction(reviews.state.sessions) as session:
        with pytest.raises(DomainError) as error:
            await skip_thread_review(session, reviews.people["rep_a2"], thread)
        assert (error.value.code, error.value.field) == ("not_found", "threadId")
        # The next run gives the thread to someone else, never back to rep_a2.
        run = await assign_thread_reviews(
            session, reviews.people["manager_a"], AssignReviewsInput(reasons=["won"])
        )
    assert [a.reviewer_id for a in run.assignments] == [reviews.user_id("manager_a")]


async def _queue(reviews, who: str, **options) -> list[tuple[int, str]]:
    async with reviews.state.sessions() as session:
        page = await review_queue(session, reviews.people[who], **options)
    users = {u.id: k for k, u in reviews.world.users.items()}
    return [(a.conversation_id, users[a.reviewer_id]) for a in page.items]


async def test_queue_and_progress_per_reviewer(reviews) -> None:
    threads = [(await reviews.thread(f"t-{i}", messages=9))[0] for i in range(4)]
    async with transaction(reviews.state.sessions) as session:
        run = await assign_thread_reviews(
            session,
            reviews.people["manager_a"],
            AssignReviewsInput(reasons=["long_thread"], reviewers_per_thread=2),
        )
    assert len(run.assignments) == 8
    await reviews.review("rep_a2", threads[0], 4)
    async with transaction(reviews.state.sessions) as session:
        await skip_thread_review(session, reviews.people["rep_a2"], threads[1])
    # Open work, oldest first; a rep sees their own only.
    assert await _queue(reviews, "rep_a2") == [(threads[3], "rep_a2"), (threads[2], "rep_a2")]
    assert await _queue(reviews, "rep_a2", status="done") == [(threads[0], "rep_a2")]
    assert await _queue(reviews, "rep_a2", reviewer_id=reviews.user_id("manager_a")) == []
    assert await _queue(reviews, "rep_b1") == []
    everyone = await _queue(reviews, "manager_a")
    assert len(everyone) == 6 and len(set(everyone)) == 6
    assert await _queue(reviews, "exec_n") == everyone
    assert await _queue(reviews, "exec_s") == []
    paged = await _queue(reviews, "manager_a", first=4)
    assert paged == everyone[:4]
    async with reviews.state.sessions() as session:
        progress = await review_progress(session, reviews.people["manager_a"])
        by_team = await review_progress(
            session, reviews.people["manager_a"], team_id=reviews.world.teams["alpha"].id
        )
        mine = await review_progress(session, reviews.people["rep_a2"])
        with pytest.raises(DomainError) as error:
            await review_progress(
                session, reviews.people["manager_a"], team_id=reviews.world.teams["beta"].id
            )
        with pytest.raises(DomainError) as denied:
            await review_queue(session, reviews.keys["rep_a1"])
    assert (error.value.code, error.value.field) == ("not_found", "teamId")
    assert denied.value.code == "forbidden"
    counts = {p.reviewer_id: (p.assigned, p.done, p.skipped, p.total) for p in progress}
    assert counts == {
        reviews.user_id("manager_a"): (4, 0, 0, 4),
        reviews.user_id("rep_a2"): (2, 1, 1, 4),
    }
    assert by_team == progress
    assert [(p.reviewer_id, p.total) for p in mine] == [(reviews.user_id("rep_a2"), 4)]
