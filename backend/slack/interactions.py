"""``POST /webhooks/slack/interactions``: clicks on our messages (``block_actions``) and the
comment modal (``view_submission``).

Every accepted click and submission is remembered (its signature's hash, as a
``SlackEventReceipt``, for a day: longer than the 5-minute window) in the unit of work that
stores it, so a request re-sent byte for byte changes nothing, whatever came after it (a rating
never goes back to an earlier click's).

The rating is stored before answering, and the answer comes at once (Slack waits 3 s); the
Slack calls that follow (``chat.update`` showing who rated what, ``views.open``, an ephemeral
reply) run after the response has been sent.

An alert's Acknowledge and Snooze change the alert before answering; its message is then
updated like after any change of the alert (queued by the change, sent by the worker).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend.database import utcnow
from backend.errors import DomainError, ErrorCode, InvalidInput
from backend.slack.alert_actions import (
    AlertClick,
    AlertClickHandled,
    alert_problem_text,
    click_alert,
)
from backend.slack.alert_blocks import ALERT_ACKNOWLEDGE, ALERT_OPEN, ALERT_SNOOZE, SNOOZE_CHOICES
from backend.slack.blocks import (
    ADD_COMMENT,
    DECISION_RATING,
    MODAL_CALLBACK,
    MODAL_COMMENT_BLOCK,
    MODAL_RATING_BLOCK,
    THUMB_DOWN,
    THUMB_UP,
    comment_modal,
)
from backend.slack.client import SlackApiError, SlackClient
from backend.slack.posts import post_summary
from backend.slack.receiver import (
    Clock,
    Rejected,
    SlackRequest,
    invalid,
    parse_interaction,
    team_of_interaction,
    verify_slack_request,
)
from backend.slack.secrets import SecretUnreadable
from backend.slack.service import (
    CommentForm,
    Handled,
    SlackFeedback,
    note_receipt,
    open_comment_modal,
    problem_text,
    rated_by_thumb,
    record_click,
    slack_client,
    submit_comment,
)
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.webhooks.headers import UNSTORABLE_PROBLEM, ascii_int, storable

PATH = "/webhooks/slack/interactions"
CONTROLS = (THUMB_UP, THUMB_DOWN, DECISION_RATING, ADD_COMMENT)
UNMAPPED_TEXT = (
    "Your Slack account is not linked to a user here, so nothing was stored. Ask an "
    "administrator to link your account (your Slack member ID goes on your user)."
)
UNKNOWN_POST_TEXT = "This message is not linked to the agent's work any more; nothing was stored."
ALERT_CONTROLS = (ALERT_ACKNOWLEDGE, ALERT_SNOOZE, ALERT_OPEN)
ALERT_RESOLVED_TEXT = "This alert is resolved already; nothing was changed."
# Where the feedback service's complaints go in the modal.
MODAL_BLOCK_OF_FIELD = {"comment": MODAL_COMMENT_BLOCK}
log = logging.getLogger(__name__)
Job = Callable[[SlackClient], Awaitable[Any]]


def _text(value: Any) -> str | None:
    """A non-empty string the database can store (no NUL, no lone surrogate), else None."""
    return value if isinstance(value, str) and value and storable(value) else None


def _at(document: Any, *path: str) -> Any:
    """The value at ``path`` in nested objects, or None where the path breaks off."""
    for key in path:
        document = document.get(key) if isinstance(document, dict) else None
    return document


def _required(document: Any, *path: str) -> str:
    """A string deep in the payload, or 400 naming where it should be."""
    value = _text(_at(document, *path))
    if value is None:
        raise invalid("payload." + ".".join(path), "is required: a non-empty string")
    return value


def _after(state: AppState, request: SlackRequest, jobs: list[Job]) -> BackgroundTask | None:
    """The Slack calls to make once the response is sent; failures are logged."""
    if not jobs:
        return None

    async def run() -> None:
        try:
            client = slack_client(request.installation, state.settings.secret_key)
        except SecretUnreadable as exc:  # SECRET_KEY changed since slack-config
            log.warning("Slack calls skipped: %s", exc)
            return
        for job in jobs:
            try:
                await job(client)
            except SlackApiError as exc:
                log.warning("%s", exc)

    return BackgroundTask(run)


def _ephemeral(channel: str, user: str, text: str) -> Job:
    return lambda client: client.post_ephemeral(channel=channel, user=user, text=text)


def _dispatch(state: AppState, events: list[Any]) -> Job:
    """Hand the rating's committed events to the bus: the handlers (Slack's redraw of every
    message about what was rated among them) run after Slack has its answer."""
    return lambda _client: state.bus.dispatch(events)


def _reply_jobs(handled: SlackFeedback, channel: str, user: str) -> list[Job]:
    if handled.handled is Handled.UNMAPPED:
        return [_ephemeral(channel, user, UNMAPPED_TEXT)]
    if handled.handled is Handled.UNKNOWN_POST:
        return [_ephemeral(channel, user, UNKNOWN_POST_TEXT)]
    return []


def _click_rating(control: dict[str, Any]) -> tuple[str | None, int | None]:
    """The thumb or the 1..5 rating a click chose. A value that is no rating ("²", 5,000
    digits) raises DomainError: the person is told, as for any refused rating."""
    action_id = control.get("action_id")
    if action_id in (THUMB_UP, THUMB_DOWN):
        return ("up" if action_id == THUMB_UP else "down"), None
    value = _at(control, "selected_option", "value")
    rating = ascii_int(value, max_digits=1) if isinstance(value, str) else None
    if rating is None:
        raise DomainError(
            ErrorCode.INVALID,
            "the rating must be a whole number from 1 to 5",
            field="payload.actions[0].selected_option.value",
        )
    return None, rating


def _alert_click(control: dict[str, Any]) -> AlertClick | None:
    """What an alert control asks for; None for the Open link (Slack opens it)."""
    action_id = control.get("action_id")
    if action_id == ALERT_OPEN:
        return None
    if action_id == ALERT_ACKNOWLEDGE:
        value = control.get("value")
        acknowledged = ascii_int(value) if isinstance(value, str) else None
        if acknowledged is None:
            raise invalid("payload.actions[0].value", "must be an alert id")
        return AlertClick(acknowledged)
    value = _at(control, "selected_option", "value")
    text, _, choice = value.partition(":") if isinstance(value, str) else ("", "", "")
    alert_id = ascii_int(text)
    if alert_id is None or choice not in SNOOZE_CHOICES:
        raise invalid(
            "payload.actions[0].selected_option.value",
            f"must be <alert id>:<{'|'.join(SNOOZE_CHOICES)}>",
        )
    return AlertClick(alert_id, snooze_for=SNOOZE_CHOICES[choice][1])


async def _alert_actions(
    state: AppState, request: SlackRequest, control: dict[str, Any], *, user: str, channel: str
) -> Response:
    """Acknowledge or snooze as the person the Slack user is; refusals are said ephemerally.
    The message is updated through the alert's change (queued after commit, sent by the
    worker), never here."""
    click = _alert_click(control)
    if click is None:
        return Response(status_code=200)
    payload = request.document
    receipt = _text(payload.get("trigger_id")) or (
        f"{channel}:{_text(_at(payload, 'container', 'message_ts'))}:"
        f"{_text(control.get('action_ts'))}"
    )
    jobs: list[Job] = []
    held: list[Any] = []
    try:
        async with transaction(state.sessions, hold=held) as session:
            handled = await click_alert(
                session,
                request.installation,
                slack_user_id=user,
                click=click,
                receipt=f"alert:{receipt}",
                now=state.now(),
            )
    except DomainError as exc:
        jobs.append(_ephemeral(channel, user, alert_problem_text(exc)))
    else:
        if held:
            jobs.append(_dispatch(state, held))
        if handled is AlertClickHandled.UNMAPPED:
            jobs.append(_ephemeral(channel, user, UNMAPPED_TEXT))
        elif handled is AlertClickHandled.RESOLVED:
            jobs.append(_ephemeral(channel, user, ALERT_RESOLVED_TEXT))
    return Response(status_code=200, background=_after(state, request, jobs))


async def _block_actions(state: AppState, request: SlackRequest) -> Response:
    payload = request.document
    user = _required(payload, "user", "id")
    channel = _text(_at(payload, "container", "channel_id")) or _required(payload, "channel", "id")
    actions = payload.get("actions")
    alert_controls = (
        [a for a in actions if isinstance(a, dict) and a.get("action_id") in ALERT_CONTROLS]
        if isinstance(actions, list)
        else []
    )
    if alert_controls:
        return await _alert_actions(state, request, alert_controls[0], user=user, channel=channel)
    ts = _required(payload, "container", "message_ts")
    controls = (
        [a for a in actions if isinstance(a, dict) and a.get("action_id") in CONTROLS]
        if isinstance(actions, list)
        else []
    )
    if not controls:
        return Response(status_code=200)  # a control that is not ours: nothing to do
    control = controls[0]
    installation = request.installation
    jobs: list[Job] = []
    if control.get("action_id") == ADD_COMMENT:
        trigger = _required(payload, "trigger_id")
        async with state.sessions() as session:
            form = await open_comment_modal(
                session, installation, slack_user_id=user, channel=channel, ts=ts
            )
            view = await _modal(session, form) if isinstance(form, CommentForm) else None
        if view is not None:
            jobs.append(lambda client: client.open_view(trigger_id=trigger, view=view))
        elif isinstance(form, SlackFeedback):
            jobs += _reply_jobs(form, channel, user)
        return Response(status_code=200, background=_after(state, request, jobs))
    # One click, one rating: Slack's trigger id (else the action's timestamp) is the external id.
    click_id = (
        _text(payload.get("trigger_id")) or f"{channel}:{ts}:{_text(control.get('action_ts'))}"
    )
    held: list[Any] = []
    try:
        thumb, rating = _click_rating(control)
        async with transaction(state.sessions, hold=held) as session:
            if not await note_receipt(session, installation.organization_id, request.receipt):
                return Response(status_code=200)  # a replay: it changes nothing
            handled = await record_click(
                session,
                installation,
                slack_user_id=user,
                channel=channel,
                ts=ts,
                thumb=thumb,
                rating=rating,
                external_id=f"click:{click_id}",
            )
    except DomainError as exc:
        jobs.append(_ephemeral(channel, user, problem_text(exc)))
    else:
        if held:
            jobs.append(_dispatch(state, held))
        jobs += _reply_jobs(handled, channel, user)
    return Response(status_code=200, background=_after(state, request, jobs))


async def _modal(session: AsyncSession, form: CommentForm) -> dict[str, Any]:
    return comment_modal(
        summary=await post_summary(session, form.post),
        rated_by_thumb=rated_by_thumb(form.post),
        metadata=form.metadata,
        rating=form.rating,
        comment=form.comment,
    )


def _modal_errors(errors: dict[str, str]) -> Response:
    return JSONResponse({"response_action": "errors", "errors": errors})


def _state_value(view: dict[str, Any], block: str) -> str | None:
    """What the person entered in the modal's input ``block`` (its element has the same id)."""
    element = _at(view, "state", "values", block, block)
    if not isinstance(element, dict):
        return None
    value = (
        _at(element, "selected_option", "value")
        if "selected_option" in element
        else element.get("value")
    )
    return value if isinstance(value, str) else None


