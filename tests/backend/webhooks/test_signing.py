"""Webhook signatures: derived secrets, the Stripe-style header, rotation and the replay window.
The worked example is the one in docs/webhooks.md (checked there with openssl)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.webhooks.signing import (
    SignatureError,
    parse_signature_header,
    signature_header,
    verify_signature,
    webhook_secret,
)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_KEY = "example-secret-key-0123456789-abcdefghij"
EXAMPLE_SECRET = "ec361b1be1951a5476678a9680efeb4546c36fe11958ba9638b2eb74672a7d53"
EXAMPLE_BODY = (
    b'{"events": [{"id": "evt_1", "type": "replied", "message_id": "<m1@acme.example>", '
    b'"timestamp": "2026-01-01T00:00:00Z", "sentiment": "positive"}]}'
)
EXAMPLE_T = 1767225600  # 2026-01-01T00:00:00Z
EXAMPLE_V1 = "6db5ace7279b67178f984e615ba7b88f72ad5e2d95978b49cfd95345bcfe8f2d"


def test_the_documented_example() -> None:
    assert webhook_secret(EXAMPLE_KEY, "acme") == EXAMPLE_SECRET
    header = signature_header(EXAMPLE_SECRET, EXAMPLE_BODY, timestamp=EXAMPLE_T)
    assert header == f"t={EXAMPLE_T},v1={EXAMPLE_V1}"
    assert verify_signature(EXAMPLE_SECRET, header, EXAMPLE_BODY, now=EXAMPLE_T + 10) == EXAMPLE_T
    docs = (ROOT / "docs" / "webhooks.md").read_text()
    assert all(value in docs for value in (EXAMPLE_KEY, EXAMPLE_SECRET, EXAMPLE_V1))


def test_secrets_differ_by_organisation_and_by_secret_key() -> None:
    secrets = {webhook_secret(k, s) for k in (EXAMPLE_KEY, EXAMPLE_KEY + "x") for s in ("a", "b")}
    assert len(secrets) == 4 and all(len(s) == 64 for s in secrets)


def test_any_v1_entry_may_match_while_a_sender_rotates() -> None:
    old = signature_header("old-secret", EXAMPLE_BODY, timestamp=EXAMPLE_T).split("v1=")[1]
    header = f"t={EXAMPLE_T}, v1={old}, v1={EXAMPLE_V1}, v0=ignored"
    assert parse_signature_header(header) == (EXAMPLE_T, [old, EXAMPLE_V1])
    assert verify_signature(EXAMPLE_SECRET, header, EXAMPLE_BODY, now=EXAMPLE_T) == EXAMPLE_T


@pytest.mark.parametrize(
    ("header", "body", "now", "problem"),
    [
        (f"t={EXAMPLE_T},v1={EXAMPLE_V1}", EXAMPLE_BODY + b" ", EXAMPLE_T, "does not match"),
        (f"t={EXAMPLE_T + 1},v1={EXAMPLE_V1}", EXAMPLE_BODY, EXAMPLE_T, "does not match"),
        (f"t={EXAMPLE_T},v1=é{EXAMPLE_V1[1:]}", EXAMPLE_BODY, EXAMPLE_T, "does not match"),
        (f"v1={EXAMPLE_V1}", EXAMPLE_BODY, EXAMPLE_T, "no t="),
        (f"t={EXAMPLE_T}", EXAMPLE_BODY, EXAMPLE_T, "no v1="),
        (f"t={EXAMPLE_T},v1={EXAMPLE_V1}", EXAMPLE_BODY, EXAMPLE_T + 301, "300 s"),
        (f"t={EXAMPLE_T},v1={EXAMPLE_V1}", EXAMPLE_BODY, EXAMPLE_T - 301, "300 s"),
    ],
)
def test_what_is_refused(header: str, body: bytes, now: int, problem: str) -> None:
    with pytest.raises(SignatureError, match=problem):
        verify_signature(EXAMPLE_SECRET, header, body, now=now)


def test_the_edge_of_the_replay_window_is_accepted() -> None:
    header = f"t={EXAMPLE_T},v1={EXAMPLE_V1}"
    assert verify_signature(EXAMPLE_SECRET, header, EXAMPLE_BODY, now=EXAMPLE_T + 300)
