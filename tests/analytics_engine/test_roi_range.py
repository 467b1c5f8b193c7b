"""The ROI's range: hand-worked cases, the rules a CFO checks (redone work saves nothing, saved
time never exceeds the working hours, people's time the agent causes is a cost), and properties
of the low / expected / high ends."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics_engine.roi import HumanMinutes, HumanWorkCaused, RoiRange, Span, TaskWork, roi_range

ZERO = Span.exactly(0)
NO_HUMAN_MINUTES = HumanMinutes(ZERO, ZERO, ZERO, ZERO)


def _roi(tasks: list[TaskWork], **overrides: object) -> RoiRange:
    arguments: dict[str, object] = {
        "agent_cost": 10.0,
        "hourly_cost": Span.exactly(60),
        "platform_cost_per_action": ZERO,
        "minutes": NO_HUMAN_MINUTES,
        "working_hours_per_week": Span.exactly(40),
        "people": 1,
        "days": 7,
    }
    arguments.update(overrides)
    caused = arguments.pop("caused", HumanWorkCaused())
    return roi_range(tasks, caused, **arguments)  # type: ignore[arg-type]


def test_a_redone_action_saves_nothing() -> None:
    """One e-mail, judged wrong by a person (so redone): no time saved, only the cost."""
    r = _roi([TaskWork("email", 1, 0, 1, Span.exactly(6))])
    for case in (r.low, r.expected, r.high):
        assert case.hours_saved == 0 and case.value_of_time_saved == 0
        assert case.net_value == -10.0 and case.roi == -1.0


def test_escalated_work_saves_nothing_and_costs_a_person_time() -> None:
    """10 e-mails, 4 escalated: 6 x 6 min saved = 0.6 h = 36; 4 escalations x 15 min = 1 h
    handled by a person = 60 of cost, plus the agent's 10: net 36 - 70 = -34."""
    r = _roi(
        [TaskWork("email", 10, 4, 0, Span.exactly(6))],
        caused=HumanWorkCaused(escalations=4),
        minutes=HumanMinutes(Span.exactly(15), ZERO, ZERO, ZERO),
    ).expected
    assert r.hours_saved == pytest.approx(0.6) and r.human_hours_caused == pytest.approx(1.0)
    assert r.total_cost == pytest.approx(70.0) and r.net_value == pytest.approx(-34.0)


def test_time_saved_is_bounded_by_the_working_hours() -> None:
    """10,000 tasks of 30 min (5,000 h) by 2 people over 14 days at 40 h/week: at most 160 h."""
    r = _roi([TaskWork("email", 10_000, 0, 0, Span.exactly(30))], people=2, days=14).expected
    assert r.hours_saved_uncapped == pytest.approx(5000.0)
    assert r.capacity_hours == pytest.approx(160.0) and r.hours_saved == pytest.approx(160.0)
    assert r.capped


def test_incremental_outcomes_take_the_lift_interval_and_value_ends() -> None:
    """200 decided meetings, lift +5 pts (CI +1 to +9): 10 more successes expected (2 low, 18
    high) at 100 / 500 / 900 per success: 200, 5,000, 16,200."""
    task = TaskWork(
        "meeting", 200, 0, 0, ZERO, decided=200, lift=(0.01, 0.05, 0.09),
        value_per_success=Span(100, 500, 900),
    )  # fmt: skip
    r = _roi([task], agent_cost=0.0)
    assert r.low.incremental_successes == pytest.approx(2.0)
    assert r.low.incremental_value == pytest.approx(200.0)
    assert r.expected.incremental_value == pytest.approx(5000.0)
    assert r.high.incremental_value == pytest.approx(16200.0)
    assert math.isnan(r.expected.roi)  # no cost: no ratio


def test_a_negative_lift_costs_at_the_high_value_in_the_low_case() -> None:
    task = TaskWork(
        "meeting", 100, 0, 0, ZERO, decided=100, lift=(-0.1, -0.05, 0.02),
        value_per_success=Span(100, 200, 300),
    )  # fmt: skip
    r = _roi([task], agent_cost=0.0)
    assert r.low.incremental_value == pytest.approx(-10 * 300)
    assert r.high.incremental_value == pytest.approx(2 * 300)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="low <= expected <= high"):
        Span(2, 1, 3)
    with pytest.raises(ValueError, match="lift"):
        _roi([TaskWork("email", 1, 0, 0, ZERO, decided=1, lift=(0.2, 0.1, 0.3))])
    with pytest.raises(ValueError, match=r"email\.actions"):
        _roi([TaskWork("email", -1, 0, 0, ZERO)])


spans = st.tuples(*(st.floats(0, 500, allow_nan=False),) * 3).map(lambda t: Span(*sorted(t)))


@given(
    actions=st.integers(0, 5000),
    escalated=st.integers(0, 5000),
    redone=st.integers(0, 5000),
    minutes=spans,
    hourly=spans,
    platform=spans,
    per_escalation=spans,
    hours_week=spans,
    people=st.integers(0, 50),
    days=st.integers(1, 120),
    lift=st.tuples(*(st.floats(-1, 1, allow_nan=False),) * 3).map(lambda t: tuple(sorted(t))),
    value=spans,
    cost=st.floats(0, 1e5, allow_nan=False),
)
def test_low_expected_high_are_ordered_and_bounded(
    actions: int,
    escalated: int,
    redone: int,
    minutes: Span,
    hourly: Span,
    platform: Span,
    per_escalation: Span,
    hours_week: Span,
    people: int,
    days: int,
    lift: tuple[float, float, float],
    value: Span,
    cost: float,
) -> None:
    escalated, redone = min(escalated, actions), min(redone, actions - min(escalated, actions))
    task = TaskWork("email", actions, escalated, redone, minutes, actions, lift, value)
    r = roi_range(
        [task],
        HumanWorkCaused(escalations=escalated),
        agent_cost=cost,
        hourly_cost=hourly,
        platform_cost_per_action=platform,
        minutes=HumanMinutes(per_escalation, ZERO, ZERO, ZERO),
        working_hours_per_week=hours_week,
        people=people,
        days=days,
    )
    tolerance = 1e-6 * (1 + abs(r.high.net_value) + abs(r.low.net_value))
    assert r.low.net_value <= r.expected.net_value + tolerance
    assert r.expected.net_value <= r.high.net_value + tolerance
    for case in (r.low, r.expected, r.high):
        assert case.hours_saved <= case.capacity_hours + 1e-9
        completed = actions - escalated - redone
        assert case.hours_saved <= completed * minutes.high / 60 + 1e-9
        assert case.total_cost >= cost
