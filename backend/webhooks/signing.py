"""Webhook signatures: each organisation's secret, derived from SECRET_KEY, and the Stripe-style
``X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` header over ``f"{t}." + raw body``.

The secrets are never stored: ``webhook_secret(SECRET_KEY, slug)`` recomputes them, so rotating
SECRET_KEY rotates every organisation's webhook secret (and its API tokens) at once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from backend.webhooks.headers import ascii_int

TOLERANCE_SECONDS = 300  # older (or newer) signed timestamps are replays or broken clocks


class SignatureError(Exception):
    """The request is not provably from the organisation it names; the message says why."""


def webhook_secret(secret_key: str, organization_slug: str) -> str:
    """The organisation's webhook secret: hex HMAC-SHA256(SECRET_KEY, "webhook:" + slug)."""
    message = f"webhook:{organization_slug}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, *, timestamp: int) -> str:
    """The ``X-Signature`` value a sender puts on ``body`` at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def parse_signature_header(header: str) -> tuple[int, list[str]]:
    """The timestamp and every ``v1`` signature (several while a sender rotates secrets)."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = ascii_int(value)  # "t=²" is no timestamp (and would crash int())
        elif key == "v1" and value:
            signatures.append(value.strip().lower())
    if timestamp is None:
        raise SignatureError("X-Signature has no t=<unix seconds>")
    if not signatures:
        raise SignatureError("X-Signature has no v1=<signature>")
    return timestamp, signatures


def verify_signature(
    secret: str | Sequence[str],
    header: str,
    body: bytes,
    *,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> int:
    """Check ``header`` against ``body``; return the signed timestamp or raise SignatureError.
    ``secret`` may be several (during a rotation of SECRET_KEY: the current one's and the
    previous ones'), any of which may have signed.

    The signature is checked before the timestamp, so a stale message is only reported for an
    authentic request; ``now`` is injectable (unix seconds) for tests.
    """
    timestamp, signatures = parse_signature_header(header)
    secrets = [secret] if isinstance(secret, str) else list(secret)
    expected = [_digest(one, timestamp, body).encode() for one in secrets]
    # Compare every candidate with every secret without stopping early: constant time each.
    matches = [
        hmac.compare_digest(mine, candidate.encode())
        for mine in expected
        for candidate in signatures
    ]
    if not any(matches):
        raise SignatureError("the signature does not match")
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"the signed timestamp is more than {tolerance} s from now")
    return timestamp
