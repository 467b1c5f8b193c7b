"""What both Slack webhooks do first: prove the request comes from Slack for a workspace we know.

Order: the timestamp header must be within 5 minutes (before a byte of the body is read); the
body is read up to 1 MiB; the workspace's team id is taken from it, only to choose whose signing
secret to check (Slack signs with the app's secret, which the payload's team names); then the
v0 signature is compared in constant time. Nothing of the payload is acted on, and nothing is
stored, before that check passes; an unknown team fails exactly like a bad signature (401).
Slack's ``url_verification`` handshake names no team: it is checked against every installation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend.slack.models import SlackInstallation
from backend.slack.secrets import SecretUnreadable
from backend.slack.service import installation_for_team, signing_secret_of
from backend.slack.signing import SlackSignatureError, check_timestamp, signature_matches
from backend.state import AppState
from backend.webhooks.headers import ascii_int, storable

MAX_BODY_BYTES = 1024 * 1024
MAX_CANDIDATES = 1000  # installations tried for a handshake that names no team
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
Clock = Callable[[], dt.datetime]
# Only the decoy's timing matters: an unknown team costs one HMAC like a known one.
_DECOY_SECRET = secrets.token_hex(16)


class Rejected(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def unauthorized(message: str) -> Rejected:
    return Rejected(JSONResponse({"error": message}, status_code=401))


def invalid(field: str, message: str) -> Rejected:
    """400 naming the field of a signed payload that is not the shape Slack documents."""
    body = {"errors": [{"field": field, "code": "invalid", "message": message}]}
    return Rejected(JSONResponse(body, status_code=400))


@dataclass(frozen=True)
class SlackRequest:
    installation: SlackInstallation
    document: Any  # the parsed body (the interaction payload, or the event envelope)
    # The request's identity: a replay of it (same bytes, same timestamp) has the same one.
    receipt: str = ""


def request_receipt(signature: str) -> str:
    """The key under which an accepted request is remembered (``SlackEventReceipt``, 64
    characters): a hash of its signature, which covers its timestamp and every byte of it."""
    return "request:" + hashlib.sha256(signature.strip().encode()).hexdigest()[:56]


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    too_large = Rejected(
        JSONResponse({"error": f"the body is larger than {MAX_BODY_BYTES} bytes"}, status_code=413)
    )
    length = ascii_int(declared) if declared is not None else 0
    if length is None:
        raise invalid("Content-Length", "must be the body's size in bytes (ASCII digits)")
    if length > MAX_BODY_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise too_large
    return bytes(body)


def parse_interaction(body: bytes) -> Any:
    """An interaction: ``application/x-www-form-urlencoded`` with one ``payload`` field of JSON."""
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=10)
        return json.loads(fields["payload"][0])
    except (UnicodeDecodeError, ValueError, KeyError, IndexError, RecursionError):
        return None


def parse_event(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def team_of_interaction(document: Any) -> str | None:
    if not isinstance(document, dict):
        return None
    team = document.get("team")
    if isinstance(team, dict) and isinstance(team.get("id"), str):
        return _team_id(team["id"])
    user = document.get("user")
    if isinstance(user, dict) and isinstance(user.get("team_id"), str):
        return _team_id(user["team_id"])
    return None


def team_of_event(document: Any) -> str | None:
    if isinstance(document, dict) and isinstance(document.get("team_id"), str):
        return _team_id(document["team_id"])
    return None


def _team_id(value: str) -> str | None:
    """A team id that can be looked up (text with a NUL names no team: PostgreSQL refuses it)."""
    return value if storable(value) else None


async def _candidates(
    state: AppState, team_id: str | None, *, handshake: bool
) -> list[SlackInstallation]:
    async with state.sessions() as session:
        if team_id is not None:
            found = await installation_for_team(session, team_id)
            return [found] if found is not None else []
        if not handshake:
            return []
        return list(
            await session.scalars(
                select(SlackInstallation).order_by(SlackInstallation.id).limit(MAX_CANDIDATES)
            )
        )


async def verify_slack_request(
    request: Request,
    *,
    now: dt.datetime,
    parse: Callable[[bytes], Any],
    team_of: Callable[[Any], str | None],
    is_handshake: Callable[[Any], bool] = lambda _: False,
) -> SlackRequest:
    """The installation that signed the request and its parsed body, or Rejected (401/413)."""
    state: AppState = request.app.state.app
    header = request.headers.get(SIGNATURE_HEADER)
    if not header:
        raise unauthorized(f"send the {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers")
    at = now.timestamp()
    try:
        timestamp = check_timestamp(request.headers.get(TIMESTAMP_HEADER), now=at)
    except SlackSignatureError as exc:
        raise unauthorized(str(exc)) from None
    body = await _read_body(request)
    document = parse(body)
    candidates = await _candidates(state, team_of(document), handshake=is_handshake(document))
    secret_key = state.settings.secret_key
    matched = None
    for installation in candidates:
        try:
            secret = signing_secret_of(installation, secret_key)
        except SecretUnreadable:
            continue
        if signature_matches(secret, timestamp, body, header, now=at) and matched is None:
            matched = installation
    if not candidates:
        signature_matches(_DECOY_SECRET, timestamp, body, header, now=at)
    if matched is None:
        raise unauthorized("the signature does not match")
    return SlackRequest(matched, document, request_receipt(header))
