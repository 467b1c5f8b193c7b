"""Signing in over HTTP, through the real app and a real SMTP server: the link comes by mail, a
GET only shows a button, the POST sets the session cookie (HttpOnly, SameSite=Lax, Secure outside
development); the cookie works for /graphql and the WebSocket and stops at sign-out; cookie
POSTs from another origin or not JSON are refused and change nothing; no account enumeration;
the development one-click sign-in exists in development only."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select
from starlette.websockets import WebSocketDisconnect
from strawberry.relay import GlobalID

import graphql_schema.live.access as access
from backend.auth.models import SignInLink, UserSession
from backend.auth.sign_in import LINK_TTL, LINKS_PER_ADDRESS, RATE_WINDOW
from backend.feedback.models import Feedback
from graphql_schema.live.hub import LiveHub
from tests.backend.auth.conftest import Site, SiteFactory, session_cookie
from tests.factories import TestClock
from tests.graphql_schema.test_subscriptions import PROTOCOL, Live, needs_label

VIEWER = "{ viewer { role user { email } organization { slug } } }"
NEEDS_LABEL = "subscription { outcomeNeedsLabel { actionId } }"
SUBMIT = """mutation($input: SubmitFeedbackInput!) {
  submitFeedback(input: $input) { created errors { code message } } }"""


def gid(type_name: str, row_id: int) -> str:
    return str(GlobalID(type_name, str(row_id)))


def count(site: Site, model: type) -> int:
    async def read() -> int:
        async with site.client.app.state.app.sessions() as session:
            return await session.scalar(select(func.count()).select_from(model))

    return site.client.portal.call(read)


def viewer_of(site: Site, cookie: str) -> dict | None:
    response = site.graphql(VIEWER, cookie=cookie)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def feedback_input(site: Site, rating: int) -> dict:
    action = site.world.actions["rep_a1"][0].id
    return {"input": {"actionId": gid("Action", action), "rating": rating, "channel": "DASHBOARD"}}


# -- the link, by mail --------------------------------------------------------------------------


def test_a_mailed_link_signs_in_once_with_a_safe_cookie(site: Site) -> None:
    address = "rep_a1@north.example"
    asked = site.form("/auth/sign-in", {"email": "  Rep_A1@North.Example "})
    assert asked.status_code == 200 and "Check your inbox" in asked.text
    assert asked.headers["cache-control"] == "no-store"
    assert "set-cookie" not in asked.headers
    [mail] = site.mails_to(address)
    assert mail.message["Subject"] == "Your sign-in link"
    assert mail.message["From"] == "Sales Agent <signin@sal.example>"
    link = site.link_in(mail)

    shown = site.request("GET", link, origin=None)  # what a mail scanner fetches, too
    assert shown.status_code == 200 and "<form method='post' action='/auth/link'>" in shown.text
    assert "set-cookie" not in shown.headers
    assert site.request("GET", link, origin=None).status_code == 200  # a GET uses nothing

    token = link.split("token=", 1)[1]
    redeemed = site.form("/auth/link", {"token": token}, headers={"User-Agent": "Firefox/140"})
    assert redeemed.status_code == 303 and redeemed.headers["location"] == "/"
    [header] = redeemed.headers.get_list("set-cookie")
    cookie = session_cookie(redeemed)["sal_session"]
    assert cookie.value.startswith("sals_")
    assert cookie["httponly"] and cookie["secure"]  # Secure: this is not development
    assert cookie["samesite"].lower() == "lax" and cookie["path"] == "/"
    assert int(cookie["max-age"]) == 14 * 24 * 3600
    assert "Domain" not in header

    assert viewer_of(site, cookie.value) == {
        "viewer": {
            "role": "REP",
            "user": {"email": address},
            "organization": {"slug": "north"},
        }
    }
    rep = site.world.users["rep_a1"]
    answer = site.request("GET", "/auth/session", cookie=cookie.value, origin=None)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    assert answer.json() == {
        "signedIn": True,
        "user": {"id": gid("User", rep.id), "email": address, "name": "rep_a1"},
        "role": "rep",
        "organization": {
            "id": gid("Organization", rep.organization_id),
            "slug": "north",
            "name": "North",
        },
        "teamIds": [gid("Team", site.world.teams["alpha"].id)],
        "agentIds": [gid("Agent", site.world.agents["rep_a1"].id)],
        "expiresAt": answer.json()["expiresAt"],
        "signOut": "/auth/sign-out",
    }
    expires = dt.datetime.fromisoformat(answer.json()["expiresAt"])
    assert dt.timedelta(days=14) <= expires - site.now() + dt.timedelta(seconds=5)

    # Once only: the link is used up, by a browser or anyone else.
    again = site.form("/auth/link", {"token": token})
    assert again.status_code == 400 and "set-cookie" not in again.headers
    assert site.request("GET", link, origin=None).status_code == 400
    assert count(site, UserSession) == 1


def test_an_expired_link_is_refused(site: Site) -> None:
    site.form("/auth/sign-in", {"email": "manager_a@north.example"})
    link = site.link_in(site.mails_to("manager_a@north.example")[-1])
    site.clock.advance(LINK_TTL + dt.timedelta(seconds=1))
    assert site.request("GET", link, origin=None).status_code == 400
    refused = site.form("/auth/link", {"token": link.split("token=", 1)[1]})
    assert refused.status_code == 400 and "expired or was already used" in refused.text
    assert "set-cookie" not in refused.headers
    assert count(site, UserSession) == 0


def test_the_answer_is_the_same_for_any_address(site: Site) -> None:
    """No account enumeration: the same page for a person, a stranger and an inactive person,
    and mail for the person only."""

    def page(address: str) -> tuple[int, str]:
        response = site.form("/auth/sign-in", {"email": address})
        return response.status_code, response.text.replace(address, "ADDRESS")

    known = page("rep_b1@north.example")
    assert page("nobody@north.example") == known
    assert page("nobody@elsewhere.example") == known
    assert [m.recipients for m in site.smtp.sink.messages] == [["rep_b1@north.example"]]
    assert count(site, SignInLink) == 1


def test_links_are_rate_limited_per_address(site: Site) -> None:
    address = "rep_a2@north.example"
    pages = {site.form("/auth/sign-in", {"email": address}).text for _ in range(8)}
    assert len(pages) == 1  # the answer never changes
    assert len(site.mails_to(address)) == LINKS_PER_ADDRESS
    site.clock.advance(RATE_WINDOW)
    site.form("/auth/sign-in", {"email": address})
    assert len(site.mails_to(address)) == LINKS_PER_ADDRESS + 1


def test_a_malformed_address_is_asked_again(site: Site) -> None:
    response = site.form("/auth/sign-in", {"email": "not an address"})
    assert response.status_code == 400 and "Enter an e-mail address." in response.text
    assert site.smtp.sink.messages == []


# -- sign-out -----------------------------------------------------------------------------------


def test_sign_out_revokes_the_session(site: Site) -> None:
    cookie = site.sign_in("manager_a@north.example")
    other = site.sign_in("manager_a@north.example")  # another browser of the same person
    assert viewer_of(site, cookie)["viewer"]["role"] == "MANAGER"

    out = site.request("POST", "/auth/sign-out", cookie=cookie)
    assert out.status_code == 303 and out.headers["location"] == "/auth/sign-in"
    cleared = session_cookie(out)["sal_session"]
    assert cleared.value == "" and int(cleared["max-age"]) == 0
    assert viewer_of(site, cookie) is None
    refused = site.graphql(VIEWER, cookie=cookie).json()
    assert refused["errors"][0]["extensions"]["code"] == "unauthenticated"
    assert "signed out, or the session expired" in refused["errors"][0]["message"]
    assert site.request("GET", "/auth/session", cookie=cookie, origin=None).status_code == 401
    assert viewer_of(site, other)["viewer"]["role"] == "MANAGER"  # the other browser stays


def test_sign_out_from_another_site_is_refused(site: Site) -> None:
    cookie = site.sign_in("manager_a@north.example")
    refused = site.request("POST", "/auth/sign-out", cookie=cookie, origin="https://evil.example")
    assert refused.status_code == 403 and "set-cookie" not in refused.headers
    assert viewer_of(site, cookie)["viewer"]["role"] == "MANAGER"


def test_the_session_endpoint_without_a_session_is_401(site: Site) -> None:
    for cookie in (None, "", "sals_nothing", "garbage"):
        response = site.request("GET", "/auth/session", cookie=cookie, origin=None)
        assert response.status_code == 401
        assert response.json() == {"signedIn": False, "signIn": "/auth/sign-in"}


# -- CSRF ---------------------------------------------------------------------------------------


def test_cookie_posts_to_graphql_must_be_json_from_our_origin(site: Site) -> None:
    cookie = site.sign_in("rep_a1@north.example")
    body = json.dumps({"query": SUBMIT, "variables": feedback_input(site, 5)})
    refused = [
        site.graphql(SUBMIT, feedback_input(site, 5), cookie=cookie, origin="https://evil.example"),
        site.graphql(SUBMIT, feedback_input(site, 5), cookie=cookie, origin="null"),
        site.graphql(SUBMIT, feedback_input(site, 5), cookie=cookie, origin=None),  # no Origin
        site.graphql(
            SUBMIT,
            feedback_input(site, 5),
            cookie=cookie,
            origin=None,
            headers={"Referer": "https://evil.example/page"},
        ),
        # What a form of another site can send without a preflight, even naming our origin.
        site.request(
            "POST",
            "/graphql",
            cookie=cookie,
            content=body,
            headers={"Content-Type": "text/plain"},
        ),
        site.request(
            "POST",
            "/graphql",
            cookie=cookie,
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert count(site, Feedback) == 0  # nothing ran

    # Our own page: Origin, or (an old browser) only a Referer of our origin.
    done = site.graphql(SUBMIT, feedback_input(site, 4), cookie=cookie)
    assert done.json()["data"]["submitFeedback"] == {"created": True, "errors": []}
    by_referer = site.graphql(
        SUBMIT,
        feedback_input(site, 3),
        cookie=cookie,
        origin=None,
        headers={"Referer": "http://testserver/dashboard?x=1"},
    )
    assert by_referer.json()["data"]["submitFeedback"]["errors"] == []
    assert count(site, Feedback) == 1


def test_bearer_requests_are_not_cookie_requests(site: Site) -> None:
    """A bearer token is not sent by browsers on their own: no Origin needed, and a cookie
    beside it changes nothing."""
    cookie = site.sign_in("rep_a1@north.example")
    answer = site.graphql(VIEWER, bearer="manager_a", origin=None).json()
    assert answer["data"]["viewer"]["role"] == "MANAGER"
    beside = site.graphql(VIEWER, bearer="manager_a", cookie=cookie, origin="https://x.example")
    assert beside.json()["data"]["viewer"]["role"] == "MANAGER"
    anonymous = site.graphql("{ health { ok } }", origin="https://x.example").json()
    assert anonymous["data"]["health"]["ok"] is True  # no cookie: nothing to forge


def test_the_sign_in_forms_refuse_other_origins(site: Site) -> None:
    """Login CSRF: another site can neither mail a link nor sign a browser in with its own."""
    address = "rep_a1@north.example"
    for origin in ("https://evil.example", "null", None):
        assert site.form("/auth/sign-in", {"email": address}, origin=origin).status_code == 403
    assert site.smtp.sink.messages == []
    site.form("/auth/sign-in", {"email": address})
    token = site.link_in(site.mails_to(address)[-1]).split("token=", 1)[1]
    forged = site.form("/auth/link", {"token": token}, origin="https://evil.example")
    assert forged.status_code == 403 and "set-cookie" not in forged.headers
    assert site.form("/auth/link", {"token": token}).status_code == 303  # still good


# -- development, test, production --------------------------------------------------------------


def test_development_offers_the_demos_people(site_at: SiteFactory, caplog) -> None:
    with site_at(env="development", smtp_host=None) as site:
        page = site.request("GET", "/auth/sign-in", origin=None)
        assert page.status_code == 200
        assert "Erin Exec, executive (exec@demo.example)" in page.text
        assert "Rita Rep, rep (rep1@demo.example)" in page.text
        assert "gone@demo.example" not in page.text  # inactive
        assert "north.example" not in page.text  # another organisation's people
        erin = site.demo["exec@demo.example"]
        assert f"name='user_id' value='{erin}'" in page.text

        signed = site.form("/auth/dev-sign-in", {"user_id": str(erin)})
        assert signed.status_code == 303 and signed.headers["location"] == "/"
        cookie = session_cookie(signed)["sal_session"]
        assert cookie["httponly"] and not cookie["secure"]  # development is plain HTTP
        assert viewer_of(site, cookie.value)["viewer"]["role"] == "EXECUTIVE"

        north = site.world.users["exec_n"].id  # not one of the demo's people
        assert site.form("/auth/dev-sign-in", {"user_id": str(north)}).status_code == 400
        forged = site.form("/auth/dev-sign-in", {"user_id": str(erin)}, origin="https://e.example")
        assert forged.status_code == 403
        assert site.request("GET", "/auth/dev-sign-in").status_code == 405

        # Without SMTP_HOST the link is logged, for the developer to open.
        with caplog.at_level(logging.WARNING, logger="backend.auth.routes"):
            site.form("/auth/sign-in", {"email": "rep1@demo.example"})
        [record] = [r for r in caplog.records if "sign-in link" in r.getMessage()]
        assert "http://testserver/auth/link?token=" in record.getMessage()


@pytest.mark.parametrize("env", ["test", "production"])
def test_no_one_click_sign_in_outside_development(site_at: SiteFactory, env: str, caplog) -> None:
    with site_at(env=env, smtp_host=None) as site:
        page = site.request("GET", "/auth/sign-in", origin=None)
        assert page.status_code == 200
        assert "<form method='post' action='/auth/sign-in'>" in page.text
        assert "demo.example" not in page.text and "dev-sign-in" not in page.text
        erin = str(site.demo["exec@demo.example"])
        for method in ("GET", "POST"):
            response = site.request(method, "/auth/dev-sign-in", data={"user_id": erin})
            assert response.status_code == 404 and "set-cookie" not in response.headers
        with caplog.at_level(logging.DEBUG):
            site.form("/auth/sign-in", {"email": "rep1@demo.example"})
        assert not [r for r in caplog.records if "token=" in r.getMessage()]  # never logged


def test_production_trusts_only_the_public_origin(site_at: SiteFactory) -> None:
    with site_at(env="production") as site:
        address = "rep_a1@north.example"
        own_host = site.form("/auth/sign-in", {"email": address}, origin="http://testserver")
        assert own_host.status_code == 403  # only PUBLIC_BASE_URL's origin counts here
        cookie = site.sign_in(address)  # from https://sal.example
        assert site.mails_to(address)[0].message.get_content_type() == "multipart/alternative"
        assert viewer_of(site, cookie)["viewer"]["role"] == "REP"
        assert site.graphql(VIEWER, cookie=cookie, origin="http://testserver").status_code == 403


# -- the WebSocket ------------------------------------------------------------------------------


@contextmanager
def live_by_cookie(site: Site, cookie: str, origin: str = "http://testserver") -> Iterator[Live]:
    headers = {"cookie": f"sal_session={cookie}", "origin": origin}
    with site.client.websocket_connect("/graphql", [PROTOCOL], headers=headers) as ws:
        live = Live(ws)
        live.send({"type": "connection_init", "payload": {}})
        assert live.receive()["type"] == "connection_ack"
        yield live


def wait_for_a_subscriber(site: Site) -> None:
    hub = LiveHub.of(site.client.app.state.app)
    deadline = time.monotonic() + 5
    while hub.subscriber_count() < 1:
        assert time.monotonic() < deadline, "the subscription never started"
        time.sleep(0.01)


def test_the_cookie_opens_the_websocket_until_sign_out(
    site_at: SiteFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A live subscription re-checks its credential by the wall clock (as user tokens' expiry
    # is read), so this app's clock starts at the real time for the session to be live by it.
    with site_at(clock=TestClock(dt.datetime.now(dt.UTC))) as site:
        cookie = site.sign_in("rep_a1@north.example")
        with live_by_cookie(site, cookie) as rep:
            rep.subscribe(NEEDS_LABEL)
            wait_for_a_subscriber(site)
            first = needs_label(site, "agent_a1", "before")
            assert rep.next_event("outcomeNeedsLabel") == {"actionId": first}

            monkeypatch.setattr(access, "RECHECK_SECONDS", 0.0)  # re-check at every event
            assert site.request("POST", "/auth/sign-out", cookie=cookie).status_code == 303
            needs_label(site, "agent_a1", "after")
            ended = rep.receive()
            assert ended["type"] == "next" and ended["payload"]["data"] is None
            error = ended["payload"]["errors"][0]
            assert error["extensions"]["code"] == "unauthenticated"
            assert error["message"] == (
                "credentials no longer valid: signed out, or the session expired"
            )
            assert rep.receive() == {"id": "1", "type": "complete"}

        # A signed-out cookie, or a handshake from another origin, is not let in.
        for refused_cookie, origin in (
            (cookie, "http://testserver"),
            (site.sign_in("rep_a1@north.example"), "https://evil.example"),
        ):
            with pytest.raises(WebSocketDisconnect), live_by_cookie(site, refused_cookie, origin):
                pass
