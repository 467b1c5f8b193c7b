"""What Slack does once the learning loop has committed: mirror new actions and prompts to the
rep who owns the agent, redraw our messages when ratings or prompts change, remind in a prompt's
thread. The composition root subscribes these to the event bus; every Slack call is bounded in
time and a failure is logged, never raised: what it is about is committed already, and people
can still rate it elsewhere. Alerts' changes are only queued here (their own unit of work); the
worker shows them in Slack (`alert_delivery.py`), so Slack never delays the loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import Any

from backend.actions.events import ActionRecorded
from backend.alerts.events import AlertChanged
from backend.feedback.events import FeedbackGiven, FeedbackWithdrawn
from backend.prompts.events import PromptChange, PromptChanged
from backend.slack.alert_outbox import enqueue_alert_change
from backend.slack.models import PostKind
from backend.slack.posts import mirror_action, prompt_view, refresh_posts_about, remind_in_slack
from backend.state import AppState
from backend.unit_of_work import transaction

log = logging.getLogger(__name__)
SLACK_TIMEOUT = 5.0


async def _bounded(what: str, work: Awaitable[Any]) -> None:
    try:
        await asyncio.wait_for(work, timeout=SLACK_TIMEOUT)
    except Exception as exc:
        log.warning("%s: %s: %s", what, type(exc).__name__, exc)


async def _redraw(state: AppState, targets: set[tuple[int, int | None, int | None]]) -> None:
    for organization_id, action_id, message_id in sorted(targets, key=str):
        await _bounded(
            f"Slack messages about action {action_id} / message {message_id} not refreshed",
            refresh_posts_about(state, organization_id, action_id=action_id, message_id=message_id),
        )


async def mirror_recorded_actions(state: AppState, events: Sequence[ActionRecorded]) -> None:
    """Show each sent message and decision to its rep (a prompted one is posted as the prompt,
    when the prompt is announced)."""
    for event in events:
        if not (event.is_critical or event.has_message):
            continue
        async with state.sessions() as session:
            if await prompt_view(session, event.action_id) is not None:
                continue
        await _bounded(
            f"action {event.action_id} not mirrored to Slack", mirror_action(state, event.action_id)
        )


async def show_prompt_changes(state: AppState, events: Sequence[PromptChanged]) -> None:
    """Post new prompts, redraw answered and expired ones, remind in the prompt's thread."""
    redraw: set[tuple[int, int | None, int | None]] = set()
    for event in events:
        if event.change is PromptChange.CREATED:
            await _bounded(
                f"prompt about action {event.action_id} not posted to Slack",
                mirror_action(state, event.action_id, kind=PostKind.PROMPT),
            )
        elif event.change is PromptChange.REMINDED:
            await _bounded(
                f"prompt about action {event.action_id} not reminded in Slack",
                remind_in_slack(state, event.organization_id, event.action_id),
            )
        elif event.action_id != event.rated_action_id:  # else the rating's redraw shows it
            redraw.add((event.organization_id, event.action_id, None))
    await _redraw(state, redraw)


async def show_ratings(
    state: AppState, events: Sequence[FeedbackGiven] | Sequence[FeedbackWithdrawn]
) -> None:
    """Redraw every message about what was rated (or un-rated), from whichever channel."""
    await _redraw(
        state,
        {
            (e.organization_id, e.action_id, None if e.action_id is not None else e.message_id)
            for e in events
            if e.action_id is not None or e.message_id is not None
        },
    )


async def queue_alert_messages(state: AppState, events: Sequence[AlertChanged]) -> None:
    """Each change of an alert whose rule delivers to Slack: queued for each of its messages
    (posted on ``created``, updated after; a reminder replies in the thread)."""
    async with transaction(state.sessions) as session:
        now = state.now()
        for event in events:
            await enqueue_alert_change(session, event, now=now)
