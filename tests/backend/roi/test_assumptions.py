"""Which ROI assumption holds on a day: the latest effective date on or before it, the latest
version among equals; a later version with an earlier date does not override a later date."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from backend.roi.assumptions import BASELINE, DEFAULT, SET, Assumptions, in_force
from backend.roi.models import AssumptionName, RoiAssumption

DAY = dt.date(2026, 10, 1)


def _row(version: int, effective: dt.date, expected: float, action_type: str = "*") -> Any:
    return RoiAssumption(
        organization_id=1,
        name=AssumptionName.MINUTES_PER_TASK.value,
        action_type=action_type,
        low=0.0,
        expected=expected,
        high=100.0,
        effective_from=effective,
        version=version,
        reason="test",
    )


def test_the_latest_effective_date_wins_then_the_latest_version() -> None:
    rows = [
        _row(1, DAY, 6.0),
        _row(2, DAY + dt.timedelta(days=14), 5.0),  # from the 15th
        _row(3, DAY, 7.0),  # a correction of what held from the 1st
        _row(4, DAY + dt.timedelta(days=30), 4.0, "email"),  # e-mails only, from the 31st
    ]
    on = {d: in_force(rows, DAY + dt.timedelta(days=d)) for d in (-1, 0, 13, 14, 30)}
    assert on[-1].get(AssumptionName.MINUTES_PER_TASK) is None
    assert on[0].resolve(AssumptionName.MINUTES_PER_TASK).span.expected == 7.0
    assert on[13].resolve(AssumptionName.MINUTES_PER_TASK).version == 3
    assert on[14].resolve(AssumptionName.MINUTES_PER_TASK, "email").span.expected == 5.0
    assert on[30].resolve(AssumptionName.MINUTES_PER_TASK, "email").span.expected == 4.0
    assert on[30].resolve(AssumptionName.MINUTES_PER_TASK, "meeting").span.expected == 5.0


def test_unset_assumptions_come_from_the_baseline_then_the_defaults() -> None:
    nothing = Assumptions(DAY, {})
    from_baseline = nothing.resolve(AssumptionName.MINUTES_PER_TASK, "email", baseline=6.0)
    assert (
        from_baseline.source == BASELINE
        and from_baseline.span.low == 6.0 == from_baseline.span.high
    )
    escalation = nothing.resolve(AssumptionName.MINUTES_PER_ESCALATION)
    assert escalation.source == DEFAULT and escalation.span.expected == 10.0
    assert nothing.resolve(AssumptionName.LOADED_HOURLY_COST).span.high == 0.0  # nothing known
    set_one = in_force([_row(1, DAY, 3.0)], DAY)
    assert set_one.resolve(AssumptionName.MINUTES_PER_TASK, baseline=6.0).source == SET


changes = st.lists(st.tuples(st.integers(0, 60), st.floats(0, 100)), min_size=1, max_size=12)


@given(changes=changes, day=st.integers(-5, 70))
def test_in_force_is_the_last_change_made_effective_by_that_day(
    changes: list[tuple[int, float]], day: int
) -> None:
    """Replaying the changes in order of (effective date, version), the value on a day is the
    last one whose date has come."""
    rows = [_row(i + 1, DAY + dt.timedelta(days=d), v) for i, (d, v) in enumerate(changes)]
    held = None
    for i, (d, v) in sorted(enumerate(changes), key=lambda c: (c[1][0], c[0])):
        if d <= day:
            held = (v, i + 1)
    found = in_force(rows, DAY + dt.timedelta(days=day)).get(AssumptionName.MINUTES_PER_TASK)
    if held is None:
        assert found is None
    else:
        assert found is not None and (found.span.expected, found.version) == held
