"""``POST /webhooks/slack/events``: the Events API. ``url_verification`` answers the challenge;
``reaction_added`` / ``reaction_removed`` on a message we posted give or take back a thumb.

Slack retries a delivery it thinks failed (``X-Slack-Retry-Num``); each ``event_id`` is handled
once. Events that are not feedback are acknowledged with 200 and change nothing, so Slack does
not retry them.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend.errors import DomainError
from backend.slack.receiver import (
    Clock,
    Rejected,
    SlackRequest,
    invalid,
    parse_event,
    team_of_event,
    verify_slack_request,
)
from backend.slack.service import record_reaction
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.webhooks.headers import UNSTORABLE_PROBLEM, storable

PATH = "/webhooks/slack/events"
REACTION_EVENTS = {"reaction_added": True, "reaction_removed": False}
log = logging.getLogger(__name__)


def _is_handshake(document: Any) -> bool:
    return isinstance(document, dict) and document.get("type") == "url_verification"


def _string(document: dict[str, Any], field: str, at: str) -> str:
    value = document.get(field)
    if not isinstance(value, str) or not value:
        raise invalid(at + field, "is required: a non-empty string")
    if not storable(value):
        raise invalid(at + field, UNSTORABLE_PROBLEM)
    return value


async def _reaction(
    state: AppState, request: SlackRequest, envelope: dict[str, Any], event: dict[str, Any]
) -> Response:
    item = event.get("item")
    if not isinstance(item, dict) or item.get("type") != "message":
        return Response(status_code=200)  # a reaction on a file: never ours
    event_id = _string(envelope, "event_id", "")
    user = _string(event, "user", "event.")
    reaction = _string(event, "reaction", "event.")
    channel = _string(item, "channel", "event.item.")
    ts = _string(item, "ts", "event.item.")
    held: list[Any] = []
    try:
        async with transaction(state.sessions, hold=held) as session:
            await record_reaction(
                session,
                request.installation,
                event_id=event_id,
                slack_user_id=user,
                channel=channel,
                ts=ts,
                reaction=reaction,
                added=REACTION_EVENTS[str(event.get("type"))],
            )
    except DomainError as exc:  # e.g. outside the person's scope: a retry would not help
        log.info("Slack reaction %s not stored: %s", event_id, exc)
        return Response(status_code=200)
    # What the reaction changed is handled once Slack has its answer (messages redrawn, ...).
    after = BackgroundTask(state.bus.dispatch, held) if held else None
    return Response(status_code=200, background=after)


async def receive_event(request: Request, *, clock: Clock | None = None) -> Response:
    state: AppState = request.app.state.app
    try:
        verified = await verify_slack_request(
            request,
            now=clock() if clock is not None else state.now(),
            parse=parse_event,
            team_of=team_of_event,
            is_handshake=_is_handshake,
        )
        envelope = verified.document
        if not isinstance(envelope, dict):
            raise invalid("body", "must be a JSON object")
        if envelope.get("type") == "url_verification":
            return JSONResponse({"challenge": _string(envelope, "challenge", "")})
        event = envelope.get("event")
        if (
            envelope.get("type") == "event_callback"
            and isinstance(event, dict)
            and event.get("type") in REACTION_EVENTS
        ):
            return await _reaction(state, verified, envelope, event)
    except Rejected as rejected:
        return rejected.response
    return Response(status_code=200)
