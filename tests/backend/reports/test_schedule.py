"""The schedule: when each period's report is due, across daylight-saving changes (property
tests over many zones and instants, and the worked cases of the rules)."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.reports.models import ReportKind
from backend.reports.rendered import Period
from backend.reports.schedule import Schedule, due_at, latest_due, local_instant, next_due

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",  # its clocks change at midnight: hour 0 is skipped some days
    "Australia/Lord_Howe",  # half-hour daylight saving
    "Asia/Kathmandu",  # +05:45
    "Pacific/Apia",  # skipped 2011-12-30 entirely
    "America/St_Johns",
]
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
UTC = dt.UTC

instants = st.datetimes(min_value=dt.datetime(2010, 1, 1), max_value=dt.datetime(2035, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC, microsecond=0)
)
schedules = st.builds(
    Schedule,
    kind=st.sampled_from(list(ReportKind)),
    timezone=st.sampled_from(ZONES),
    send_hour=st.integers(0, 23),
    weekday=st.integers(0, 6),
)


def wall(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(
    day=st.dates(min_value=dt.date(2010, 1, 1), max_value=dt.date(2035, 12, 31)),
    hour=st.integers(0, 23),
    zone=st.sampled_from(ZONES).map(zoneinfo.ZoneInfo),
)
def test_the_send_time_is_the_first_instant_at_or_after_the_local_hour(
    day: dt.date, hour: int, zone: zoneinfo.ZoneInfo
) -> None:
    naive = dt.datetime.combine(day, dt.time(hour))
    moment = local_instant(day, hour, zone)
    assert wall(moment, zone) >= naive
    assert wall(moment - dt.timedelta(seconds=1), zone) < naive
    if wall(naive.replace(tzinfo=zone).astimezone(UTC), zone) == naive:  # the hour exists
        assert wall(moment, zone) == naive


@settings(max_examples=300, deadline=None)
@given(schedule=schedules, now=instants)
def test_the_latest_due_period_is_due_and_the_next_is_not(schedule: Schedule, now: dt.datetime):
    due = latest_due(schedule, now)
    assert due is not None
    assert due.due_at <= now < next_due(schedule, due).due_at
    assert due.due_at == due_at(schedule, due.period)
    if schedule.kind is ReportKind.MANAGER_DAILY:
        assert due.period.days == 1
    else:
        assert (due.period.days, due.period.start.weekday()) == (7, 0)
    # A period is due after it ends, locally, and within a day (daily) or a week of its end.
    local_due = wall(due.due_at, schedule.zone).date()
    assert due.period.end <= local_due <= due.period.end + dt.timedelta(days=7)


@settings(max_examples=100, deadline=None)
@given(schedule=schedules, start=instants, hours=st.integers(1, 24 * 30))
def test_an_hourly_sweep_meets_each_period_once_in_order(
    schedule: Schedule, start: dt.datetime, hours: int
) -> None:
    """The worker polls; whatever the steps, it meets each period once, none skipped while it
    runs, in order."""
    seen: list[Period] = []
    for step in range(0, hours + 1, 1):
        due = latest_due(schedule, start + dt.timedelta(hours=step))
        assert due is not None
        if not seen or seen[-1] != due.period:
            seen.append(due.period)
    for earlier, later in itertools.pairwise(seen):
        assert later.start > earlier.start
        assert later.start - earlier.start == (
            dt.timedelta(days=1)
            if schedule.kind is ReportKind.MANAGER_DAILY
            else dt.timedelta(days=7)
        )


def test_daily_report_in_berlin_across_both_changes_of_2027() -> None:
    daily = Schedule(ReportKind.MANAGER_DAILY, "Europe/Berlin", send_hour=2)
    # Spring forward, 28 March 2027: 02:00 does not exist; due when the clocks jump (03:00 CEST).
    spring = due_at(daily, Period(dt.date(2027, 3, 27), dt.date(2027, 3, 28)))
    assert spring == at("2027-03-28T01:00")
    assert wall(spring, BERLIN) == dt.datetime(2027, 3, 28, 3, 0)
    # Fall back, 31 October 2027: 02:00 happens twice; due at the first (02:00 CEST).
    fall = due_at(daily, Period(dt.date(2027, 10, 30), dt.date(2027, 10, 31)))
    assert fall == at("2027-10-31T00:00")
    # An hour later (02:00 CET, the second time) nothing new is due.
    assert latest_due(daily, at("2027-10-31T01:00")) == latest_due(daily, fall)
    # Ordinary days: 02:00 CET is 01:00 UTC in winter, 00:00 UTC in summer.
    assert due_at(daily, Period(dt.date(2027, 3, 26), dt.date(2027, 3, 27))) == at(
        "2027-03-27T01:00"
    )
    assert due_at(daily, Period(dt.date(2027, 3, 28), dt.date(2027, 3, 29))) == at(
        "2027-03-29T00:00"
    )


def test_weekly_report_in_new_york_across_the_spring_change() -> None:
    weekly = Schedule(ReportKind.EXECUTIVE_WEEKLY, "America/New_York", send_hour=2, weekday=6)
    # Sunday 14 March 2027 02:00 does not exist in New York: due at 03:00 EDT (07:00 UTC), for
    # the week of Monday 1 March.
    due = latest_due(weekly, at("2027-03-14T07:00"))
    assert due is not None
    assert due.period == Period(dt.date(2027, 3, 1), dt.date(2027, 3, 8))
    assert wall(due.due_at, NEW_YORK) == dt.datetime(2027, 3, 14, 3, 0)
    before = latest_due(weekly, at("2027-03-14T06:59:59"))
    assert before is not None and before.period == Period(dt.date(2027, 2, 22), dt.date(2027, 3, 1))


def test_a_missed_period_is_the_latest_only_and_not_before_the_subscription() -> None:
    weekly = Schedule(ReportKind.REP_WEEKLY, "UTC", send_hour=8, weekday=0)
    # Down from Sunday to Thursday: on Thursday, Monday's report (last week) is due, late.
    due = latest_due(weekly, at("2027-03-25T10:00"))
    assert due is not None and due.due_at == at("2027-03-22T08:00")
    # Down three weeks: only the latest week.
    due = latest_due(weekly, at("2027-04-14T10:00"))
    assert due is not None and due.period == Period(dt.date(2027, 4, 5), dt.date(2027, 4, 12))
    # Subscribed on Wednesday: Monday's report was never missed.
    assert latest_due(weekly, at("2027-03-25T10:00"), since=at("2027-03-24T12:00")) is None


def test_a_weekly_schedule_needs_its_weekday() -> None:
    with pytest.raises(ValueError, match="weekday"):
        Schedule(ReportKind.EXECUTIVE_WEEKLY, "UTC", send_hour=8, weekday=None)
    with pytest.raises(ValueError, match="send_hour"):
        Schedule(ReportKind.MANAGER_DAILY, "UTC", send_hour=24)