async def _view_submission(state: AppState, request: SlackRequest) -> Response:
    payload = request.document
    view = payload.get("view")
    if not isinstance(view, dict) or view.get("callback_id") != MODAL_CALLBACK:
        return Response(status_code=200)  # not our modal
    user = _required(payload, "user", "id")
    try:
        metadata = json.loads(view.get("private_metadata") or "")
    except ValueError:
        metadata = None
    if not isinstance(metadata, dict):
        raise invalid("payload.view.private_metadata", "must be the JSON we put there")
    rating, comment = (
        _state_value(view, MODAL_RATING_BLOCK),
        _state_value(view, MODAL_COMMENT_BLOCK),
    )
    unstorable = {
        block: UNSTORABLE_PROBLEM
        for block, value in ((MODAL_RATING_BLOCK, rating), (MODAL_COMMENT_BLOCK, comment))
        if value is not None and not storable(value)
    }
    if unstorable:
        return _modal_errors(unstorable)
    view_id = _text(view.get("id")) or _text(payload.get("trigger_id")) or str(utcnow().timestamp())
    held: list[Any] = []
    try:
        async with transaction(state.sessions, hold=held) as session:
            if not await note_receipt(
                session, request.installation.organization_id, request.receipt
            ):
                return Response(status_code=200)  # a replay: it changes nothing
            handled = await submit_comment(
                session,
                request.installation,
                slack_user_id=user,
                metadata=metadata,
                rating=rating,
                comment=comment,
                external_id=f"view:{view_id}",
            )
    except InvalidInput as exc:
        errors: dict[str, str] = {}
        for error in exc.errors:
            block = MODAL_BLOCK_OF_FIELD.get(error.field or "", MODAL_RATING_BLOCK)
            errors.setdefault(block, error.message)
        return _modal_errors(errors)
    except DomainError as exc:
        return _modal_errors({MODAL_RATING_BLOCK: problem_text(exc)})
    if handled.handled is Handled.UNMAPPED:
        return _modal_errors({MODAL_RATING_BLOCK: UNMAPPED_TEXT})
    if handled.handled is Handled.UNKNOWN_POST:
        return _modal_errors({MODAL_RATING_BLOCK: UNKNOWN_POST_TEXT})
    # An empty 200 closes the modal.
    return Response(status_code=200, background=_after(state, request, [_dispatch(state, held)]))


async def receive_interaction(request: Request, *, clock: Clock | None = None) -> Response:
    state: AppState = request.app.state.app
    try:
        verified = await verify_slack_request(
            request,
            now=clock() if clock is not None else state.now(),
            parse=parse_interaction,
            team_of=team_of_interaction,
        )
        kind = verified.document.get("type") if isinstance(verified.document, dict) else None
        if kind == "block_actions":
            return await _block_actions(state, verified)
        if kind == "view_submission":
            return await _view_submission(state, verified)
    except Rejected as rejected:
        return rejected.response
    return Response(status_code=200)  # shortcuts, closed modals, ...: nothing of ours
