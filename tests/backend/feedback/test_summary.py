"""Quality metrics from feedback: mean rating and share positive per agent, target and action
type with intervals; escalation appropriateness; the three-way view of rating, outcome and
confidence. Figures worked by hand; intervals against statsmodels."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from scipy.stats import pearsonr
from statsmodels.stats.proportion import proportion_confint

from backend.database import utcnow
from backend.errors import DomainError
from backend.feedback.summary import feedback_summary
from backend.learning import submit_signals
from backend.signals.service import SignalInput
from backend.viewer import Viewer, ViewerRole


async def _replied(reviews, message: str) -> None:
    result = await submit_signals(
        reviews.state,
        reviews.keys["rep_a1"],
        [
            SignalInput(
                kind="email.replied",
                source="esp",
                external_id=f"reply-{message}",
                occurred_at=utcnow() - dt.timedelta(minutes=30),
                message_external_id=message,
                payload={"sentiment": "positive"},
            )
        ],
    )
    assert result.resolved >= 1


async def _rated(reviews) -> None:
    """rep_a1's agent: three e-mails, three escalations, a thread review; one e-mail of
    rep_a2's agent."""
    thread, (e1,) = await reviews.thread("e1", confidence=0.8)
    await reviews.thumb("rep_a1", "<e1-0@mail>", up=False)
    await reviews.rate_action("manager_a", e1, 2)
    await _replied(reviews, "<e1-0@mail>")  # rating 0.125 says no; outcome and confidence yes
    await reviews.thread("e2", confidence=0.3)
    await reviews.thumb("rep_a1", "<e2-0@mail>", up=True)  # rating yes, confidence no
    _, (e3,) = await reviews.thread("e3", confidence=0.9)
    await reviews.rate_action("manager_a", e3, 5)
    await _replied(reviews, "<e3-0@mail>")  # all three say yes
    escalations = [
        (await reviews.thread(f"x{i}", action_type="escalation", confidence=0.6))[1][0]
        for i in range(3)
    ]
    await reviews.rate_action("manager_a", escalations[0], 5)
    await reviews.rate_action("rep_a1", escalations[0], 4)  # mean 4.5: appropriate
    await reviews.rate_action("manager_a", escalations[1], 3)  # 3: not; rating neutral
    await reviews.rate_action("rep_a1", escalations[2], 4)  # appropriate
    await reviews.review("manager_a", thread, 4)
    _, (other,) = await reviews.thread("o1", agent="rep_a2")
    await reviews.rate_action("manager_a", other, 1)


def _interval(successes: float, count: int, low: float = 0, high: float = 1) -> tuple:
    lower, upper = proportion_confint(successes, count, alpha=0.05, method="wilson")
    return (
        pytest.approx(low + (high - low) * lower, abs=1e-9),
        pytest.approx(low + (high - low) * upper, abs=1e-9),
    )


async def _summary(reviews, viewer, **options):
    async with reviews.state.sessions() as session:
        return await feedback_summary(session, viewer, **options)


async def test_ratings_per_agent_target_and_action_type(reviews) -> None:
    await _rated(reviews)
    summary = await _summary(reviews, reviews.people["manager_a"])
    agents = {reviews.world.agents[k].id: k for k in ("rep_a1", "rep_a2")}
    groups = {(agents[g.agent_id], g.target_type, g.action_type): g for g in summary.groups}
    by_hand = {  # (count, mean on the target's scale, positives)
        ("rep_a1", "message", "email"): (2, 0.5, 1),  # thumbs: down, up
        ("rep_a1", "action", "email"): (2, 3.5, 1),  # 2, 5
        ("rep_a1", "action", "escalation"): (4, 4.0, 3),  # 5, 4, 3, 4
        ("rep_a1", "conversation", None): (1, 4.0, 1),  # the thread review
        ("rep_a2", "action", "email"): (1, 1.0, 0),
    }
    assert set(groups) == set(by_hand)
    for key, (count, mean, positives) in by_hand.items():
        group = groups[key]
        assert (group.mean.count, group.mean.mean) == (count, pytest.approx(mean)), key
        assert (group.positive.successes, group.positive.count) == (positives, count), key
        assert (group.positive.lower, group.positive.upper) == _interval(positives, count), key
    # The mean's interval: Wilson on the rating rescaled to [0, 1] ((7 - 2) / 4 = 1.25 of 2),
    # mapped back to 1..5.
    email = groups[("rep_a1", "action", "email")].mean
    assert (email.lower, email.upper) == _interval(1.25, 2, 1, 5)
    thumbs = groups[("rep_a1", "message", "email")].mean
    assert (thumbs.lower, thumbs.upper) == _interval(1, 2)
    # Escalations rated 1..5: x1 (mean 4.5) and x3 (4) appropriate, x2 (3) not.
    assert (summary.escalations.successes, summary.escalations.count) == (2, 3)
    assert (summary.escalations.lower, summary.escalations.upper) == _interval(2, 3)


