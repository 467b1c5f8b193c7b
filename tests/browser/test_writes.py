"""The writes of the manager's and the executive's views, each checked in the API afterwards:
freeze a policy and roll it back (policies), change an ROI assumption (executive), review a
thread (review queue)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser import api
from tests.browser.harness import Dashboard
from tests.browser.reading import decimal, range_days

# Every browser test runs on one worker: the demo's server (`dashboard`) starts once, and
# Chromium once per module, not on each worker.
pytestmark = pytest.mark.xdist_group("browser")

MANAGER = "manager1@demo.example"
EXECUTIVE = "exec@demo.example"


def test_the_manager_freezes_a_policy_and_rolls_it_back(page: Page, dashboard: Dashboard) -> None:
    agent = dashboard.data(api.VIEWER, as_=MANAGER)["viewer"]["agents"][0]
    variables = {"agent": agent["id"], "type": "follow_up"}
    before = dashboard.data(api.POLICY, variables, as_=MANAGER)["policy"]
    assert not before["frozen"], before
    dashboard.open_as(page, MANAGER, "policies")
    card = page.get_by_role("region", name="Policy for follow up", exact=True)
    card.get_by_label("Reason (required to change)").fill("browser test: hold it still")
    card.get_by_role("button", name="Freeze", exact=True).click()
    expect(card).to_contain_text("frozen: automation leaves it alone")
    expect(card).to_contain_text(f"Version {before['version'] + 1} of")
    frozen = dashboard.data(api.POLICY, variables, as_=MANAGER)["policy"]
    assert frozen["frozen"] and frozen["version"] == before["version"] + 1, frozen

    card.get_by_label("Reason (required to change)").fill("browser test: back to before")
    version = before["version"]
    card.get_by_role("button", name=f"Roll back the follow up policy to version {version}").click()
    expect(card).to_contain_text(f"Version {version + 2} of")
    rolled = dashboard.data(api.POLICY, variables, as_=MANAGER)["policy"]
    assert rolled["version"] == version + 2, rolled
    thresholds = ("escalateBelow", "autonomousAbove")
    assert [rolled[k] for k in thresholds] == [before[k] for k in thresholds], rolled


def band_text(name: str, band: dict[str, Any], move_at: float) -> str:
    """As `bandText` in policies-view.tsx."""
    up, down = band["raiseEValue"] or 1.0, band["lowerEValue"] or 1.0
    way, e = ("raise", up) if up >= down else ("lower", down)
    return (
        f"{name}: {band['outcomes']} outcomes near it since it last moved; the evidence to "
        f"{way} it is {decimal(e, 1)} of the {decimal(move_at, 0)} a move needs"
    )


def test_each_policy_shows_how_close_its_thresholds_are_to_moving(
    page: Page, dashboard: Dashboard
) -> None:
    agent = dashboard.data(api.VIEWER, as_=MANAGER)["viewer"]["agents"][0]
    variables = {"agent": agent["id"], "type": "escalation"}
    evidence = dashboard.data(api.POLICY, variables, as_=MANAGER)["policy"]["evidence"]
    assert evidence is not None and evidence["fedThrough"] is not None, evidence
    dashboard.open_as(page, MANAGER, "policies")
    card = page.get_by_role("region", name="Policy for escalation", exact=True)
    for name in ("escalation", "autonomy"):
        title = f"{name.capitalize()} threshold"
        expect(card).to_contain_text(band_text(title, evidence[name], evidence["moveAt"]))
    expect(card).to_contain_text(f"matured days up to {evidence['fedThrough']}")


def test_the_executive_changes_an_roi_assumption(page: Page, dashboard: Dashboard) -> None:
    def hourly_cost() -> dict[str, object]:
        data = dashboard.data(api.ROI_ASSUMPTIONS, range_days(28), as_=EXECUTIVE)
        [cost] = [
            a
            for a in data["executiveDashboard"]["metrics"]["roi"]["assumptions"]
            if a["name"] == "loaded_hourly_cost" and a["actionType"] is None
        ]
        return cost

    before = hourly_cost()
    dashboard.open_as(page, EXECUTIVE, "executive")
    form = page.get_by_role("form", name="ROI assumptions")
    form.get_by_role("button", name="Edit assumptions").click()
    form.get_by_label("loaded hourly cost: expected").fill("71.5")
    form.get_by_label("Reason (required)").fill("browser test: new payroll figures")
    form.get_by_role("button", name="Save assumptions").click()
    row = form.locator("tbody tr").filter(has=page.locator("th", has_text="loaded hourly cost"))
    expect(row.first.locator("td").nth(2)).to_have_text("71.50")
    expect(row.first).to_contain_text("browser test: new payroll figures")
    after = hourly_cost()
    assert after["expected"] == 71.5 and after["reason"] == "browser test: new payroll figures"
    assert after["version"] != before["version"], (before, after)


def test_the_manager_reviews_a_thread(page: Page, dashboard: Dashboard) -> None:
    me = dashboard.data(api.VIEWER, as_=MANAGER)["viewer"]["user"]["id"]
    done = dashboard.data(api.REVIEWS_DONE, {"reviewer": me}, as_=MANAGER)["reviewQueue"]
    dashboard.open_as(page, MANAGER, "reviews")
    queue = page.locator("#main table").filter(has=page.locator("caption", has_text="Review"))
    give = page.get_by_role("button", name="Give me threads to review")
    expect(give).to_be_enabled()
    if not queue.count():
        give.click()
    first = queue.locator("tbody tr").first.get_by_role("link")
    expect(first).to_be_visible()
    first.click()
    expect(page).to_have_url(re.compile(r"[?&]thread="))
    form = page.get_by_role("form", name="Review this thread")
    form.get_by_role("radio").nth(3).check()  # overall 4
    form.get_by_role("button", name="Submit review").click()
    expect(page.get_by_text("Review saved.")).to_be_visible()
    after = dashboard.data(api.REVIEWS_DONE, {"reviewer": me}, as_=MANAGER)["reviewQueue"]
    assert after["totalCount"] == done["totalCount"] + 1, (done, after)
