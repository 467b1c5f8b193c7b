"""Suggestions: which routine actions a person's judgment is worth most on (`worth`, `rank`,
worked by hand), and the worker's suggestion run: the most uncertain or most disagreeing
routine actions of the rep's agents in the last 7 days, never one they rated or were asked
about, within the day's suggestion allowance and what is left of the budget."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.feedback.service import FeedbackInput
from backend.learning import submit_outcome, submit_rating, suggest_reviews
from backend.prompts.models import PromptReason
from backend.prompts.service import Candidate, rank, worth
from tests.backend.prompts.conftest import HOUR, T0, Prompts

UNCERTAIN, DISAGREES = PromptReason.UNCERTAIN_CONFIDENCE, PromptReason.OUTCOME_DISAGREEMENT
DAY = dt.timedelta(days=1)


# -- worth and rank, by hand ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("confidence", "outcome", "expected"),
    [
        # uncertainty 1 − |2c − 1|: 1 at a coin flip, the bar 0.8 at c = 0.4 and c = 0.6
        (0.5, None, (1.0, UNCERTAIN)),
        (0.45, None, (0.9, UNCERTAIN)),
        (0.4, None, (0.8, UNCERTAIN)),
        (0.6, None, (0.8, UNCERTAIN)),
        (0.39, None, None),
        (0.61, None, None),
        (0.0, None, None),
        (1.0, None, None),
        # disagreement |c − y|: the bar 0.5
        (0.9, 0.0, (0.9, DISAGREES)),
        (0.0, 1.0, (1.0, DISAGREES)),
        (0.75, 0.25, (0.5, DISAGREES)),
        (0.8, 0.3, (0.5, DISAGREES)),
        (0.7, 0.2, (0.5, DISAGREES)),  # 0.7 − 0.2 is 0.49999999999999994 in binary floats
        (1.0, 0.5, (0.5, DISAGREES)),
        (0.7, 0.25, None),  # 0.45
        (0.9, 1.0, None),  # confident and right
        (0.3, 0.0, None),
        # both bars met: c lies in 0.4..0.6, so the disagreement is at most 0.6 and the
        # uncertainty (at least 0.8) is the larger, the reason
        (0.4, 1.0, (0.8, UNCERTAIN)),
        (0.6, 0.0, (0.8, UNCERTAIN)),
        (0.5, 0.0, (1.0, UNCERTAIN)),
    ],
)
def test_worth_by_hand(
    confidence: float, outcome: float | None, expected: tuple[float, PromptReason] | None
) -> None:
    assert worth(Candidate(1, confidence, outcome, T0)) == expected


def test_rank_by_hand() -> None:
    c = [
        Candidate(1, 0.9, None, T0),  # worth nothing
        Candidate(2, 0.45, None, T0 - HOUR),  # 0.9, older
        Candidate(3, 0.55, None, T0),  # 0.9, newer: first of the two
        Candidate(4, 0.95, 0.0, T0 - DAY),  # 0.95, disagreement
        Candidate(5, 0.5, 1.0, T0 - DAY),  # 1.0
        Candidate(6, 0.55, None, T0),  # 0.9, as new as 3: the higher id first
    ]
    assert [(x.action_id, reason) for x, reason in rank(c)] == [
        (5, UNCERTAIN),
        (4, DISAGREES),
        (6, UNCERTAIN),
        (3, UNCERTAIN),
        (2, UNCERTAIN),
    ]
    assert rank([]) == [] and rank(c[:1]) == []


unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
candidates = st.lists(
    st.builds(
        Candidate,
        action_id=st.integers(1, 10**6),
        confidence=unit,
        outcome=st.none() | unit,
        occurred_at=st.datetimes(
            min_value=dt.datetime(2026, 1, 1),
            max_value=dt.datetime(2026, 12, 31),
            timezones=st.just(dt.UTC),
        ),
    ),
    max_size=30,
)


@given(candidates)
def test_rank_is_sorted_by_worth_and_keeps_exactly_the_worthy(found: list[Candidate]) -> None:
    ranked = rank(found)
    worths = [worth(c) for c, _ in ranked]
    assert None not in worths
    assert [w[1] for w in worths] == [reason for _, reason in ranked]  # type: ignore[index]
    values = [w[0] for w in worths]  # type: ignore[index]
    assert values == sorted(values, reverse=True)
    assert sorted(id(c) for c, _ in ranked) == sorted(id(c) for c in found if worth(c) is not None)


@given(unit, st.none() | unit)
def test_worth_is_in_range_and_names_the_larger_reason(c: float, y: float | None) -> None:
    found = worth(Candidate(1, c, y, T0))
    if found is None:
        return
    value, reason = found
    assert 0.5 <= value <= 1.0
    options = {UNCERTAIN: 1.0 - abs(2.0 * c - 1.0)}
    if y is not None:
        options[DISAGREES] = abs(c - y)
    met = {r: v for r, v in options.items() if v >= (0.8 if r is UNCERTAIN else 0.5) - 1e-9}
    assert met, "worth() found what no bar admits"
    assert value == pytest.approx(max(met.values()), abs=1e-9)
    assert value == pytest.approx(met[reason], abs=1e-9)


# -- the suggestion run ---------------------------------------------------------------------


async def _routine(
    prompts: Prompts, key: str, confidence: float, *, ago: dt.timedelta = HOUR
) -> int:
    """A sent e-mail of rep_a1's agent, recorded at T0."""
    recorded = await prompts.record(
        key, "email", confidence=confidence, ago=ago, message_external_id=f"<{key}@mail>"
    )
    return recorded.action.id


