"""Rendered reports over the demo: every key figure is the API's number, in the HTML, the text,
Slack and the summary alike; the HTML is self-contained (cid: images only, no script, no
external resource) and well formed; charts are small, deterministic PNGs; Slack's limits
hold; links lead into the dashboard and to the unsubscribe link."""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import time
from html.parser import HTMLParser
from typing import Any

import pytest

from analytics_engine.roi import rate_estimate
from backend.analytics.metrics import ActionTypeRate, TrendPoint
from backend.calibration.repository import ReliabilityBin
from backend.reports import charts
from backend.reports.models import ReportKind
from backend.reports.render import (
    SLACK_MAX_BLOCKS,
    SLACK_MAX_TEXT,
    html_with_data_uris,
    number,
    pct,
    render_report,
)
from backend.reports.rendered import Links, RenderedReport
from backend.state import AppState
from tests.backend.conftest import Loop
from tests.backend.reports.demo_reports import (
    DAY,
    EXECUTIVE,
    LINKS,
    MANAGER,
    REP,
    SENT_AT,
    TODAY,
    WEEK,
    DemoApi,
    demo_api,
    demo_state,
    gid,
    viewer,
)

__all__ = ["demo_api", "demo_state"]  # fixtures used here
PNG = b"\x89PNG\r\n\x1a\n"
MAX_CHART_BYTES = 60_000
KINDS = {
    ReportKind.MANAGER_DAILY: MANAGER,
    ReportKind.EXECUTIVE_WEEKLY: EXECUTIVE,
    ReportKind.REP_WEEKLY: REP,
}


@pytest.fixture(autouse=True)
def loop_at_now() -> None:
    """These tests read the demo, not the factories' world (overrides the package's fixture)."""


async def rendered(
    state: AppState, api: DemoApi, kind: ReportKind, links: Links = LINKS
) -> tuple[RenderedReport, float]:
    """The report of ``kind`` for its demo recipient (rendered once per module) and the
    seconds it took."""
    key = ("rendered", kind, links)
    if key not in api.cache:
        who = await viewer(state, api, KINDS[kind])
        team = min(who.team_ids or ()) if kind is ReportKind.MANAGER_DAILY else None
        started = time.perf_counter()
        report = await render_report(
            state.reads,
            who,
            kind=kind,
            period=DAY if kind is ReportKind.MANAGER_DAILY else WEEK,
            links=links,
            today=TODAY,
            now=SENT_AT,
            team_id=team,
        )
        api.cache[key] = (report, time.perf_counter() - started)
    return api.cache[key]


def visible_text(markup: str) -> str:
    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.parts: list[str] = []

        def handle_data(self, data: str) -> None:
            self.parts.append(data)

    parser = Text()
    parser.feed(markup)
    return " ".join(" ".join(parser.parts).split())


def flat(text: str) -> str:
    return " ".join(text.split())


# -- the numbers -------------------------------------------------------------------------------


