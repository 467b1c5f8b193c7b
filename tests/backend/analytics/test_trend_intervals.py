"""A trend point's rates with their intervals: Wilson 95 % (the totals' method) against
statsmodels' ``proportion_confint(method="wilson")`` (the oracle), and its properties: the
interval holds the rate, stays in [0, 1] and narrows as n grows."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from backend.analytics.metrics import TrendPoint
from backend.analytics.tally import daily_series, weekly_series

MONDAY = dt.date(2026, 10, 5)


def _point(escalations: int, actions: int, replies: float, outcomes: int) -> TrendPoint:
    return TrendPoint(MONDAY, actions, escalations, replies, outcomes, 0.0, 0)


def _series() -> list[TrendPoint]:
    """Three days: one e-mail replied (reads 100 %), 40 of 200 replied, a provisional day."""

    def actions(day: dt.date, n: int, escalations: int) -> dict[str, object]:
        return {
            "day": day,
            "actions": n,
            "escalations": escalations,
            "cost": 0,
            "currency": "USD",
            "tokens": 0,
        }

    def replies(day: dt.date, successes: float, resolved: int) -> dict[str, object]:
        return {"day": day, "successes": successes, "resolved": resolved, "pending": 0}

    days = [MONDAY + dt.timedelta(days=i) for i in range(3)]
    return daily_series(
        [actions(days[0], 1, 1), actions(days[1], 200, 7), actions(days[2], 5, 0)],
        [replies(days[0], 1, 1), replies(days[1], 40, 200), replies(days[2], 2, 3)],
        since=days[0],
        until=days[2],
        replies_matured_until=days[1],
        currency="USD",
        as_date=lambda day: day,
    )


@pytest.mark.parametrize(("successes", "count"), [(1, 1), (40, 200), (0, 3), (7, 200)])
def test_point_intervals_match_statsmodels_wilson(successes: int, count: int) -> None:
    point = _point(successes, count, successes, count)
    lower, upper = proportion_confint(successes, count, alpha=0.05, method="wilson")
    for rate in (point.reply_rate(), point.escalation_rate()):
        assert (rate.successes, rate.count) == (successes, count)
        assert rate.rate == pytest.approx(successes / count, abs=1e-15)
        assert rate.lower == pytest.approx(lower, rel=1e-12, abs=1e-15)
        assert rate.upper == pytest.approx(upper, rel=1e-12, abs=1e-15)


def test_one_reply_reads_100_percent_with_a_wide_interval() -> None:
    day, busy, provisional = _series()
    one = day.reply_rate()
    assert (one.rate, one.count) == (1.0, 1)
    assert one.lower == pytest.approx(0.2065493143772375, abs=1e-12) and one.upper == 1.0
    busy_rate = busy.reply_rate()
    assert (busy_rate.successes, busy_rate.count) == (40, 200)
    assert busy_rate.upper - busy_rate.lower < 0.12
    # A provisional day has no decided outcome: no rate, the whole of [0, 1].
    assert provisional.provisional and provisional.reply_outcomes == 0
    empty = provisional.reply_rate()
    assert math.isnan(empty.rate) and (empty.lower, empty.upper) == (0.0, 1.0)
    escalations = busy.escalation_rate()
    assert (escalations.successes, escalations.count) == (7, 200)


def test_a_week_counts_its_matured_days_only() -> None:
    (week,) = weekly_series(_series())
    assert week.provisional
    rate = week.reply_rate()
    assert (rate.successes, rate.count) == (41, 201)
    lower, upper = proportion_confint(41, 201, alpha=0.05, method="wilson")
    assert (rate.lower, rate.upper) == (pytest.approx(lower), pytest.approx(upper))
    assert week.escalation_rate().count == 206


def test_fractional_sums_a_rounding_error_above_their_count_stay_a_rate() -> None:
    rate = _point(0, 0, 3.0000000000000004, 3).reply_rate()
    assert rate.rate == 1.0 and rate.upper == 1.0


@given(
    count=st.integers(min_value=1, max_value=100_000),
    share=st.floats(min_value=0.0, max_value=1.0),
    factor=st.integers(min_value=2, max_value=50),
)
def test_bounds_hold_the_rate_stay_in_the_unit_interval_and_narrow_with_n(
    count: int, share: float, factor: int
) -> None:
    successes = round(share * count)
    small = _point(successes, count, successes, count)
    large = _point(successes * factor, count * factor, successes * factor, count * factor)
    for rate, more in (
        (small.reply_rate(), large.reply_rate()),
        (small.escalation_rate(), large.escalation_rate()),
    ):
        assert 0.0 <= rate.lower <= rate.rate <= rate.upper <= 1.0
        assert 0.0 <= more.lower <= more.rate <= more.upper <= 1.0
        assert more.rate == pytest.approx(rate.rate)
        assert more.upper - more.lower < rate.upper - rate.lower
