"""One periodic report rendered for one recipient: its content read as them
(`backend.reports.content`), its charts (`backend.reports.charts`), the e-mail's HTML and plain
text (Jinja2 templates in ``templates/``), a Slack Block Kit summary and the key figures.

Every figure is formatted here once (`Figure`), so the HTML, the text, Slack and the summary
show the same numbers the API returned.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeGuard

import jinja2

from analytics_engine.roi import RateEstimate
from backend.analytics.metrics import ActionTypeRate, Metrics, Money, MoneyTotal
from backend.database import Reads
from backend.reports import charts
from backend.reports.content import (
    Change,
    ExecutiveWeekly,
    ManagerDaily,
    ReportContent,
    RepWeekly,
    report_content,
)
from backend.reports.models import ReportKind
from backend.reports.rendered import Chart, Links, Period, RenderedReport
from backend.viewer import Viewer

SLACK_MAX_BLOCKS = 50
SLACK_MAX_TEXT = 3000
SLACK_MAX_FIELDS = 10

# -- formatting --------------------------------------------------------------------------------


def _finite(value: float | None) -> TypeGuard[float]:
    return value is not None and math.isfinite(value)


def pct(value: float | None, digits: int = 1) -> str:
    """A proportion as a percentage: ``0.1234`` -> ``12.3%``; undefined -> ``n/a``."""
    return f"{value * 100:.{digits}f}%" if _finite(value) else "n/a"


def points(value: float | None) -> str:
    """A difference of proportions in percentage points, signed: ``+1.2 pp``."""
    return f"{value * 100:+.1f} pp" if _finite(value) else "n/a"


def interval(lower: float | None, upper: float | None, *, signed: bool = False) -> str:
    if not (_finite(lower) and _finite(upper)):
        return "n/a"
    if signed:
        return f"{points(lower)} to {points(upper)}"
    return f"{pct(lower)} to {pct(upper)}"


def number(value: float | None, digits: int = 0) -> str:
    if not _finite(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def money(value: Money | MoneyTotal | float | None, currency: str = "") -> str:
    if isinstance(value, MoneyTotal):
        return money(value.total)
    if isinstance(value, Money):
        return money(value.amount, value.currency)
    if not _finite(value):
        return "n/a"
    return f"{currency} {value:,.2f}".strip()


def signed(value: float | None, digits: int = 0) -> str:
    return f"{value:+,.{digits}f}" if _finite(value) else "n/a"


def label(name: str) -> str:
    """``stage_progression`` -> ``stage progression``."""
    return name.replace("_", " ")


@dataclass(frozen=True)
class Figure:
    """One key figure as every part of the report shows it."""

    key: str  # its name in the summary
    label: str
    value: str  # formatted
    detail: str = ""  # its interval, what it leaves out
    raw: float | int | None = None  # unformatted, for the summary


def _raw(value: float | None) -> float | None:
    return float(value) if _finite(value) else None


def rate_figure(key: str, name: str, r: RateEstimate, *, maturing: int = 0) -> Figure:
    """A rate with its interval and sample; with no decided outcome yet, how many mature."""
    if r.count:
        detail = f"95% CI {interval(r.lower, r.upper)}; n = {number(r.count)}"
        if maturing:
            detail += f"; {number(maturing)} maturing, not counted"
    elif maturing:
        detail = f"{number(maturing)} outcomes still maturing: no rate yet"
    else:
        detail = "no decided outcome"
    return Figure(key, name, pct(r.rate), detail, _raw(r.rate))


def change_row(c: Change, currency: str) -> dict[str, str]:
    if c.rate is not None:
        both = c.rate.agent.count > 0 and c.rate.human.count > 0
        current = pct(c.current)
        if not c.rate.agent.count and c.maturing:
            current = f"maturing ({number(c.maturing)})"
        return {
            "name": c.name,
            "current": current,
            "previous": pct(c.previous),
            "change": points(c.rate.difference) if both else "n/a",
            "interval": interval(c.rate.difference_lower, c.rate.difference_upper, signed=True)
            if both
            else "",
            "significant": "yes" if c.significant else "no",
        }
    if c.name == "Cost":
        return {
            "name": c.name,
            "current": money(c.current, currency),
            "previous": money(c.previous, currency),
            "change": f"{signed(c.difference, 2)}",
            "interval": "",
            "significant": "",
        }
    digits = 1 if c.name == "Hours saved" else 0
    return {
        "name": c.name,
        "current": number(c.current, digits),
        "previous": number(c.previous, digits),
        "change": signed(c.difference, digits),
        "interval": "",
        "significant": "",
    }


def rate_row(r: ActionTypeRate, judged: str = "") -> dict[str, str]:
    v = r.versus_human
    both = v is not None and r.agent.count > 0
    return {
        "action_type": label(r.action_type),
        "agent": pct(r.agent.rate),
        "agent_interval": interval(r.agent.lower, r.agent.upper) if r.agent.count else "",
        "decided": number(r.resolved),
        "maturing": number(r.maturing),
        "judged": judged,
        "human": pct(v.human.rate) if v is not None else "no baseline",
        "human_interval": interval(v.human.lower, v.human.upper) if v is not None else "",
        "difference": points(v.difference) if v is not None and both else "",
        "difference_interval": interval(v.difference_lower, v.difference_upper, signed=True)
        if v is not None and both
        else "",
    }


# -- the reports -------------------------------------------------------------------------------


def _day(day: dt.date) -> str:
    return f"{day:%a %d %b %Y}"


def _period_text(period: Period) -> str:
    if period.days == 1:
        return _day(period.start)
    return f"{_day(period.start)} to {_day(period.last_day)}"


def _manager(c: ManagerDaily, links: Links) -> dict[str, Any]:
    day, trend = c.day.metrics, c.trend.metrics
    responses = day.responses
    figures = [
        Figure("actions", "Actions", number(day.interactions), "on the day", day.interactions),
        rate_figure("escalation_rate", "Escalation rate", day.escalations.rate),
        rate_figure(
            "reply_rate_28d",
            "Reply rate, last 28 days",
            trend.responses.replies,
            maturing=trend.responses.maturing_replies,
        ),
        Figure(
            "replies_maturing",
            "Reply outcomes maturing",
            number(responses.maturing_replies),
            "of the day's e-mails: provisional, not in any rate yet",
            responses.maturing_replies,
        ),
        Figure(
            "cost", "Cost", money(day.costs.total), "on the day", _raw(day.costs.total.total.amount)
        ),
        Figure(
            "alerts_open",
            "Open alerts",
            number(c.alerts.open_count),
            f"{number(len(c.alerts.opened))} opened on the day",
            c.alerts.open_count,
        ),
        Figure(
            "label_queue",
            "Labelling queue",
            number(c.label_queue.total),
            "outcomes waiting for a label",
            c.label_queue.total,
        ),
        Figure(
            "prompts_open",
            "Unanswered prompts",
            number(c.prompts.total),
            "feedback prompts still open",
            c.prompts.total,
        ),
    ]
    trend_by_agent = {a.agent_id: a.metrics for a in c.trend.agents}
    agents = []
    for a in c.day.agents:
        m: Metrics = a.metrics
        t = trend_by_agent.get(a.agent_id)
        agents.append(
            {
                "name": c.agent_names.get(a.agent_id, f"agent {a.agent_id}"),
                "link": links.view(f"/?agent={a.agent_id}"),
                "actions": number(m.interactions),
                "escalation_rate": pct(m.escalations.rate.rate),
                "maturing": number(m.responses.maturing_replies),
                "cost": money(m.costs.total),
                "reply_rate_28d": pct(t.responses.replies.rate) if t else "n/a",
                "reply_interval_28d": interval(t.responses.replies.lower, t.responses.replies.upper)
                if t
                else "",
            }
        )
    trend_rows = [
        {
            "day": f"{p.day:%a %d %b}",
            "actions": number(p.actions),
            "escalations": number(p.escalations),
            "reply_rate": "provisional"
            if p.provisional
            else pct(p.replies / p.reply_outcomes if p.reply_outcomes else None),
            "maturing": number(p.maturing_replies),
            "provisional": p.provisional,
        }
        for p in c.trend.daily[-7:]
    ]
    return {
        "title": f"{c.team_name}: daily report",
        "kicker": "Manager daily",
        "figures": figures,
        "agents": agents,
        "trend_rows": trend_rows,
        "calibration": _calibration_rows(c.calibration),
        "policy_changes": [
            {
                "agent": c.agent_names.get(p.agent_id, f"agent {p.agent_id}"),
                "action_type": label(p.action_type),
                "escalate": f"{number(p.escalate_from, 2)} -> {number(p.escalate_to, 2)}",
                "autonomous": f"{number(p.autonomous_from, 2)} -> {number(p.autonomous_to, 2)}",
                "reason": p.reason,
                "by": p.changed_by,
                "at": f"{p.at:%H:%M} UTC",
            }
            for p in c.policy_changes
        ],
        "alerts_opened": [_alert(a, links) for a in c.alerts.opened],
        "alerts_open": [_alert(a, links) for a in c.alerts.open],
        "alerts_open_count": c.alerts.open_count,
        "coaching": [
            {
                "statement": i.statement,
                "advice": i.advice,
                "effect": points(i.difference),
                "interval": interval(i.ci_low, i.ci_high, signed=True),
                "support": number(i.support),
                "q_value": f"{i.q_value:.3f}",
            }
            for i in c.coaching
        ],
        "coaching_new": c.coaching_new,
        "label_queue": c.label_queue.total,
        "prompts": c.prompts.total,
        "team_link": links.view(f"/?team={c.team_id}"),
        "coaching_link": links.view(f"/?team={c.team_id}&view=coaching"),
        "labels_link": links.view("/?view=labels"),
        "prompts_link": links.view("/?view=prompts"),
        "alerts_link": links.view(f"/?team={c.team_id}&view=alerts"),
        "trend_since": c.trend.range.since,
    }


def _calibration_rows(health: Sequence[Any]) -> list[dict[str, str]]:
    rows = []
    for h in health:
        r = h.report
        debiased = r.debiased.error if r.debiased is not None else math.nan
        rows.append(
            {
                "action_type": label(h.action_type),
                "verdict": label(r.verdict.kind.value),
                "outcomes": number(r.n),
                "debiased_error": pct(debiased),
                "brier": number(r.brier.brier, 3) if r.brier is not None else "n/a",
                "reason": r.verdict.reason,
                "days": f"{h.since:%d %b} to {h.until:%d %b}",
            }
        )
    return rows


def _alert(a: Any, links: Links) -> dict[str, str]:
    return {
        "severity": a.severity,
        "state": a.state,
        "message": a.message,
        "fired_at": f"{a.fired_at:%d %b %H:%M} UTC",
        "link": links.view(f"/?alert={a.id}"),
    }


def _executive(c: ExecutiveWeekly, links: Links) -> dict[str, Any]:
    m = c.week.metrics
    roi = m.roi
    low, expected, high = roi.range.low, roi.range.expected, roi.range.high
    money_ok = roi.money_available
    cur = roi.currency
    figures = [
        Figure(
            "roi",
            "ROI (expected)",
            pct(expected.roi, 0) if money_ok else "n/a",
            f"range {pct(low.roi, 0)} to {pct(high.roi, 0)}" if money_ok else (roi.note or ""),
            _raw(expected.roi) if money_ok else None,
        ),
        Figure(
            "net_value",
            "Net value (expected)",
            money(expected.net_value, cur) if money_ok else "n/a",
            f"range {money(low.net_value, cur)} to {money(high.net_value, cur)}"
            if money_ok
            else "",
            _raw(expected.net_value) if money_ok else None,
        ),
        Figure(
            "hours_saved",
            "Hours saved (expected)",
            number(expected.hours_saved, 1),
            f"range {number(low.hours_saved, 1)} to {number(high.hours_saved, 1)}",
            _raw(expected.hours_saved),
        ),
        Figure("actions", "Actions", number(m.interactions), "in the week", m.interactions),
        rate_figure(
            "reply_rate", "Reply rate", m.responses.replies, maturing=m.responses.maturing_replies
        ),
        rate_figure("escalation_rate", "Escalation rate", m.escalations.rate),
    ]
    strategy = []
    for s in c.strategy.action_types:
        r = s.roi
        strategy.append(
            {
                "action_type": label(s.action_type),
                "recommendation": label(s.recommendation.advice.value),
                "reasons": list(s.reasons),
                "actions": number(s.actions),
                "net_value": money(r.expected.net_value, cur) if r and money_ok else "n/a",
                "net_range": f"{money(r.low.net_value, cur)} to {money(r.high.net_value, cur)}"
                if r and money_ok
                else "",
                "hours": number(r.expected.hours_saved, 1) if r else "n/a",
            }
        )
    teams = [
        {
            "name": c.team_names.get(t.team_id, f"team {t.team_id}"),
            "link": links.view(f"/?team={t.team_id}"),
            "actions": number(t.metrics.interactions),
            "reply_rate": pct(t.metrics.responses.replies.rate),
            "escalation_rate": pct(t.metrics.escalations.rate.rate),
            "hours_saved": number(t.metrics.roi.range.expected.hours_saved, 1),
        }
        for t in c.week.teams
    ]
    return {
        "title": f"{c.organization_name}: weekly report",
        "kicker": "Executive weekly",
        "figures": figures,
        "changes": [change_row(x, c.week.currency) for x in c.changes],
        "previous": _period_text(c.previous),
        "rates": [
            rate_row(s.rate, f"{s.range.since:%d %b} to {s.range.until:%d %b}")
            for s in c.strategy.action_types
            if s.rate is not None
        ],
        "strategy": strategy,
        "assumptions": [
            {
                "name": label(a.name),
                "action_type": label(a.action_type) if a.action_type != "*" else "every type",
                "low": number(a.span.low, 2),
                "expected": number(a.span.expected, 2),
                "high": number(a.span.high, 2),
                "source": label(a.source),
                "reason": a.reason or "",
            }
            for a in roi.assumptions
        ],
        "roi_note": roi.note,
        "roi_cases": [
            {
                "case": name,
                "hours": number(case.hours_saved, 1),
                "value": money(case.value_of_time_saved + case.incremental_value, cur)
                if money_ok
                else "n/a",
                "cost": money(case.total_cost, cur) if money_ok else "n/a",
                "net": money(case.net_value, cur) if money_ok else "n/a",
                "roi": pct(case.roi, 0) if money_ok else "n/a",
            }
            for name, case in (("low", low), ("expected", expected), ("high", high))
        ],
        "calibration": _calibration_rows(c.calibration),
        "teams": teams,
        "alerts_opened": [_alert(a, links) for a in c.alerts.opened],
        "alerts_open": [_alert(a, links) for a in c.alerts.open],
        "alerts_open_count": c.alerts.open_count,
        "dashboard_link": links.view("/?view=executive"),
        "strategy_link": links.view("/?view=strategy"),
        "alerts_link": links.view("/?view=alerts"),
    }


def _rep(c: RepWeekly, links: Links) -> dict[str, Any]:
    m = c.week.metrics
    figures = [
        Figure("actions", "Actions", number(m.interactions), "in the week", m.interactions),
        rate_figure(
            "reply_rate", "Reply rate", m.responses.replies, maturing=m.responses.maturing_replies
        ),
        rate_figure("escalation_rate", "Escalation rate", m.escalations.rate),
        Figure(
            "hours_saved",
            "Hours saved (expected)",
            number(m.roi.range.expected.hours_saved, 1),
            "",
            _raw(m.roi.range.expected.hours_saved),
        ),
        Figure(
            "prompts_waiting",
            "Prompts waiting for you",
            number(c.prompts.total),
            "open feedback prompts",
            c.prompts.total,
        ),
    ]
    return {
        "title": f"{c.agent_name}: your agent's week",
        "kicker": "Weekly digest",
        "figures": figures,
        "changes": [change_row(x, c.week.currency) for x in c.changes],
        "previous": _period_text(c.previous),
        "rates": [rate_row(r) for r in c.recent.metrics.rates_by_action_type],
        "recent": f"{c.recent.range.since:%d %b} to {c.recent.range.until:%d %b}",
        "alerts_opened": [_alert(a, links) for a in c.alerts.opened],
        "alerts_open": [_alert(a, links) for a in c.alerts.open],
        "alerts_open_count": c.alerts.open_count,
        "prompts": c.prompts.total,
        "prompts_link": links.view("/?view=prompts"),
        "agent_link": links.view(f"/?agent={c.agent_id}"),
    }


# -- charts ------------------------------------------------------------------------------------


def _reliability(content: ManagerDaily | ExecutiveWeekly, cid: str) -> Chart:
    panels = [
        charts.ReliabilityPanel(h.action_type, h.report.verdict.kind.value, h.report.reliability)
        for h in content.calibration
        if h.report.n > 0
    ]
    days = charts_days(content)
    return Chart(
        cid,
        "Calibration: stated confidence against outcomes",
        f"Reliability diagram per action type over its last {days} matured days, with 95% "
        "intervals",
        charts.reliability_chart(
            panels, title=f"Reliability, {days} matured days per type (95% intervals)"
        ),
    )


def charts_days(content: ManagerDaily | ExecutiveWeekly) -> int:
    h = content.calibration[0] if content.calibration else None
    return (h.until - h.since).days + 1 if h is not None else 0


def _charts(content: ReportContent) -> tuple[Chart, ...]:
    """Drawn in a worker thread: matplotlib is CPU work."""
    match content:
        case ManagerDaily():
            return (
                Chart(
                    "trend",
                    "Last 28 days",
                    "Actions per day and reply rate of matured days; provisional days hatched",
                    charts.trend_chart(
                        content.trend.daily, title=f"{content.team_name}: last 28 days"
                    ),
                ),
                _reliability(content, "reliability"),
            )
        case ExecutiveWeekly():
            return (
                Chart(
                    "agent-vs-human",
                    "Agent versus human baseline",
                    "Success rate per action type, agent and human baseline, with 95% intervals",
                    charts.agent_vs_human_chart(
                        [s.rate for s in content.strategy.action_types if s.rate is not None],
                        title="Agent versus human baseline, matured outcomes",
                    ),
                ),
                _reliability(content, "reliability"),
            )
        case RepWeekly():
            daily = (*content.previous_week.daily, *content.week.daily)
            return (
                Chart(
                    "trend",
                    "Last two weeks",
                    "Actions per day and reply rate of matured days; provisional days hatched",
                    charts.trend_chart(daily, title=f"{content.agent_name}: last two weeks"),
                ),
                Chart(
                    "agent-vs-human",
                    "Agent versus human baseline",
                    "Success rate per action type, agent and human baseline, with 95% intervals",
                    charts.agent_vs_human_chart(
                        content.recent.metrics.rates_by_action_type,
                        title="Your agent versus the human baseline, last 28 days",
                    ),
                ),
            )
    raise TypeError(f"no charts for {type(content).__name__}")


# -- templates, Slack, summary -----------------------------------------------------------------


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("backend.reports", "templates"),
        autoescape=lambda name: name is not None and name.endswith(".html.j2"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(pct=pct, number=number, money=money, label=label)
    return env


def _subject(kind: ReportKind, view: dict[str, Any], period: Period) -> str:
    return f"{view['title']}, {_period_text(period)}"


def _slack_blocks(
    view: dict[str, Any], period: Period, subject: str, main_link: str
) -> list[dict[str, Any]]:
    def cut(text: str, size: int) -> str:
        return text if len(text) <= size else text[: size - 1] + "…"

    fields = [
        {
            "type": "mrkdwn",
            "text": cut(f"*{f.label}*\n{f.value}" + (f"\n_{f.detail}_" if f.detail else ""), 2000),
        }
        for f in view["figures"][:SLACK_MAX_FIELDS]
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(view["title"], 150)}},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": cut(f"{view['kicker']} · {_period_text(period)}", 3000)}
            ],
        },
        {"type": "section", "fields": fields},
    ]
    alerts = view.get("alerts_open") or []
    if alerts:
        lines = [f"• <{a['link']}|{a['severity']}: {a['message']}>" for a in alerts]
        text = f"*Open alerts ({view['alerts_open_count']})*\n" + "\n".join(lines)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SLACK_MAX_TEXT)}}
        )
    buttons = [("Open the dashboard", main_link)]
    for key, name in (
        ("labels_link", "Labelling queue"),
        ("prompts_link", "Prompts"),
        ("strategy_link", "Strategy"),
        ("alerts_link", "Alerts"),
    ):
        if key in view:
            buttons.append((name, view[key]))
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": name},
                    "url": url,
                    "action_id": f"report-link-{i}",
                }
                for i, (name, url) in enumerate(buttons)
            ],
        }
    )
    return blocks[:SLACK_MAX_BLOCKS]


def _summary(
    kind: ReportKind, view: dict[str, Any], period: Period, content: ReportContent
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": kind.value,
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        "figures": {f.key: f.raw for f in view["figures"]},
    }
    match content:
        case ManagerDaily():
            out["team_id"] = content.team_id
            out["agents"] = sorted(content.agent_names)
        case RepWeekly():
            out["agent_id"] = content.agent_id
        case ExecutiveWeekly():
            out["teams"] = sorted(content.team_names)
    return out


async def render_report(
    reads: Reads,
    viewer: Viewer,
    *,
    kind: ReportKind | str,
    period: Period,
    links: Links,
    today: dt.date,
    now: dt.datetime,
    team_id: int | None = None,
    agent_id: int | None = None,
) -> RenderedReport:
    """The report of ``kind`` over ``period`` for ``viewer``, read as them: a manager's daily
    report of ``team_id`` (a team they manage), an executive's weekly report, a rep's weekly
    digest of ``agent_id`` (default: their only agent). ``today`` decides which days have
    matured; ``now`` is when it is rendered (shown in the footer)."""
    kind = ReportKind(kind)
    content = await report_content(
        reads, viewer, kind=kind, period=period, today=today, team_id=team_id, agent_id=agent_id
    )
    rendered_charts = await asyncio.to_thread(_charts, content)
    match content:
        case ManagerDaily():
            view = _manager(content, links)
            main_link = view["team_link"]
        case ExecutiveWeekly():
            view = _executive(content, links)
            main_link = view["dashboard_link"]
        case RepWeekly():
            view = _rep(content, links)
            main_link = view["agent_link"]
        case _:
            raise TypeError(f"no report for {type(content).__name__}")
    subject = _subject(kind, view, period)
    context = {
        **view,
        "subject": subject,
        "period_text": _period_text(period),
        "charts": rendered_charts,
        "main_link": main_link,
        "unsubscribe_url": links.unsubscribe_url,
        "generated": f"{now.astimezone(dt.UTC):%d %b %Y %H:%M} UTC",
        "today": today,
    }
    env = environment()
    html = env.get_template(f"{kind.value}.html.j2").render(context)
    text = env.get_template(f"{kind.value}.txt.j2").render(context)
    return RenderedReport(
        kind=kind,
        period=period,
        subject=subject,
        html=html,
        text=text,
        charts=rendered_charts,
        slack_blocks=_slack_blocks(view, period, subject, main_link),
        summary=_summary(kind, view, period, content),
    )


_CID = re.compile(r"""(["'])cid:([^"']+)\1""")


def html_with_data_uris(report: RenderedReport) -> str:
    """The report's HTML with each ``cid:`` image replaced by its PNG as a data URI (previews,
    screenshots); an unknown Content-ID is left as it is."""
    pngs = {c.cid: c.png for c in report.charts}

    def inline(match: re.Match[str]) -> str:
        png = pngs.get(match.group(2))
        if png is None:
            return match.group(0)
        encoded = base64.b64encode(png).decode("ascii")
        return f"{match.group(1)}data:image/png;base64,{encoded}{match.group(1)}"

    return _CID.sub(inline, report.html)
