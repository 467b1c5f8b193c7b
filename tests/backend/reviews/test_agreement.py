"""Agreement between reviewers, end to end, against figures worked by hand."""

from __future__ import annotations

import math

import pytest

from backend.errors import DomainError
from backend.reviews.agreement import review_agreement, thread_agreement
from backend.reviews.assignment import AssignReviewsInput, assign_thread_reviews
from backend.unit_of_work import transaction
from backend.viewer import Viewer, ViewerRole

# Four threads of rep_a1's agent. manager_a and rep_a2 (a peer, by assignment) review all four,
# the executive the first one only; in this order, so each thread's first two reviews are
# manager_a's (rater A) and rep_a2's (rater B).
MANAGER = [5, 4, 2, 3]
PEER = [4, 4, 1, 3]
EXECUTIVE_ON_FIRST = 3

# Worked by hand:
# Pairs of reviews of the same thread: T1 (5,4) (5,3) (4,3) -> differences 1, 2, 1;
# T2 (4,4) -> 0; T3 (2,1) -> 1; T4 (3,3) -> 0. Six pairs, differences summing to 5, two equal:
# mean absolute difference 5/6, exact agreement 2/6.
# Quadratic kappa of manager_a (A) vs rep_a2 (B) on 1..5, weights w = (i - j)^2 / 16:
# observed: (5,4) -> 1/16, (4,4) -> 0, (2,1) -> 1/16, (3,3) -> 0; mean 2/16 / 4 = 1/32.
# chance: A's marginal 1/4 each on 2, 3, 4, 5; B's 1/4 on 1, 1/4 on 3, 1/2 on 4:
#   A=2: (1/16)(1/4) + (1/16)(1/4) + (4/16)(1/2) = 10/64
#   A=3: (4/16)(1/4) + 0 + (1/16)(1/2) = 6/64
#   A=4: (9/16)(1/4) + (1/16)(1/4) + 0 = 10/64
#   A=5: (16/16)(1/4) + (4/16)(1/4) + (1/16)(1/2) = 22/64
#   each times A's 1/4: (10 + 6 + 10 + 22) / 256 = 3/16.
# kappa = 1 - (1/32) / (3/16) = 5/6.


async def _reviewed(reviews) -> list[int]:
    threads = [(await reviews.thread(f"t-{i}"))[0] for i in range(4)]
    async with transaction(reviews.state.sessions) as session:
        await assign_thread_reviews(
            session,
            reviews.people["manager_a"],
            AssignReviewsInput(conversation_ids=threads, reviewer_id=reviews.user_id("rep_a2")),
        )
    for thread, rating in zip(threads, MANAGER, strict=True):
        await reviews.review("manager_a", thread, rating)
    for thread, rating in zip(threads, PEER, strict=True):
        await reviews.review("rep_a2", thread, rating)
    await reviews.review("exec_n", threads[0], EXECUTIVE_ON_FIRST)
    return threads


async def _agreement(reviews, viewer, **options):
    async with reviews.state.sessions() as session:
        return await review_agreement(session, viewer, **options)


async def test_agreement_figures_equal_the_hand_worked_example(reviews) -> None:
    await _reviewed(reviews)
    for who in ("manager_a", "exec_n", "rep_a1"):  # rep_a1 owns the agent: sees every review
        result = await _agreement(reviews, reviews.people[who])
        assert (result.reviews, result.threads) == (9, 4), who
        assert (result.pooled.items, result.pooled.pairs) == (4, 6)
        assert result.pooled.mean_absolute_difference == pytest.approx(5 / 6, abs=1e-12)
        assert result.pooled.exact_agreement == pytest.approx(1 / 3, abs=1e-12)
        assert result.first_two.count == 4
        assert result.first_two.observed == pytest.approx(1 / 32, abs=1e-12)
        assert result.first_two.expected == pytest.approx(3 / 16, abs=1e-12)
        assert result.first_two.kappa == pytest.approx(5 / 6, abs=1e-12)
    ids = {k: reviews.user_id(k) for k in ("exec_n", "manager_a", "rep_a2")}
    pairs = {(p.reviewer_a, p.reviewer_b): p for p in result.pairs}
    assert list(pairs) == [
        (ids["manager_a"], ids["rep_a2"]),
        (ids["exec_n"], ids["manager_a"]),
        (ids["exec_n"], ids["rep_a2"]),
    ]
    both = pairs[(ids["manager_a"], ids["rep_a2"])]
    assert (both.threads, both.mean_absolute_difference, both.exact_agreement) == (4, 0.5, 0.5)
    assert both.kappa == pytest.approx(5 / 6, abs=1e-12)
    one = pairs[(ids["exec_n"], ids["manager_a"])]
    assert (one.threads, one.mean_absolute_difference, one.exact_agreement) == (1, 2.0, 0.0)
    assert math.isnan(one.kappa)  # one shared thread says nothing about chance agreement
    first = thread_agreement([5, 4, 3])  # T1 alone: differences 1, 2, 1
    assert (first.pairs, first.mean_absolute_difference, first.exact_agreement) == (3, 4 / 3, 0)


async def test_agreement_is_scoped_and_filtered(reviews) -> None:
    await _reviewed(reviews)
    # rep_a2 reviewed a teammate's threads: the team's agreement is not theirs to read.
    assert (await _agreement(reviews, reviews.people["rep_a2"])).reviews == 0
    assert (await _agreement(reviews, reviews.people["exec_s"])).reviews == 0
    world = reviews.world
    other = await _agreement(
        reviews, reviews.people["manager_a"], agent_id=world.agents["rep_a2"].id
    )
    assert other.reviews == 0 and math.isnan(other.first_two.kappa)
    team = await _agreement(reviews, reviews.people["manager_a"], team_id=world.teams["alpha"].id)
    assert team.reviews == 9
    partner = Viewer(
        world.orgs["north"].id,
        ViewerRole.PARTNER,
        api_client_id=1,
        team_ids=None,
        agent_ids=None,
        scopes=frozenset({"read:feedback"}),
    )
    assert (await _agreement(reviews, partner)).reviews == 9
    for viewer, options, expected in (
        (reviews.people["manager_a"], {"team_id": world.teams["beta"].id}, ("not_found", "teamId")),
        (
            reviews.people["manager_a"],
            {"agent_id": world.agents["rep_s1"].id},
            ("not_found", "agentId"),
        ),
        (reviews.people["manager_a"], {"agent_id": 1, "team_id": 1}, ("invalid", "teamId")),
        (reviews.keys["rep_a1"], {}, ("forbidden", None)),
        (
            Viewer(
                world.orgs["north"].id,
                ViewerRole.PARTNER,
                api_client_id=1,
                team_ids=None,
                agent_ids=None,
                scopes=frozenset({"read:actions"}),
            ),
            {},
            ("forbidden", None),
        ),
    ):
        with pytest.raises(DomainError) as error:
            await _agreement(reviews, viewer, **options)
        assert (error.value.code, error.value.field) == expected
