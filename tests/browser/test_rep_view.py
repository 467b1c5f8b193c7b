"""The rep's view, as rep1: their agent's key figures and daily response-rate trend drawn with
the numbers the API gives rep1 for the same agent and days; the range in the filter bar moves
the URL and the numbers; a label given and a prompt answered in place reach the API."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import api
from tests.browser.harness import Dashboard
from tests.browser.reading import (
    chart,
    dots,
    integer,
    key_figure,
    percent,
    range_days,
    rate_shown,
    rules,
    tip_under,
)

# Every browser test runs on one worker: the demo's server (`dashboard`) starts once, and
# Chromium once per module, not on each worker.
pytestmark = pytest.mark.xdist_group("browser")

REP = "rep1@demo.example"


def rep_dashboard(dashboard: Dashboard, days: int, *, as_: str = REP, agent: str | None = None):
    """``repDashboard`` as ``as_`` for the last ``days`` days (of their first agent by default)."""
    if agent is None:
        agent = dashboard.data(api.VIEWER, as_=as_)["viewer"]["agents"][0]["id"]
    variables = {"agent": agent, **range_days(days)}
    return dashboard.data(api.REP_DASHBOARD, variables, as_=as_)["repDashboard"]


def expect_agent_drawn(page: Page, d: dict[str, Any]) -> None:
    """The heading names the API's agent, the subtitle its days, the key figures its numbers;
    the trend has one dot per day with a rate, the first and last tooltips the API's rates."""
    expect(page.locator("#view-title")).to_contain_text(d["agent"]["name"])
    expect(page.locator(".subtitle").first).to_contain_text(f"{d['from']} to {d['to']}")
    caption = f"Key figures of {d['agent']['name']}"
    expect(key_figure(page, caption, "Actions")).to_have_text(integer(d["metrics"]["interactions"]))
    replies = rate_shown(d["metrics"]["responses"]["replies"])
    expect(key_figure(page, caption, "Response rate")).to_have_text(replies)
    expect_trend_drawn(page, "rate by day", d["daily"])


def expect_trend_drawn(page: Page, title: str, points: list[dict[str, Any]]) -> None:
    """One dot per period with a rate, a dashed rule per provisional period without one; the
    first and last dots' tooltips read the API's days and rates."""
    figure = chart(page, title)
    rated = [p for p in points if p["replyRate"] is not None]
    waiting = [p for p in points if p["provisional"] and p["replyRate"] is None]
    expect(dots(figure)).to_have_count(len(rated))
    expect(rules(figure)).to_have_count(len(waiting))
    for index in sorted({0, len(rated) - 1} if rated else set()):
        point = rated[index]
        tip = tip_under(page, dots(figure).nth(index))
        assert tip.startswith(f"{point['day']}: {percent(point['replyRate'])}"), tip


def test_the_rep_sees_their_agent_as_the_api_gives_it(page: Page, dashboard: Dashboard) -> None:
    d = rep_dashboard(dashboard, 28)
    assert len(d["daily"]) == 28 and d["daily"][0]["day"] == d["from"]
    assert sum(p["replyRate"] is not None for p in d["daily"]) >= 14, "a rate most days"
    dashboard.open_as(page, REP, "rep")
    expect_agent_drawn(page, d)


def test_changing_the_range_moves_the_url_and_the_numbers(page: Page, dashboard: Dashboard) -> None:
    dashboard.open_as(page, REP, "rep")
    chart(page, "rate by day")
    page.get_by_label("Range").select_option("7d")
    expect(page).to_have_url(re.compile(r"[?&]range=7d(&|$)"))
    expect_agent_drawn(page, rep_dashboard(dashboard, 7))
    page.get_by_label("Range").select_option("90d")
    expect(page).to_have_url(re.compile(r"[?&]range=90d(&|$)"))
    expect_agent_drawn(page, rep_dashboard(dashboard, 90))
    page.go_back()  # the range lives in the URL: back is the 7 days again
    expect(page).to_have_url(re.compile(r"[?&]range=7d(&|$)"))
    expect_agent_drawn(page, rep_dashboard(dashboard, 7))


def test_the_rep_labels_an_outcome(page: Page, dashboard: Dashboard) -> None:
    queue = dashboard.data(api.LABEL_QUEUE, as_=REP)["labelQueue"]
    assert queue["totalCount"] > 0, "the demo leaves outcomes for rep1 to label"
    dashboard.open_as(page, REP, "rep")
    section = page.locator("#labels")
    expect(section.locator("caption")).to_contain_text(f"{integer(queue['totalCount'])} in all")
    first = section.locator("tbody tr").first
    group = first.get_by_role("group", name=re.compile("^Label the "))
    level = group.get_by_role("button").first
    chosen = level.inner_text().strip()
    level.click()
    expect(first.get_by_role("status")).to_have_text(f"Labelled {chosen}")
    [labelled] = [e["node"] for e in queue["edges"] if e["node"]["scaleLevels"]][:1]
    outcome = dashboard.data(api.OUTCOME, {"id": labelled["id"]}, as_=REP)["node"]
    assert outcome["levelLabel"] is not None and outcome["levelLabel"].replace("_", " ") == chosen
    after = dashboard.data(api.LABEL_QUEUE, as_=REP)["labelQueue"]
    assert after["totalCount"] == queue["totalCount"] - 1


def test_the_rep_answers_a_prompt(page: Page, dashboard: Dashboard) -> None:
    viewer = dashboard.data(api.VIEWER, as_=REP)["viewer"]
    prompts = dashboard.data(api.OPEN_PROMPTS, as_=REP)["feedbackPrompts"]
    mine = [
        e["node"] for e in prompts["edges"] if e["node"]["assignee"]["id"] == viewer["user"]["id"]
    ]
    assert mine, "the demo leaves rep1 an open prompt"
    dashboard.open_as(page, REP, "rep")
    section = page.locator("#prompts")
    expect(section.locator(".subtitle")).to_have_text(
        f"{integer(prompts['totalCount'])} open, the next to expire first."
    )
    form = section.get_by_role("form").first
    form.get_by_label("4", exact=True).check()
    form.get_by_role("button", name="Send answer").click()
    expect(section.get_by_text("Answered: 4 of 5.")).to_be_visible()
    answered = dashboard.data(api.PROMPT, {"id": mine[0]["id"]}, as_=REP)["node"]
    assert answered["state"] == "ANSWERED", answered
