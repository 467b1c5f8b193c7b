"""Slack's request signing (v0): ``X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret,
"v0:{X-Slack-Request-Timestamp}:{raw body}")>``, accepted within 5 minutes of its timestamp."""

from __future__ import annotations

import hashlib
import hmac

from backend.webhooks.headers import ascii_int

TOLERANCE_SECONDS = 300
VERSION = "v0"


class SlackSignatureError(Exception):
    """The request is not provably from Slack; the message says why."""


def slack_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    base = f"{VERSION}:{timestamp}:".encode() + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return f"{VERSION}={digest}"


def check_timestamp(header: str | None, *, now: float, tolerance: int = TOLERANCE_SECONDS) -> str:
    """The timestamp header, if it is a number of seconds within ``tolerance`` of ``now``."""
    timestamp = ascii_int(header)  # "²" is no number, though str.isdigit() says it is
    if timestamp is None:
        raise SlackSignatureError("X-Slack-Request-Timestamp must be unix seconds")
    if abs(now - timestamp) > tolerance:
        raise SlackSignatureError(f"the request timestamp is more than {tolerance} s from now")
    return (header or "").strip()  # signed as sent


def signature_matches(signing_secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """Constant-time comparison of ``header`` with the signature of ``body``."""
    expected = slack_signature(signing_secret, timestamp, body).encode()
    return hmac.compare_digest(expected, header.strip().encode())
