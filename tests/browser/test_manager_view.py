"""The manager's view, as manager1: the team's key figures, trend and agents side by side drawn
with the numbers the API gives manager1 for the same team and days; the range moves the URL and
the numbers; a click on an agent's dot drills down into that agent; an alert raised while the
page is open appears live and is acknowledged from the page; a long thread of the review queue
reads 50 messages at a time; the prompts and the label queue are the team's (or, drilled into
an agent, the agent's), as the API gives them for that team or agent."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import re
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from backend.crm.models import Conversation, Message, MessageDirection
from backend.database import create_engine, create_sessionmaker
from backend.unit_of_work import transaction
from tests.browser import api
from tests.browser.harness import Dashboard, off_the_page_loop
from tests.browser.reading import (
    chart,
    dots,
    integer,
    key_figure,
    range_days,
    rate_shown,
)
from tests.browser.test_rep_view import expect_agent_drawn, expect_trend_drawn, rep_dashboard

# Every browser test runs on one worker: the demo's server (`dashboard`) starts once, and
# Chromium once per module, not on each worker.
pytestmark = pytest.mark.xdist_group("browser")

MANAGER = "manager1@demo.example"


def team_dashboard(dashboard: Dashboard, days: int) -> dict[str, Any]:
    team = dashboard.data(api.VIEWER, as_=MANAGER)["viewer"]["user"]["team"]["id"]
    variables = {"team": team, **range_days(days)}
    return dashboard.data(api.TEAM_DASHBOARD, variables, as_=MANAGER)["teamDashboard"]


def expect_team_drawn(page: Page, d: dict[str, Any]) -> None:
    name = d["team"]["name"]
    expect(page.locator("#view-title")).to_have_text(f"Team {name}")
    expect(page.locator(".subtitle").first).to_contain_text(f"{d['from']} to {d['to']}")
    caption = f"Key figures of team {name}"
    expect(key_figure(page, caption, "Actions")).to_have_text(integer(d["metrics"]["interactions"]))
    replies = rate_shown(d["metrics"]["responses"]["replies"])
    expect(key_figure(page, caption, "Response rate")).to_have_text(replies)
    expect_trend_drawn(page, "Team reply rate by day", d["daily"])
    rated = [a for a in d["agents"] if a["metrics"]["responses"]["replies"]["rate"] is not None]
    expect(dots(chart(page, "Agents side by side"))).to_have_count(len(rated))
    table = page.locator("table").filter(has_text="Agents of the team (table)")
    for agent in d["agents"]:
        row = table.locator("tbody tr").filter(has_text=agent["agent"]["name"])
        expect(row.locator("td").nth(0)).to_have_text(integer(agent["metrics"]["interactions"]))
        expect(row.locator("td").nth(1)).to_have_text(
            rate_shown(agent["metrics"]["responses"]["replies"])
        )


def test_the_manager_sees_their_team_as_the_api_gives_it(page: Page, dashboard: Dashboard) -> None:
    d = team_dashboard(dashboard, 28)
    assert len(d["agents"]) >= 2, "the demo's teams have several agents"
    dashboard.open_as(page, MANAGER, "manager")
    expect_team_drawn(page, d)


def test_changing_the_range_moves_the_url_and_the_numbers(page: Page, dashboard: Dashboard) -> None:
    dashboard.open_as(page, MANAGER, "manager")
    chart(page, "Agents side by side")
    page.get_by_label("Range").select_option("90d")
    expect(page).to_have_url(re.compile(r"[?&]range=90d(&|$)"))
    expect_team_drawn(page, team_dashboard(dashboard, 90))


def test_a_click_on_an_agent_drills_down_into_it(page: Page, dashboard: Dashboard) -> None:
    d = team_dashboard(dashboard, 28)
    rated = [a for a in d["agents"] if a["metrics"]["responses"]["replies"]["rate"] is not None]
    dashboard.open_as(page, MANAGER, "manager")
    figure = chart(page, "Agents side by side")
    # Plot draws the dots in the data's order; the last one, so the drill is not the default
    target = rated[-1]["agent"]
    dot = dots(figure).nth(len(rated) - 1)
    dot.scroll_into_view_if_needed()
    box = dot.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page).to_have_url(re.compile(r"[?&]view=rep(&|$)"))
    agent_param = re.escape(target["id"]).replace("=", "(=|%3D)")
    expect(page).to_have_url(re.compile(rf"[?&]agent={agent_param}(&|$)"))
    expect_agent_drawn(page, rep_dashboard(dashboard, 28, as_=MANAGER, agent=target["id"]))


def test_an_alert_raised_while_the_page_is_open_appears_and_is_acknowledged(
    page: Page, dashboard: Dashboard
) -> None:
    viewer = dashboard.data(api.VIEWER, as_=MANAGER)["viewer"]
    team = viewer["user"]["team"]["id"]
    agent = viewer["agents"][0]
    rule = dashboard.data(
        api.UPSERT_ALERT_RULE,
        {
            "input": {
                "name": "Browser test: e-mail policy changes",
                "kind": "POLICY",
                "metric": "policy_change",
                "actionType": "email",
                "scope": "TEAM",
                "teamId": team,
            }
        },
        as_=MANAGER,
    )["upsertAlertRule"]
    assert rule["errors"] == [], rule
    before = {e["node"]["id"] for e in open_alerts(dashboard, team)}
    dashboard.open_as(page, MANAGER, "manager")
    alerts = page.locator("#alerts")
    expect(alerts.locator("ul.alerts, .status-empty").first).to_be_visible()
    expect(page.get_by_text("Live updates: on")).to_be_visible()

    # the page is open and listening: a person freezes one of the team's e-mail policies
    frozen = dashboard.data(
        api.FREEZE_POLICY,
        {
            "input": {
                "agentId": agent["id"],
                "actionType": "email",
                "frozen": True,
                "reason": "browser test",
            }
        },
        as_=MANAGER,
    )["freezePolicy"]
    assert frozen["errors"] == [], frozen
    raised = wait_for_new_alert(dashboard, team, before)

    item = alerts.locator("li.alert").filter(has_text=raised["message"])
    expect(item).to_be_visible()
    expect(item.locator(".badge", has_text="firing")).to_be_visible()
    item.get_by_role("button", name=f"Acknowledge: {raised['message']}").click()
    expect(item.locator(".badge", has_text="acknowledged")).to_be_visible()
    alert = dashboard.data(api.ALERT, {"id": raised["id"]}, as_=MANAGER)["node"]
    assert alert["state"] == "ACKNOWLEDGED", alert
    assert alert["acknowledgedBy"]["name"] == viewer["user"]["name"], alert


def open_alerts(dashboard: Dashboard, team: str) -> list[dict[str, Any]]:
    return dashboard.data(api.OPEN_ALERTS, {"team": team}, as_=MANAGER)["alerts"]["edges"]


def wait_for_new_alert(dashboard: Dashboard, team: str, before: set[str]) -> dict[str, Any]:
    """The alert the server raises after the freeze's commit (bounded wait)."""
    deadline = time.monotonic() + 10
    while True:
        new = [e["node"] for e in open_alerts(dashboard, team) if e["node"]["id"] not in before]
        if new:
            [alert] = new
            return alert
        assert time.monotonic() < deadline, "no alert raised by the policy freeze"
        time.sleep(0.1)


