"""When a subscription's report is due (pure functions of its schedule and "now").

- A manager's daily report covers local day D and is due at ``send_hour`` local time on D+1.
- A weekly report covers the Monday-to-Sunday week before its due day, due on the
  subscription's ``weekday`` at ``send_hour`` local time (weekday 0, Monday: the week just
  ended; weekday 2, Wednesday: still the week that ended on the Sunday before).
- Local time follows the time zone's rules, daylight saving included: a send hour that does not
  exist that day (clocks spring forward over it) is due at the first instant after it (the
  moment the clocks jump); one that happens twice (clocks fall back) is due at its first
  occurrence. Both are "the first instant whose local wall time is at or after the send hour".
- Missed periods: only the most recent due period is ever due (`latest_due`); a worker that was
  down for days sends that one late, once, and the older ones are skipped (never run).

Periods are calendar days (``Period``); the worker keys a run by the period's first day.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from functools import cache

from backend.reports.models import Cadence, ReportKind
from backend.reports.rendered import Period

ONE_DAY = dt.timedelta(days=1)
ONE_WEEK = dt.timedelta(days=7)


@dataclass(frozen=True)
class Schedule:
    """What of a subscription decides when its report is due."""

    kind: ReportKind
    timezone: str
    send_hour: int
    weekday: int | None = None  # weekly reports: 0 = Monday .. 6 = Sunday

    def __post_init__(self) -> None:
        if not 0 <= self.send_hour <= 23:
            raise ValueError(f"send_hour must be 0 to 23, got {self.send_hour}")
        if self.cadence is Cadence.WEEKLY and not (
            self.weekday is not None and 0 <= self.weekday <= 6
        ):
            raise ValueError(f"a weekly report needs a weekday 0 to 6, got {self.weekday}")

    @property
    def cadence(self) -> Cadence:
        return (
            Cadence.DAILY if ReportKind(self.kind) is ReportKind.MANAGER_DAILY else Cadence.WEEKLY
        )

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return _zone(self.timezone)


@dataclass(frozen=True)
class Due:
    period: Period
    due_at: dt.datetime  # UTC


@cache
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _wall(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The local wall-clock time of an aware ``moment`` in ``zone`` (naive)."""
    return moment.astimezone(zone).replace(tzinfo=None)


def local_instant(day: dt.date, hour: int, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first instant (UTC) whose local wall time in ``zone`` is at or after ``hour``:00 on
    ``day``: that time itself when it exists once, its first occurrence when the clocks fall
    back over it, the moment the clocks jump when they spring forward over it."""
    naive = dt.datetime.combine(day, dt.time(hour))
    # fold=0: the earlier of two occurrences; in a gap, the offset before the jump (a UTC
    # instant after the jump).
    late = naive.replace(tzinfo=zone, fold=0).astimezone(dt.UTC)
    if _wall(late, zone) == naive:
        return late
    # In a gap: fold=1 reads it with the offset after the jump, an instant before the jump.
    # Search (to the second) for the first instant whose wall time reaches `naive`.
    early = naive.replace(tzinfo=zone, fold=1).astimezone(dt.UTC)
    if early > late:  # never for a gap; kept so the search bounds are always ordered
        early, late = late, early
    while late - early > dt.timedelta(seconds=1):
        middle = early + (late - early) / 2
        middle = middle.replace(microsecond=0)
        if _wall(middle, zone) >= naive:
            late = middle
        else:
            early = middle
    return late if _wall(early, zone) < naive else early


def due_at(schedule: Schedule, period: Period) -> dt.datetime:
    """When ``period``'s report is due: daily, the day after it; weekly, on the schedule's
    weekday of the week after it (its ``end`` is that Monday)."""
    day = period.end
    if schedule.cadence is Cadence.WEEKLY:
        day = period.end + dt.timedelta(days=schedule.weekday or 0)
    return local_instant(day, schedule.send_hour, schedule.zone)


def period_due_on(schedule: Schedule, day: dt.date) -> Period | None:
    """The period whose report is due on local ``day`` (None: no weekly report that day)."""
    if schedule.cadence is Cadence.DAILY:
        return Period(day - ONE_DAY, day)
    if day.weekday() != schedule.weekday:
        return None
    monday = day - dt.timedelta(days=day.weekday())
    return Period(monday - ONE_WEEK, monday)


def latest_due(
    schedule: Schedule, now: dt.datetime, *, since: dt.datetime | None = None
) -> Due | None:
    """The most recent period due at ``now`` and its due time; None when it was due before
    ``since`` (the subscription did not exist yet: that period was never missed)."""
    today = _wall(now, schedule.zone).date()
    # The due day is today or earlier; a gap can push a due time past midnight, so start a day
    # ahead and walk back to the first period whose due time has come.
    day = today + ONE_DAY
    for _ in range(16):
        period = period_due_on(schedule, day)
        if period is not None:
            moment = due_at(schedule, period)
            if moment <= now:
                if since is not None and moment < since:
                    return None
                return Due(period, moment)
        day -= ONE_DAY
    raise AssertionError("a report is due at least once in two weeks")  # pragma: no cover


def next_due(schedule: Schedule, after: Due) -> Due:
    """The period after ``after`` and when it is due."""
    step = ONE_DAY if schedule.cadence is Cadence.DAILY else ONE_WEEK
    period = Period(after.period.start + step, after.period.end + step)
    return Due(period, due_at(schedule, period))