async def test_three_way_view_of_rating_outcome_and_confidence(reviews) -> None:
    await _rated(reviews)
    summary = await _summary(
        reviews, reviews.people["manager_a"], agent_id=reviews.world.agents["rep_a1"].id
    )
    view = summary.agreement
    # Ratings (normalised): e1 (0 + 0.25)/2 = 0.125, e2 1, e3 1, x1 (1 + 0.75)/2 = 0.875,
    # x2 0.5 (takes no side), x3 0.75. Outcomes: e1 1, e3 1 (replies), the rest open.
    # Confidences: 0.8, 0.3, 0.9, 0.6, 0.6, 0.6.
    assert (view.actions, view.complete, view.disagreements) == (6, 2, 2)  # e1, e2 disagree
    ro = view.rating_outcome
    assert ro.paired == 2 and (ro.same_side.successes, ro.same_side.count) == (1, 2)
    assert math.isnan(ro.correlation)  # both outcomes are 1: no variation
    rc = view.rating_confidence
    # Sided pairs: e1 no, e2 no, e3 yes, x1 yes, x3 yes (x2's rating takes no side).
    assert rc.paired == 6 and (rc.same_side.successes, rc.same_side.count) == (3, 5)
    ratings = [0.125, 1.0, 1.0, 0.875, 0.5, 0.75]
    confidences = [0.8, 0.3, 0.9, 0.6, 0.6, 0.6]
    assert rc.correlation == pytest.approx(pearsonr(ratings, confidences).statistic, abs=1e-9)
    oc = view.outcome_confidence
    assert oc.paired == 2 and (oc.same_side.successes, oc.same_side.count) == (2, 2)


async def test_who_reads_the_summary(reviews) -> None:
    await _rated(reviews)
    world = reviews.world
    mine = await _summary(reviews, reviews.people["rep_a2"])
    assert {g.agent_id for g in mine.groups} == {world.agents["rep_a2"].id}
    assert (await _summary(reviews, reviews.people["exec_s"])).groups == ()
    partner = Viewer(
        world.orgs["north"].id,
        ViewerRole.PARTNER,
        api_client_id=1,
        team_ids=None,
        agent_ids=None,
        scopes=frozenset({"read:feedback"}),
    )
    assert len((await _summary(reviews, partner)).groups) == 5
    team = await _summary(reviews, reviews.people["manager_a"], team_id=world.teams["alpha"].id)
    assert len(team.groups) == 5
    before = utcnow().date() - dt.timedelta(days=60)  # a month well before the ratings
    old = await _summary(
        reviews, reviews.people["manager_a"], since=before - dt.timedelta(days=30), until=before
    )
    assert old.groups == () and old.agreement.actions == 0 and math.isnan(old.escalations.rate)
    for viewer, options, expected in (
        (reviews.keys["rep_a1"], {}, ("forbidden", None)),
        (
            reviews.people["rep_a2"],
            {"agent_id": world.agents["rep_a1"].id},
            ("not_found", "agentId"),
        ),
        (
            reviews.people["manager_a"],
            {"since": dt.date(2026, 2, 1), "until": dt.date(2026, 1, 1)},
            ("invalid", "from"),
        ),
    ):
        with pytest.raises(DomainError) as error:
            await _summary(reviews, viewer, **options)
        assert (error.value.code, error.value.field) == expected
