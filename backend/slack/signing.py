"""Slack's request signing (v0): ``X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret,
"v0:{X-Slack-Request-Timestamp}:{raw body}")>``, accepted within 5 minutes of its timestamp.
Checked by Slack's own SDK (``slack_sdk.signature.SignatureVerifier``) at the app's clock,
after the timestamp header is parsed strictly here (the SDK's ``int()`` would take "²" for a
digit and raise)."""

from __future__ import annotations

from slack_sdk.signature import Clock, SignatureVerifier

from backend.webhooks.headers import ascii_int

TOLERANCE_SECONDS = 300
VERSION = "v0"


class SlackSignatureError(Exception):
    """The request is not provably from Slack; the message says why."""


class _At(Clock):
    """The SDK's clock, reading the app's time instead of the wall clock."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def check_timestamp(header: str | None, *, now: float, tolerance: int = TOLERANCE_SECONDS) -> str:
    """The timestamp header, if it is a number of seconds within ``tolerance`` of ``now``."""
    timestamp = ascii_int(header)  # "²" is no number, though str.isdigit() says it is
    if timestamp is None:
        raise SlackSignatureError("X-Slack-Request-Timestamp must be unix seconds")
    if abs(now - timestamp) > tolerance:
        raise SlackSignatureError(f"the request timestamp is more than {tolerance} s from now")
    return (header or "").strip()  # signed as sent


def signature_matches(
    signing_secret: str, timestamp: str, body: bytes, header: str, *, now: float
) -> bool:
    """Whether ``header`` signs ``body`` at ``timestamp`` with ``signing_secret``, within
    Slack's 5 minutes of ``now`` (constant-time comparison, by Slack's SDK)."""
    verifier = SignatureVerifier(signing_secret, clock=_At(now))
    return verifier.is_valid(body=body, timestamp=timestamp, signature=header.strip())
