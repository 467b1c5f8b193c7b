"""The add-on's endpoints through the real app on each database, called as Google calls them:
Google's ID token (minted with a local key whose JWKS a local server publishes) and the event
objects Gmail sends. Each refused request leaves the database exactly as it was."""

from __future__ import annotations

from typing import Any

import pytest

from backend.gmail.endpoints import MAX_BODY_BYTES
from tests.backend.gmail.conftest import (
    BASE_URL,
    CLIENT_ID,
    EMAIL_MESSAGE_ID,
    EMAIL_THREAD_ID,
    ESCALATION_THREAD_ID,
    Addon,
    event,
    rate_parameters,
)

MESSAGE, RATE, COMMENT, HOMEPAGE = (
    "/gmail/message",
    "/gmail/actions/rate",
    "/gmail/actions/comment",
    "/gmail/homepage",
)


def pushed(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    (navigation,) = response.json()["action"]["navigations"]
    return navigation["pushCard"]


def updated(response: Any) -> tuple[dict[str, Any], str]:
    assert response.status_code == 200, response.text
    action = response.json()["renderActions"]["action"]
    (navigation,) = action["navigations"]
    return navigation["updateCard"], action["notification"]["text"]


def notified(response: Any) -> str:
    assert response.status_code == 200, response.text
    action = response.json()["renderActions"]["action"]
    assert "navigations" not in action  # the card stays as it is
    return action["notification"]["text"]


def widgets(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for section in card["sections"] for w in section["widgets"]]


def labelled(card: dict[str, Any]) -> dict[str, str]:
    """{topLabel: text} of the card's decorated texts."""
    return {
        w["decoratedText"]["topLabel"]: w["decoratedText"]["text"]
        for w in widgets(card)
        if "decoratedText" in w
    }


def paragraphs(card: dict[str, Any]) -> str:
    return " ".join(w["textParagraph"]["text"] for w in widgets(card) if "textParagraph" in w)


def buttons(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for w in widgets(card):
        for button in w.get("buttonList", {}).get("buttons", []):
            action = button["onClick"]["action"]
            params = {p["key"]: p["value"] for p in action["parameters"]}
            found[button["text"]] = {"function": action["function"], "parameters": params}
    return found


async def test_the_agents_email_gets_its_card(addon: Addon) -> None:
    card = pushed(addon.post(MESSAGE, event(addon.google, addon.email_of("rep_a1"))))
    assert card["header"]["subtitle"] == "agent_rep_a1"
    shown = labelled(card)
    assert shown["Action"] == "Email"
    assert shown["Subject"] == "Pricing for &lt;Acme&gt; &amp; friends"  # escaped
    assert shown["Confidence"] == "42% stated"
    assert shown["Decision"] in ("act", "review", "escalate")
    assert shown["Email delivery"].startswith("waiting until ")
    assert shown["Email reply"].startswith("waiting until ")
    assert "How did the agent do?" in paragraphs(card)
    found = buttons(card)
    assert set(found) == {"👍 Good", "👎 Poor"}  # "Save comment" only once rated
    assert found["👍 Good"] == {
        "function": BASE_URL + RATE,
        "parameters": {"messageId": EMAIL_MESSAGE_ID, "threadId": EMAIL_THREAD_ID, "thumb": "up"},
    }
    assert found["👎 Poor"]["parameters"]["thumb"] == "down"
    (text_input,) = [w["textInput"] for w in widgets(card) if "textInput" in w]
    assert text_input["name"] == "comment" and "value" not in text_input
    assert await addon.feedback() == []


async def test_a_reply_in_the_agents_thread_shows_the_agents_action(addon: Addon) -> None:
    body = event(addon.google, addon.email_of("rep_a1"), message_id="18f3ffff00000001")
    card = pushed(addon.post(MESSAGE, body))
    assert labelled(card)["Action"] == "Email"
    assert buttons(card)["👍 Good"]["parameters"]["messageId"] == "18f3ffff00000001"


async def test_rating_is_stored_and_the_card_updated(addon: Addon) -> None:
    rep = addon.world.users["rep_a1"]
    body = event(addon.google, rep.email, parameters=rate_parameters("up"))
    card, note = updated(addon.post(RATE, body))
    assert note == "Thanks! Rated 👍."
    assert "Your rating: <b>👍</b>" in paragraphs(card)
    assert "Save comment" in buttons(card)
    (stored,) = await addon.feedback()
    assert (stored.target_type, stored.rating, stored.channel, stored.author_id) == (
        "message",
        1,
        "gmail",
        rep.id,
    )
    assert stored.message_id is not None and stored.action_id is None and stored.comment is None

    # A second click (with a comment typed) changes the same rating: still one row.
    body = event(
        addon.google,
        rep.email,
        parameters=rate_parameters("down"),
        comment="  Too pushy on price.  ",
    )
    card, note = updated(addon.post(RATE, body))
    assert note == "Your rating is now 👎."
    assert "Your comment: Too pushy on price." in paragraphs(card)
    (text_input,) = [w["textInput"] for w in widgets(card) if "textInput" in w]
    assert text_input["value"] == "Too pushy on price."
    (changed,) = await addon.feedback()
    assert (changed.id, changed.rating, changed.comment) == (stored.id, 0, "Too pushy on price.")

    # Clicking again with the comment field empty keeps the comment.
    updated(addon.post(RATE, event(addon.google, rep.email, parameters=rate_parameters("up"))))
    (again,) = await addon.feedback()
    assert (again.rating, again.comment) == (1, "Too pushy on price.")


async def test_a_comment_goes_with_the_rating(addon: Addon) -> None:
    email = addon.email_of("rep_a1")
    ids = {"messageId": EMAIL_MESSAGE_ID, "threadId": EMAIL_THREAD_ID}
    note = notified(
        addon.post(COMMENT, event(addon.google, email, parameters=ids, comment="Nice tone"))
    )
    assert note.startswith("Not saved. thumb: rate it with 👍 or 👎 first")
    assert await addon.feedback() == []

    updated(addon.post(RATE, event(addon.google, email, parameters=rate_parameters("down"))))
    card, note = updated(
        addon.post(COMMENT, event(addon.google, email, parameters=ids, comment="Nice tone"))
    )
    assert note == "Comment saved."
    (stored,) = await addon.feedback()
    assert (stored.rating, stored.comment) == (0, "Nice tone")  # the thumb is kept
    assert "Your comment: Nice tone" in paragraphs(card)

    too_long = event(addon.google, email, parameters=rate_parameters("up"), comment="x" * 2001)
    assert notified(addon.post(RATE, too_long)).startswith("Not saved. comment: must be at most")
    (unchanged,) = await addon.feedback()
    assert (unchanged.rating, unchanged.comment) == (0, "Nice tone")


async def test_a_thread_decision_without_an_email_is_rated_on_the_action_scale(
    addon: Addon,
) -> None:
    email = addon.email_of("rep_a1")
    body = event(addon.google, email, message_id=None, thread_id=ESCALATION_THREAD_ID)
    card = pushed(addon.post(MESSAGE, body))
    assert labelled(card)["Action"] == "Escalation (critical)"
    assert "👍 counts 5 of 5" in paragraphs(card)
    params = buttons(card)["👎 Poor"]["parameters"]
    assert params == {"threadId": ESCALATION_THREAD_ID, "thumb": "down"}
    updated(
        addon.post(
            RATE,
            event(
                addon.google,
                email,
                message_id=None,
                thread_id=ESCALATION_THREAD_ID,
                parameters=params,
            ),
        )
    )
    (stored,) = await addon.feedback()
    assert (stored.target_type, stored.action_id, stored.rating) == (
        "action",
        addon.escalation_action_id,
        1,
    )


async def test_a_manager_rates_their_teams_email(addon: Addon) -> None:
    manager = addon.world.users["manager_a"]
    body = event(addon.google, manager.email.upper(), parameters=rate_parameters("up"))
    updated(addon.post(RATE, body))
    (stored,) = await addon.feedback()
    assert (stored.author_id, stored.rating) == (manager.id, 1)


@pytest.mark.parametrize("who", ["rep_b1", "rep_s1"])  # another team; another organisation
async def test_an_email_outside_ones_scope_is_not_the_agents(addon: Addon, who: str) -> None:
    email = addon.email_of(who)
    card = pushed(addon.post(MESSAGE, event(addon.google, email)))
    assert "not one the Sales Agent sent" in paragraphs(card)
    card, note = updated(
        addon.post(RATE, event(addon.google, email, parameters=rate_parameters("up")))
    )
    assert "nothing was saved" in note
    assert await addon.feedback() == []


async def test_an_unknown_message_gets_the_short_card(addon: Addon) -> None:
    body = event(
        addon.google,
        addon.email_of("rep_a1"),
        message_id="19000000000000aa",
        thread_id="19000000000000aa",
    )
    card = pushed(addon.post(MESSAGE, body))
    assert "not one the Sales Agent sent" in paragraphs(card)
    assert buttons(card) == {}
    params = rate_parameters("up", message_id="19000000000000aa", thread_id="19000000000000aa")
    card, note = updated(addon.post(RATE, {**body, "commonEventObject": {"parameters": params}}))
    assert note == "This e-mail is not the agent's; nothing was saved."
    assert await addon.feedback() == []


async def test_an_unmapped_gmail_user_is_asked_to_link_their_account(addon: Addon) -> None:
    stranger = "someone@gmail.example"
    card = pushed(addon.post(MESSAGE, event(addon.google, stranger)))
    assert "<b>someone@gmail.example</b> is not linked" in paragraphs(card)
    card = pushed(
        addon.post(HOMEPAGE, event(addon.google, stranger, message_id=None, thread_id=None))
    )
    assert "is not linked" in paragraphs(card)
    card, note = updated(
        addon.post(RATE, event(addon.google, stranger, parameters=rate_parameters("up")))
    )
    assert note == "Link your account first; nothing was saved."
    assert "is not linked" in paragraphs(card)
    assert await addon.feedback() == []


async def test_the_homepage_greets_a_linked_user(addon: Addon) -> None:
    body = event(addon.google, addon.email_of("rep_a1"), message_id=None, thread_id=None)
    card = pushed(addon.post(HOMEPAGE, body))
    assert card["header"]["subtitle"] == "rep_a1"
    assert "Open an e-mail the agent sent" in paragraphs(card)


def _bad_caller_tokens(addon: Addon, other_key: Any) -> dict[str, str]:
    google = addon.google
    return {
        "wrong audience: another endpoint": google.caller(MESSAGE),
        "wrong audience: another host": google.caller(RATE, aud="https://evil.example" + RATE),
        "expired": google.caller(RATE, expires_in=-600, issued_ago=4200),
        "wrong signer (same kid)": google.caller(RATE, key=other_key),
        "wrong signer (kid not in JWKS)": google.caller(RATE, key=other_key, kid="attacker-1"),
        "another service account": google.caller(RATE, email="someone@project.iam.example"),
        "unverified email": google.caller(RATE, email_verified=False),
        "another issuer": google.caller(RATE, iss="https://issuer.example"),
        "HS256 (algorithm confusion)": google.caller(RATE, algorithm="HS256"),
        "the user's token instead of Google's": google.user(addon.email_of("rep_a1")),
        "not a JWT": "not-a-jwt",
    }


async def test_bad_google_tokens_are_refused_before_the_body_is_read(
    addon: Addon, other_key: Any
) -> None:
    email = addon.email_of("rep_a1")
    good_body = event(addon.google, email, parameters=rate_parameters("up"))
    for case, token in _bad_caller_tokens(addon, other_key).items():
        for body in (good_body, b"{not json", b"x" * (MAX_BODY_BYTES + 1)):
            response = addon.post(RATE, body, token=token)
            assert response.status_code == 401, (case, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")
    for headers in ({"Authorization": ""}, {"Authorization": "Basic Zm9vOmJhcg=="}):
        response = addon.client.post(RATE, json=good_body, headers=headers)
        assert response.status_code == 401
    assert await addon.feedback() == []
    # The same body with Google's token for this endpoint is stored: only the token was wrong.
    assert addon.post(RATE, good_body).status_code == 200
    assert len(await addon.feedback()) == 1


async def test_the_refusals_say_why(addon: Addon, other_key: Any) -> None:
    tokens = _bad_caller_tokens(addon, other_key)
    body = event(addon.google, addon.email_of("rep_a1"))

    def reason(case: str) -> str:
        return addon.post(RATE, body, token=tokens[case]).json()["error"]

    assert (
        reason("wrong audience: another endpoint")
        == f"the token is not addressed to {BASE_URL}{RATE}"
    )
    assert reason("expired") == "the token has expired"
    assert reason("wrong signer (same kid)") == "the token's signature does not match its key"
    assert reason("wrong signer (kid not in JWKS)") == (
        "the token's key 'attacker-1' is not one of the signing keys"
    )
    assert reason("another service account") == "the token is not from the expected account"


async def test_bad_user_tokens_are_refused_and_nothing_is_stored(
    addon: Addon, other_key: Any
) -> None:
    email = addon.email_of("rep_a1")
    google = addon.google
    for token in (
        google.user(email, key=other_key),  # someone else's signature
        google.user(email, aud="another-client.apps.googleusercontent.com"),
        google.user(email, expires_in=-600, issued_ago=4200),
        google.caller(RATE),  # Google's own token is not a user's
    ):
        body = event(google, email, parameters=rate_parameters("up"), user_token=token)
        response = addon.post(RATE, body)
        assert response.status_code == 401, response.text
        assert response.json()["error"].startswith("authorizationEventObject.userIdToken: ")
    missing = event(google, email, parameters=rate_parameters("up"))
    del missing["authorizationEventObject"]["userIdToken"]
    response = addon.post(RATE, missing)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "authorizationEventObject.userIdToken"
    assert await addon.feedback() == []


async def test_malformed_events_are_refused_naming_the_field(addon: Addon) -> None:
    email = addon.email_of("rep_a1")
    cases = {
        b"[1, 2]": "body",
        b"{not json": "body",
    }
    for raw, field in cases.items():
        response = addon.post(RATE, raw, headers={"Content-Type": "application/json"})
        assert (response.status_code, response.json()["errors"][0]["field"]) == (400, field)
    no_ids = event(addon.google, email, message_id=None, thread_id=None)
    response = addon.post(MESSAGE, no_ids)
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "gmail.messageId")
    bad_thumb = event(addon.google, email, parameters=rate_parameters("sideways"))
    response = addon.post(RATE, bad_thumb)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "commonEventObject.parameters.thumb"
    assert await addon.feedback() == []


async def test_the_signing_keys_are_fetched_once_for_many_requests(addon: Addon) -> None:
    email = addon.email_of("rep_a1")
    for path in (HOMEPAGE, MESSAGE, MESSAGE):
        assert addon.post(path, event(addon.google, email)).status_code == 200
    updated(addon.post(RATE, event(addon.google, email, parameters=rate_parameters("up"))))
    assert addon.keys.hits == {"/jwks": 1}  # 8 tokens checked (Google's and the user's)


def test_an_unconfigured_add_on_answers_503(sqlite_database_url: str, google: Any) -> None:
    from starlette.testclient import TestClient

    from backend.app import create_app
    from backend.settings import load_settings

    settings = load_settings(
        database_url=sqlite_database_url, worker_in_process=False, gmail_addon_client_id=CLIENT_ID
    )
    with TestClient(create_app(settings)) as client:
        response = client.post(MESSAGE, json={}, headers={"Authorization": "Bearer x"})
    assert response.status_code == 503
    assert response.json()["error"] == (
        "the Gmail add-on is not configured: set GMAIL_ADDON_SERVICE_ACCOUNT"
    )
