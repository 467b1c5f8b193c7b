"""Signing in: `/` sends each role to its own view, says who is signed in (the name the API
gives), and takes the token out of the address."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.api import VIEWER
from tests.browser.harness import Dashboard


def heading_of(view: str, viewer: dict[str, Any]) -> str:
    """What the landing view's heading names: the rep's agent, the manager's team."""
    if view == "rep":
        return f"My agent: {viewer['agents'][0]['name']}"
    if view == "manager":
        return f"Team {viewer['user']['team']['name']}"
    return "Organisation"


@pytest.mark.parametrize(
    ("person", "view"),
    [
        ("rep1@demo.example", "rep"),
        ("manager1@demo.example", "manager"),
        ("exec@demo.example", "executive"),
        ("admin@demo.example", "executive"),
    ],
)
def test_each_role_lands_on_its_own_view(
    page: Page, dashboard: Dashboard, person: str, view: str
) -> None:
    viewer = dashboard.data(VIEWER, as_=person)["viewer"]
    dashboard.open_as(page, person)
    expect(page).to_have_url(re.compile(rf"/\?view={view}$"))  # no token left in it
    expect(page.locator("#view-title")).to_have_text(heading_of(view, viewer))
    role = viewer["role"].lower()
    expect(page.locator(".who")).to_have_text(
        f"Signed in as {viewer['user']['name']} ({role}), {viewer['organization']['name']}"
    )


def test_without_credentials_the_page_says_how_to_sign_in(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url())
    expect(page.get_by_role("alert")).to_contain_text("You are not signed in")
    expect(page.get_by_role("link", name=re.compile("demo logins"))).to_be_visible()