def api_figures(api: DemoApi, kind: ReportKind, report: RenderedReport) -> dict[str, Any]:
    """The API's number for each key figure of ``kind``'s report, asked as its recipient."""
    period = {"from": report.period.start.isoformat(), "to": report.period.last_day.isoformat()}
    as_ = KINDS[kind]
    if kind is ReportKind.MANAGER_DAILY:
        team = gid("Team", report.summary["team_id"])
        since = report.period.last_day - dt.timedelta(days=27)
        data = api.query(
            """query($team: ID!, $from: Date, $to: Date, $since: Date) {
              day: teamDashboard(teamId: $team, from: $from, to: $to) { metrics {
                interactions escalations { rate { rate } }
                responses { maturingReplies } cost { total { total { amount } } } } }
              trend: teamDashboard(teamId: $team, from: $since, to: $to) { metrics {
                responses { replies { rate } } } }
              labelQueue(first: 1) { totalCount }
              feedbackPrompts(state: OPEN, first: 1) { totalCount }
              alerts(first: 100, state: [FIRING, ACKNOWLEDGED]) {
                edges { node { team { id } agent { team { id } } } } } }""",
            {"team": team, **period, "since": since.isoformat()},
            as_=as_,
        )
        day = data["day"]["metrics"]
        open_alerts = [
            a["node"]
            for a in data["alerts"]["edges"]
            if (a["node"]["team"] or {}).get("id") == team
            or ((a["node"]["agent"] or {}).get("team") or {}).get("id") == team
        ]
        return {
            "actions": day["interactions"],
            "escalation_rate": day["escalations"]["rate"]["rate"],
            "reply_rate_28d": data["trend"]["metrics"]["responses"]["replies"]["rate"],
            "replies_maturing": day["responses"]["maturingReplies"],
            "cost": day["cost"]["total"]["total"]["amount"],
            "alerts_open": len(open_alerts),
            "label_queue": data["labelQueue"]["totalCount"],
            "prompts_open": data["feedbackPrompts"]["totalCount"],
        }
    if kind is ReportKind.EXECUTIVE_WEEKLY:
        data = api.query(
            """query($from: Date, $to: Date) { executiveDashboard(from: $from, to: $to) {
              metrics { interactions escalations { rate { rate } } responses { replies { rate } }
                roi { roi hoursSaved netValue { amount } } } } }""",
            period,
            as_=as_,
        )["executiveDashboard"]["metrics"]
        return {
            "roi": data["roi"]["roi"],
            "net_value": data["roi"]["netValue"]["amount"],
            "hours_saved": data["roi"]["hoursSaved"],
            "actions": data["interactions"],
            "reply_rate": data["responses"]["replies"]["rate"],
            "escalation_rate": data["escalations"]["rate"]["rate"],
        }
    agent = gid("Agent", report.summary["agent_id"])
    data = api.query(
        """query($agent: ID!, $me: ID!, $from: Date, $to: Date) {
          repDashboard(agentId: $agent, from: $from, to: $to) { metrics {
            interactions escalations { rate { rate } } responses { replies { rate } }
            roi { hoursSaved } } }
          feedbackPrompts(state: OPEN, assigneeId: $me, first: 1) { totalCount } }""",
        {"agent": agent, "me": gid("User", api.users[as_]), **period},
        as_=as_,
    )
    m = data["repDashboard"]["metrics"]
    return {
        "actions": m["interactions"],
        "reply_rate": m["responses"]["replies"]["rate"],
        "escalation_rate": m["escalations"]["rate"]["rate"],
        "hours_saved": m["roi"]["hoursSaved"],
        "prompts_waiting": data["feedbackPrompts"]["totalCount"],
    }


@pytest.mark.parametrize("kind", list(ReportKind))
async def test_every_key_figure_is_the_apis_number_in_every_part(
    demo_state: AppState, demo_api: DemoApi, kind: ReportKind
) -> None:
    report, _ = await rendered(demo_state, demo_api, kind)
    expected = api_figures(demo_api, kind, report)
    assert report.summary["figures"] == expected
    json.dumps(report.summary, allow_nan=False)  # JSON as it is kept on the run
    shown = visible_text(report.html)
    text = flat(report.text)
    slack = json.dumps(report.slack_blocks, ensure_ascii=False)
    for key, value in expected.items():
        if value is None:
            formatted = "n/a"
        elif key in ("roi",):
            formatted = pct(value, 0)
        elif "rate" in key:
            formatted = pct(value)
        elif key in ("cost", "net_value"):
            formatted = f"{value:,.2f}"
        elif key == "hours_saved":
            formatted = number(value, 1)
        else:
            formatted = number(value)
        assert formatted in shown, (key, formatted)
        assert formatted in text, (key, formatted)
        assert formatted in slack, (key, formatted)


async def test_the_managers_report_names_only_their_teams_agents(
    demo_state: AppState, demo_api: DemoApi
) -> None:
    report, _ = await rendered(demo_state, demo_api, ReportKind.MANAGER_DAILY)
    names = demo_api.query("{ agents { id name team { id } } }", as_=EXECUTIVE)["agents"]
    team = gid("Team", report.summary["team_id"])
    mine = {a["name"] for a in names if a["team"]["id"] == team}
    others = {a["name"] for a in names if a["team"]["id"] != team}
    assert mine and others
    shown = visible_text(report.html)
    assert all(name in shown and name in report.text for name in mine)
    assert not any(name in shown or name in report.text for name in others)


async def test_the_reps_digest_names_only_their_agent(
    demo_state: AppState, demo_api: DemoApi
) -> None:
    report, _ = await rendered(demo_state, demo_api, ReportKind.REP_WEEKLY)
    names = demo_api.query("{ agents { id name } }", as_=EXECUTIVE)["agents"]
    own = gid("Agent", report.summary["agent_id"])
    shown = visible_text(report.html)
    for a in names:
        assert (a["name"] in shown) == (a["id"] == own), a["name"]


# -- the HTML ----------------------------------------------------------------------------------

VOID = {"meta", "img", "br", "hr", "input", "link", "area", "base", "col", "source", "wbr"}


