"""What a rendered report is, whoever renders or sends it: the period it covers, the links it
offers, and the report itself (subject, HTML with its charts as inline images, plain text, a
Slack summary and the key figures kept on the run).

``backend.reports.render.render_report`` makes one; the schedule, the preview, the command
line and the deliveries (e-mail, Slack) only read it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from backend.reports.models import ReportKind


@dataclass(frozen=True)
class Period:
    """The days a report covers, ``start`` included and ``end`` excluded: a manager's daily
    report one day (yesterday at the send time), a weekly report Monday to Sunday."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"a period ends after it starts, got {self.start}..{self.end}")

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @classmethod
    def of(cls, kind: ReportKind | str, day: dt.date) -> Period:
        """The period of a ``kind`` of report that holds ``day``: the day itself (manager
        daily), or its Monday-to-Sunday week (the weekly reports)."""
        if ReportKind(kind) is ReportKind.MANAGER_DAILY:
            return cls(day, day + dt.timedelta(days=1))
        monday = day - dt.timedelta(days=day.weekday())
        return cls(monday, monday + dt.timedelta(days=7))


@dataclass(frozen=True)
class Links:
    """Where a report's links lead: the dashboard (``base_url``, the service's public URL) and,
    when the report goes to a subscriber, their signed one-click unsubscribe link."""

    base_url: str
    unsubscribe_url: str | None = None

    def view(self, path: str) -> str:
        """An absolute link into the dashboard, e.g. ``view("/?team=3")``."""
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")


@dataclass(frozen=True)
class Chart:
    """A chart rendered as PNG; the HTML shows it as ``<img src="cid:{cid}">``."""

    cid: str
    title: str
    alt: str
    png: bytes


@dataclass(frozen=True)
class RenderedReport:
    """One report for one recipient and period.

    - ``html`` refers to its charts by Content-ID (``cid:``), never by URL; ``text`` is the
      same report as plain text.
    - ``charts``: the first is the main chart, the one a Slack summary shows.
    - ``slack_blocks``: the Block Kit summary (key numbers, links), without the image, which
      the Slack delivery uploads.
    - ``summary``: the key figures as JSON, kept on the report's run.
    """

    kind: ReportKind
    period: Period
    subject: str
    html: str
    text: str
    charts: tuple[Chart, ...] = ()
    slack_blocks: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