ASSIGN_ME = """mutation($reviewer: ID!) { assignThreadReviews(input: { reviewerId: $reviewer,
  limit: 1 }) { assignments { thread { id } } errors { field message } } }"""
QUEUE = "{ reviewQueue(first: 1) { edges { node { thread { id messageCount } } } } }"
THREAD_PAGE = """query($id: ID!, $after: String) { node(id: $id) { ... on Thread {
  messagesConnection(first: 50, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    edges { node { subject } } } } } }"""


def lengthen_thread(database_url: str, thread_id: str, count: int) -> None:
    """``count`` more of the contact's messages at the end of the thread (a long exchange)."""
    conversation_id = int(base64.b64decode(thread_id).decode().split(":")[1])

    async def add() -> None:
        engine = create_engine(database_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                thread = await session.get_one(Conversation, conversation_id)
                last = await session.scalar(
                    select(func.max(Message.sent_at)).where(
                        Message.conversation_id == conversation_id
                    )
                )
                start = last or thread.created_at
                session.add_all(
                    Message(
                        organization_id=thread.organization_id,
                        agent_id=thread.agent_id,
                        conversation_id=conversation_id,
                        direction=MessageDirection.INBOUND.value,
                        external_message_id=f"<browser-long-{conversation_id}-{i}@mail>",
                        subject=f"Long exchange, part {i + 1}",
                        body_preview="And one more thing",
                        sent_at=start + dt.timedelta(minutes=i + 1),
                    )
                    for i in range(count)
                )
        finally:
            await engine.dispose()

    off_the_page_loop(lambda: asyncio.run(add()))


def test_a_long_thread_reads_fifty_messages_at_a_time(
    page: Page, dashboard: Dashboard, demo_database_url: str
) -> None:
    me = dashboard.data(api.VIEWER, as_=MANAGER)["viewer"]["user"]["id"]
    edges = dashboard.data(QUEUE, as_=MANAGER)["reviewQueue"]["edges"]
    if not edges:
        given = dashboard.data(ASSIGN_ME, {"reviewer": me}, as_=MANAGER)["assignThreadReviews"]
        assert given["errors"] == [] and given["assignments"], given
        edges = dashboard.data(QUEUE, as_=MANAGER)["reviewQueue"]["edges"]
    thread = edges[0]["node"]["thread"]
    lengthen_thread(demo_database_url, thread["id"], 60)
    first = dashboard.data(THREAD_PAGE, {"id": thread["id"]}, as_=MANAGER)["node"]
    total = first["messagesConnection"]["totalCount"]
    assert total == thread["messageCount"] + 60 > 50, (thread, total)
    cursor = first["messagesConnection"]["pageInfo"]["endCursor"]
    second = dashboard.data(THREAD_PAGE, {"id": thread["id"], "after": cursor}, as_=MANAGER)

    dashboard.open_as(page, MANAGER, "reviews", thread=thread["id"])
    messages = page.get_by_role("list", name="Messages, oldest first").locator("li.message")
    expect(messages).to_have_count(50)
    expect(page.get_by_text(f"The first 50 of {total} messages.")).to_be_visible()
    subjects = [
        e["node"]["subject"] or "(no subject)" for e in first["messagesConnection"]["edges"]
    ]
    expect(messages.last.locator("strong")).to_have_text(subjects[-1])
    more = page.get_by_role("button", name=re.compile(r"^Show more messages"))
    expect(more).to_have_text(
        f"Show more messages ({min(50, total - 50)} of the {total - 50} after these)"
    )
    more.click()
    shown = min(100, total)
    expect(messages).to_have_count(shown)
    later = [e["node"]["subject"] for e in second["node"]["messagesConnection"]["edges"]]
    expect(messages.nth(50).locator("strong")).to_have_text(later[0])
    expect(messages.nth(shown - 1).locator("strong")).to_have_text(later[-1])
    if total <= 100:  # the whole thread is shown: nothing more to read
        expect(more).to_have_count(0)
        expect(messages.last.locator("strong")).to_have_text("Long exchange, part 60")


EXECUTIVE = "exec@demo.example"


def expect_queue_and_prompts(page: Page, dashboard: Dashboard, who: str, **scope: str) -> None:
    """The page's label queue and open prompts count what the API gives for the same scope."""
    name = scope.pop("name")
    queue = dashboard.data(api.SCOPED_LABEL_QUEUE, scope, as_=who)["labelQueue"]
    prompts = dashboard.data(api.SCOPED_PROMPTS, scope, as_=who)["feedbackPrompts"]
    labels = page.locator("#labels")
    if queue["totalCount"]:
        expect(labels.locator("caption")).to_contain_text(
            f"{integer(queue['totalCount'])} in all for {name} (the first "
            f"{len(queue['edges'])} shown)"
        )
        expect(labels.locator("tbody tr")).to_have_count(len(queue["edges"]))
    else:
        expect(labels).to_contain_text(f"Nothing of {name} waits for your label.")
    section = page.locator("#prompts")
    if prompts["totalCount"]:
        expect(section.locator(".subtitle")).to_have_text(
            f"{integer(prompts['totalCount'])} open about {name}, the next to expire first."
        )
    else:
        expect(section).to_contain_text(f"No open prompts about {name}")


def test_prompts_and_label_queue_follow_the_team_and_agent_of_the_url(
    page: Page, dashboard: Dashboard
) -> None:
    agents = dashboard.data(api.TEAMS, as_=EXECUTIVE)["viewer"]["agents"]
    teams = {a["team"]["id"]: a["team"]["name"] for a in agents if a["team"]}
    everything = dashboard.data(api.SCOPED_LABEL_QUEUE, {}, as_=EXECUTIVE)["labelQueue"]
    counts = {
        team: dashboard.data(api.SCOPED_LABEL_QUEUE, {"team": team}, as_=EXECUTIVE)["labelQueue"][
            "totalCount"
        ]
        for team in teams
    }
    # The demo has several teams with outcomes to label: one team's queue is not everybody's.
    assert len(teams) >= 2 and 0 < max(counts.values()) < everything["totalCount"], counts
    team = max(counts, key=lambda t: counts[t])
    dashboard.open_as(page, EXECUTIVE, "manager", team=team)
    expect(page.locator("#view-title")).to_have_text(f"Team {teams[team]}")
    expect_queue_and_prompts(page, dashboard, EXECUTIVE, team=team, name=f"team {teams[team]}")

    # Drilled into an agent of the team: that agent's prompts and queue only.
    agent = next(a for a in agents if a["team"] and a["team"]["id"] == team)
    page.goto(dashboard.url("rep", agent=agent["id"]))
    expect(page.locator("#labels-title")).to_have_text("The agent's label queue")
    expect_queue_and_prompts(
        page, dashboard, EXECUTIVE, agent=agent["id"], name=f"agent {agent['name']}"
    )