async def _suggested(prompts: Prompts, now: dt.datetime) -> list[tuple[int, str]]:
    """Run the suggestions at ``now``; the (action, reason) of the prompts it created."""
    before = {p.id for p in await prompts.prompts()}
    count = await suggest_reviews(prompts.state, now=now)
    created = [p for p in await prompts.prompts() if p.id not in before]
    assert count == len(created)
    assert all(p.user_id == prompts.user_id("rep_a1") and p.created_at == now for p in created)
    return [(p.action_id, p.reason) for p in created]


async def test_suggestions_pick_the_most_valuable_unrated_unasked_routine_actions(
    prompts: Prompts,
) -> None:
    coin_flip = await _routine(prompts, "coin-flip", 0.5)  # worth 1.0
    wrong = await _routine(prompts, "wrong", 0.95)  # its reply failed: disagreement 0.95
    await submit_outcome(
        prompts.state,
        prompts.agent,
        action_id=wrong,
        outcome_type="email_reply",
        level="negative",
        now=T0,
    )
    unsure = await _routine(prompts, "unsure", 0.45, ago=2 * HOUR)  # 0.9
    later = await _routine(prompts, "later", 0.41)  # 0.82: fourth
    await _routine(prompts, "sure", 0.9)  # worth nothing
    await _routine(prompts, "old", 0.5, ago=8 * DAY)  # outside the 7 days
    rated = await _routine(prompts, "rated", 0.5)
    await _routine(prompts, "thumbed", 0.5)
    rep = prompts.people["rep_a1"]
    await submit_rating(
        prompts.state, rep, FeedbackInput(channel="dashboard", action_id=rated, rating=3), now=T0
    )
    await submit_rating(
        prompts.state,
        rep,
        FeedbackInput(channel="gmail", message_external_id="<thumbed@mail>", thumb="up"),
        now=T0,
    )
    critical = (await prompts.record("esc-1", confidence=0.5)).action.id  # asked already
    # Someone else's rating does not make the action rated for the rep.
    await submit_rating(
        prompts.state,
        prompts.people["manager_a"],
        FeedbackInput(channel="dashboard", action_id=later, rating=2),
        now=T0,
    )

    now = T0 + HOUR
    assert await _suggested(prompts, now) == [
        (coin_flip, "uncertain_confidence"),
        (wrong, "outcome_disagreement"),
        (unsure, "uncertain_confidence"),
    ]
    assert await _suggested(prompts, now + HOUR) == []  # three a day
    assert await _suggested(prompts, now + DAY) == [(later, "uncertain_confidence")]
    assert await _suggested(prompts, now + 2 * DAY) == []  # nothing left worth asking
    reasons = {p.action_id: p.reason for p in await prompts.prompts()}
    assert reasons[critical] == "critical_action"
    assert {p.expires_at - p.created_at for p in await prompts.prompts()} == {24 * HOUR}
    rep_id = prompts.user_id("rep_a1")
    budgets = await prompts.budgets()
    assert (budgets[(rep_id, now.date())], budgets[(rep_id, (now + DAY).date())]) == (4, 1)


@pytest.mark.parametrize("prompt_settings", [{"prompt_daily_budget": 4}], indirect=True)
async def test_suggestions_use_only_what_is_left_of_the_budget(prompts: Prompts) -> None:
    routine = [await _routine(prompts, f"e-{i}", 0.5, ago=i * HOUR + HOUR) for i in range(4)]
    for i in range(2):  # two critical actions take two of the four
        await prompts.record(f"esc-{i}")
    assert await _suggested(prompts, T0 + HOUR) == [
        (a, "uncertain_confidence") for a in routine[:2]
    ]
    third = await prompts.record("esc-2", now=T0 + 2 * HOUR)  # the budget is spent
    assert third.created and third.action.id not in {p.action_id for p in await prompts.prompts()}
    assert await prompts.budgets() == {(prompts.user_id("rep_a1"), T0.date()): 4}


@pytest.mark.parametrize("prompt_settings", [{"prompt_daily_suggestions": 0}], indirect=True)
async def test_no_suggestions_when_the_allowance_is_zero(prompts: Prompts) -> None:
    await _routine(prompts, "coin-flip", 0.5)
    assert await _suggested(prompts, T0 + HOUR) == []
    assert await prompts.budgets() == {}
