"""Slack's v0 signature (checked by Slack's own SDK at the app's clock), on the example of
Slack's guide, and the strict timestamp check before it."""

from __future__ import annotations

import pytest

from backend.slack.signing import SlackSignatureError, check_timestamp, signature_matches

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
# The example of Slack's "Verifying requests from Slack" guide.
BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
    b"G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook"
    b"-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F3977"
    b"00885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d"
    b"10d2c447fce8b6703c"
)
TIMESTAMP = "1531420618"


def test_the_signature_is_slacks() -> None:
    # The signature Slack's guide gives for its example request.
    guide = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    at = float(TIMESTAMP)
    assert signature_matches(SECRET, TIMESTAMP, BODY, guide, now=at)
    assert signature_matches(SECRET, TIMESTAMP, BODY, f" {guide} ", now=at + 300)
    assert not signature_matches(SECRET, TIMESTAMP, BODY, guide, now=at + 301)  # too old
    assert not signature_matches(SECRET, TIMESTAMP, BODY + b" ", guide, now=at)
    assert not signature_matches("another secret", TIMESTAMP, BODY, guide, now=at)
    assert not signature_matches(SECRET, "1531420619", BODY, guide, now=at)


def test_the_timestamp_must_be_within_five_minutes() -> None:
    now = 1531420618.0
    assert check_timestamp("1531420618", now=now + 300) == "1531420618"
    assert check_timestamp("1531420618", now=now - 300) == "1531420618"
    for header, at in (
        ("1531420618", now + 301),
        ("1531420618", now - 301),
        (None, now),
        ("", now),
        ("15314e5", now),
        ("-1531420618", now),
    ):
        with pytest.raises(SlackSignatureError):
            check_timestamp(header, now=at)