class Checked(HTMLParser):
    """Tags as they open and close: a stack that must balance, and what must not be there."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in {"script", "style", "link", "iframe", "object", "embed", "form", "svg"}:
            self.problems.append(f"<{tag}>")
        if any(name.startswith("on") for name in values):
            self.problems.append(f"an event handler on <{tag}>")
        if tag == "img":
            self.images.append(values.get("src") or "")
        if tag == "a":
            self.links.append(values.get("href") or "")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else ''}>")
            return
        self.stack.pop()


@pytest.mark.parametrize("kind", list(ReportKind))
async def test_the_html_is_well_formed_and_self_contained(
    demo_state: AppState, demo_api: DemoApi, kind: ReportKind
) -> None:
    report, _ = await rendered(demo_state, demo_api, kind)
    checked = Checked()
    checked.feed(report.html)
    checked.close()
    assert checked.problems == []
    assert checked.stack == []
    assert report.html.lstrip().startswith("<!DOCTYPE html>")
    # images are the report's own charts, by Content-ID; nothing is loaded from a URL
    assert checked.images == [f"cid:{c.cid}" for c in report.charts]
    assert len({c.cid for c in report.charts}) == len(report.charts) >= 2
    assert "url(" not in report.html and "@import" not in report.html
    # links lead into the dashboard, and the footer's to the unsubscribe link
    assert checked.links and all(link.startswith(LINKS.base_url + "/") for link in checked.links), (
        checked.links
    )
    assert LINKS.unsubscribe_url in checked.links
    assert f"Unsubscribe: {LINKS.unsubscribe_url}" in report.text
    # text is escaped: no raw angle brackets in the plain text's figures leak as markup
    assert "<" not in report.subject
    assert report.text.strip() and "<td" not in report.text


async def test_without_a_subscription_there_is_no_unsubscribe_link(
    demo_state: AppState, demo_api: DemoApi
) -> None:
    report, _ = await rendered(demo_state, demo_api, ReportKind.REP_WEEKLY, Links(LINKS.base_url))
    assert "nsubscribe" not in report.html and "nsubscribe" not in report.text


async def test_links_open_the_right_view(demo_state: AppState, demo_api: DemoApi) -> None:
    report, _ = await rendered(demo_state, demo_api, ReportKind.MANAGER_DAILY)
    team = report.summary["team_id"]
    assert f'href="{LINKS.base_url}/?team={team}"' in report.html
    open_alerts = demo_api.query(
        "{ alerts(first: 100, state: [FIRING, ACKNOWLEDGED]) { edges { node { id "
        "team { id } agent { team { id } } } } } }",
        as_=MANAGER,
    )["alerts"]["edges"]
    from strawberry.relay import GlobalID

    ids = [
        GlobalID.from_id(e["node"]["id"]).node_id
        for e in open_alerts
        if (e["node"]["team"] or {}).get("id") == gid("Team", team)
        or ((e["node"]["agent"] or {}).get("team") or {}).get("id") == gid("Team", team)
    ]
    assert ids
    for alert_id in ids[:5]:
        assert f'href="{LINKS.base_url}/?alert={alert_id}"' in report.html
    for view in ("labels", "prompts"):
        assert f'href="{LINKS.base_url}/?view={view}"' in report.html


async def test_html_with_data_uris_inlines_each_chart(
    demo_state: AppState, demo_api: DemoApi
) -> None:
    report, _ = await rendered(demo_state, demo_api, ReportKind.EXECUTIVE_WEEKLY)
    inlined = html_with_data_uris(report)
    assert "cid:" not in inlined
    checked = Checked()
    checked.feed(inlined)
    pngs = [base64.b64decode(src.removeprefix("data:image/png;base64,")) for src in checked.images]
    assert pngs == [c.png for c in report.charts]


@pytest.mark.parametrize("kind", list(ReportKind))
async def test_reports_render_quickly(
    demo_state: AppState, demo_api: DemoApi, kind: ReportKind
) -> None:
    await rendered(demo_state, demo_api, ReportKind.REP_WEEKLY)  # warm: imports, fonts
    report, seconds = await rendered(demo_state, demo_api, kind)
    # measured about 1 s for the manager's and the executive's, 0.5 s for the rep's; a slow
    # test machine (two workers) gets headroom
    assert seconds < 6, seconds
    assert report.subject and html.unescape(report.subject) == report.subject


# -- Slack -------------------------------------------------------------------------------------


def _texts(value: Any) -> list[tuple[str, str]]:
    """Every (block or element type, text) in a Block Kit structure."""
    found = []
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            found.append((value.get("type", ""), value["text"]))
        for inner in value.values():
            found.extend(_texts(inner))
    elif isinstance(value, list):
        for inner in value:
            found.extend(_texts(inner))
    return found


@pytest.mark.parametrize("kind", list(ReportKind))
async def test_slack_blocks_stay_within_slacks_limits(
    demo_state: AppState, demo_api: DemoApi, kind: ReportKind
) -> None:
    report, _ = await rendered(demo_state, demo_api, kind)
    blocks = report.slack_blocks
    assert 0 < len(blocks) <= SLACK_MAX_BLOCKS
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= 150
    for block in blocks:
        assert block["type"] in {"header", "section", "context", "actions", "divider"}
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= SLACK_MAX_TEXT
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        if block["type"] == "actions":
            assert 0 < len(block["elements"]) <= 25
            for button in block["elements"]:
                assert button["url"].startswith(LINKS.base_url + "/")
                assert len(button["text"]["text"]) <= 75
    assert all(t for _, t in _texts(blocks))
    json.dumps(blocks)


# -- charts ------------------------------------------------------------------------------------


def _points(provisional_from: int) -> list[TrendPoint]:
    start = dt.date(2026, 10, 1)
    return [
        TrendPoint(
            day=start + dt.timedelta(days=i),
            actions=100 + 7 * i,
            escalations=i % 5,
            replies=float(10 + i % 3) if i < provisional_from else 0.0,
            reply_outcomes=80 if i < provisional_from else 0,
            cost=1.5,
            tokens=1000,
            maturing_replies=0 if i < provisional_from else 60,
            provisional=i >= provisional_from,
        )
        for i in range(28)
    ]


def _bins() -> list[ReliabilityBin]:
    out = []
    for k in range(20):
        lo, hi = k / 20, (k + 1) / 20
        n = 0.0 if k < 3 else 40.0
        rate = rate_estimate(min(n, round(n * (lo + 0.02))), n)
        out.append(
            ReliabilityBin(lo, hi, n, (lo + hi) / 2, rate.rate, rate.lower, rate.upper, 0, 1)
        )
    return out


def _rates() -> list[ActionTypeRate]:
    from analytics_engine.roi import compare_rates

    return [
        ActionTypeRate(
            t, "o", 200, 0, 10, rate_estimate(a, 200), compare_rates(a, 200, h, 300), None, None
        )
        for t, a, h in (("email", 30, 30), ("meeting", 140, 200), ("stage_progression", 90, 100))
    ]


def test_charts_are_small_deterministic_pngs() -> None:
    drawn = {
        "trend": lambda p: charts.trend_chart(_points(p), title="Trend"),
        "reliability": lambda p: charts.reliability_chart(
            [charts.ReliabilityPanel(f"type_{i}", "calibrated", _bins()) for i in range(p % 5 + 1)],
            title="Reliability",
        ),
        "agent_vs_human": lambda p: charts.agent_vs_human_chart(
            _rates()[: p % 3 + 1], title="Agent vs human"
        ),
    }
    for name, draw in drawn.items():
        first, again, other = draw(21), draw(21), draw(25)
        assert first.startswith(PNG), name
        assert first == again, f"{name} is not deterministic"
        assert first != other, f"{name} does not depend on its data"
        assert len(first) < MAX_CHART_BYTES, (name, len(first))
        assert b"Software" not in first and b"matplotlib" not in first.lower()


@pytest.mark.parametrize("kind", list(ReportKind))
async def test_each_reports_charts_are_small_pngs(
    demo_state: AppState, demo_api: DemoApi, kind: ReportKind
) -> None:
    report, _ = await rendered(demo_state, demo_api, kind)
    for chart in report.charts:
        assert chart.png.startswith(PNG)
        assert len(chart.png) < MAX_CHART_BYTES, (chart.cid, len(chart.png))
        assert chart.title and chart.alt


def test_the_trend_chart_marks_provisional_days_apart() -> None:
    # the same days, one with its last week provisional: the drawing differs
    assert charts.trend_chart(_points(28), title="t") != charts.trend_chart(_points(21), title="t")


# -- both databases, and a world without activity ----------------------------------------------


async def test_every_kind_renders_on_each_database_even_without_activity(loop: Loop) -> None:
    """The factories' world (no actions at all) on SQLite and PostgreSQL: empty rates are
    n/a, charts still draw, nothing fails."""
    from tests.backend.reports.conftest import person

    world: Any = loop.world
    manager = await person(loop, "manager_a")
    rep = await person(loop, "rep_a1")
    executive = await person(loop, "exec_n")
    team = world.teams["alpha"].id
    cases = [
        (ReportKind.MANAGER_DAILY, manager, {"team_id": team}),
        (ReportKind.EXECUTIVE_WEEKLY, executive, {}),
        (ReportKind.REP_WEEKLY, rep, {}),
    ]
    for kind, who, extra in cases:
        report = await render_report(
            loop.state.reads,
            who,
            kind=kind,
            period=DAY if kind is ReportKind.MANAGER_DAILY else WEEK,
            links=LINKS,
            today=TODAY,
            now=SENT_AT,
            **extra,
        )
        assert report.charts and all(c.png.startswith(PNG) for c in report.charts)
        assert "n/a" in report.html and "n/a" in report.text
        json.dumps(report.summary, allow_nan=False)
