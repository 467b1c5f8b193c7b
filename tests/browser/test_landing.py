"""Signing in as a person does: the e-mail link end to end (the form, the mail, the link's page,
its button), then the session cookie, which no script sees, until signing out ends it for the
API too; the development sign-in page's one-click buttons send each role to its own view; a
bearer token handed in the address (`#token=`) still opens the dashboard, without a session."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.api import VIEWER
from tests.browser.harness import SESSION_COOKIE, Dashboard, Mailbox, sign_in_link

# Every browser test runs on one worker: the demo's server (`dashboard`) starts once, and
# Chromium once per module, not on each worker.
pytestmark = pytest.mark.xdist_group("browser")


def heading_of(view: str, viewer: dict[str, Any]) -> str:
    """What the landing view's heading names: the rep's agent, the manager's team."""
    if view == "rep":
        return f"My agent: {viewer['agents'][0]['name']}"
    if view == "manager":
        return f"Team {viewer['user']['team']['name']}"
    return "Organisation"


def expect_landed(page: Page, dashboard: Dashboard, person: str, view: str) -> None:
    """On ``person``'s own view, saying who is signed in (the name the API gives)."""
    viewer = dashboard.data(VIEWER, as_=person)["viewer"]
    expect(page).to_have_url(re.compile(rf"/\?view={view}$"))  # no credential in it
    expect(page.locator("#view-title")).to_have_text(heading_of(view, viewer))
    role = viewer["role"].lower()
    expect(page.locator(".who")).to_have_text(
        f"Signed in as {viewer['user']['name']} ({role}), {viewer['organization']['name']}"
    )


@pytest.mark.parametrize(
    ("person", "view"),
    [
        ("rep1@demo.example", "rep"),
        ("manager1@demo.example", "manager"),
        ("exec@demo.example", "executive"),
        ("admin@demo.example", "executive"),
    ],
)
def test_each_role_signs_in_and_lands_on_its_own_view(
    page: Page, dashboard: Dashboard, person: str, view: str
) -> None:
    dashboard.open_as(page, person)  # the sign-in page, the person's button
    expect_landed(page, dashboard, person, view)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_signing_in_by_the_emailed_link(page: Page, dashboard: Dashboard, mailbox: Mailbox) -> None:
    person = "manager2@demo.example"
    received = len(mailbox.messages)
    page.goto(f"{dashboard.base_url}/auth/sign-in")
    page.get_by_label("E-mail address").fill(person)
    page.get_by_role("button", name="E-mail me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    assert not dashboard.signed_in(page)

    mail = mailbox.wait_for(person, after=received)
    assert mail["Subject"] == "Your sign-in link", mail["Subject"]
    link = sign_in_link(mail)
    assert link.startswith(f"{dashboard.base_url}/auth/link?token="), link
    page.goto(link)  # opening the link uses nothing: its page asks first
    assert not dashboard.signed_in(page)
    page.get_by_role("button", name="Sign in").click()
    expect_landed(page, dashboard, person, "manager")

    [cookie] = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax", cookie
    assert SESSION_COOKIE not in page.evaluate("document.cookie")
    session = page.request.get(f"{dashboard.base_url}/auth/session").json()
    assert session["signedIn"] and session["user"]["email"] == person, session

    page.goto(link)  # a link works once
    expect(page.get_by_role("heading", name="This link cannot be used")).to_be_visible()

    page.go_back()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{dashboard.base_url}/auth/sign-in")
    assert not dashboard.signed_in(page)
    # the old cookie, sent again as it was, opens nothing any more
    sent = {"Cookie": f"{SESSION_COOKIE}={cookie['value']}", "Origin": dashboard.base_url}
    refused = dashboard.http.get("/auth/session", headers=sent)
    assert refused.status_code == 401, refused.text
    answer = dashboard.http.post("/graphql", json={"query": "{ viewer { role } }"}, headers=sent)
    assert answer.status_code == 401 or answer.json().get("errors"), answer.text
    assert answer.status_code == 401 or not (answer.json().get("data") or {}).get("viewer")


def test_a_token_in_the_address_opens_the_view_without_a_session(
    page: Page, dashboard: Dashboard
) -> None:
    """How an API client's bearer token is handed to the dashboard (`/#token=<token>`, as the
    service view says): taken out of the address at once, kept in memory, no cookie."""
    person = "exec@demo.example"
    dashboard.open_with_token(page, person)
    expect_landed(page, dashboard, person, "executive")
    assert not dashboard.signed_in(page)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_without_credentials_the_page_says_how_to_sign_in(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url())
    expect(page.get_by_role("alert")).to_contain_text("You are not signed in")
    expect(page.get_by_role("link", name=re.compile("demo logins"))).to_be_visible()


def test_graphiql_runs_offline_under_the_content_security_policy(
    page: Page, dashboard: Dashboard
) -> None:
    """The IDE's editor draws, loading only this origin's files, and the browser reports no
    violation of the policy every answer carries (backend/http_headers.py)."""
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{dashboard.base_url}/graphql", wait_until="networkidle")
    expect(page.locator(".graphiql-container")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Execute query", re.I))).to_be_visible()
    assert violations == []
