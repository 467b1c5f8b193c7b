"""Opens and clicks in the trend series: each day's rollup rows land on their day (none outside
the range), weeks sum their days, and human = all - machine, checked against hand-built rows
and, for any rows, against a plain recount."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from backend.analytics.tally import daily_series, weekly_series
from backend.database import as_date

SINCE, UNTIL = dt.date(2026, 10, 1), dt.date(2026, 10, 14)  # Thursday to the next Wednesday
NAMES = ("opens", "machine_opens", "clicks", "machine_clicks")


def series(engagement: list[dict]) -> list:
    return daily_series(
        [],
        [],
        engagement,
        since=SINCE,
        until=UNTIL,
        replies_matured_until=UNTIL,
        currency="USD",
        as_date=as_date,
    )


def row(day: str, opens: int, machine_opens: int, clicks: int, machine_clicks: int) -> dict:
    values = (day, opens, machine_opens, clicks, machine_clicks)
    return dict(zip(("day", *NAMES), values, strict=True))


def test_days_and_weeks_by_hand() -> None:
    daily = series(
        [
            row("2026-10-05", 2, 1, 0, 0),
            row("2026-10-06", 3, 2, 2, 1),
            row("2026-10-12", 1, 0, 1, 0),
            row("2026-09-30", 9, 9, 9, 9),  # before the range: not shown
        ]
    )
    by_day = {p.day: p for p in daily}
    assert len(daily) == 14
    monday = by_day[dt.date(2026, 10, 5)]
    assert (monday.opens, monday.machine_opens, monday.human_opens) == (2, 1, 1)
    assert (monday.clicks, monday.human_clicks) == (0, 0)
    tuesday = by_day[dt.date(2026, 10, 6)]
    assert (tuesday.human_opens, tuesday.human_clicks) == (1, 1)
    weekly = {p.day: p for p in weekly_series(daily)}
    assert sorted(weekly) == [dt.date(2026, 9, 28), dt.date(2026, 10, 5), dt.date(2026, 10, 12)]
    week = weekly[dt.date(2026, 10, 5)]
    assert (week.opens, week.machine_opens, week.clicks, week.machine_clicks) == (5, 3, 2, 1)
    assert (week.human_opens, week.human_clicks) == (2, 1)
    assert weekly[dt.date(2026, 9, 28)].opens == 0


counts = st.integers(min_value=0, max_value=50)
rows = st.lists(
    st.tuples(st.integers(min_value=-3, max_value=16), counts, counts, counts, counts).map(
        lambda t: row(
            (SINCE + dt.timedelta(days=t[0])).isoformat(),
            t[1] + t[2],
            t[2],
            t[3] + t[4],
            t[4],
        )
    ),
    max_size=30,
)


@given(rows)
def test_the_weeks_hold_every_open_and_click_of_the_range(engagement: list[dict]) -> None:
    expected: Counter[str] = Counter()
    for r in engagement:
        if SINCE <= dt.date.fromisoformat(r["day"]) <= UNTIL:
            expected.update({n: r[n] for n in NAMES})
    weeks = weekly_series(series(engagement))
    for name in NAMES:
        assert sum(getattr(w, name) for w in weeks) == expected[name]
    assert all(0 <= w.human_opens <= w.opens and 0 <= w.human_clicks <= w.clicks for w in weeks)
