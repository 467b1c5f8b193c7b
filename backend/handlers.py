"""Who reacts to what: the handlers of the learning loop's events, subscribed to a process's
event bus. Each runs after the unit of work that raised its events has committed, in the order
below, and anything it writes is its own unit of work (whose events are dispatched in turn).

- ActionRecorded (actions): Slack mirrors sent messages and decisions to the rep.
- OutcomeResolved (outcomes: signals, labels, windows closing): calibration re-assesses the
  scopes it moved and the policy follows (``learning.refresh_calibration``).
- FeedbackGiven (feedback, from any channel): the author's prompts about the target are
  answered; their review assignment of the thread is completed; Slack redraws its messages.
- FeedbackWithdrawn (feedback: a Slack reaction removed): Slack redraws its messages.
- PromptChanged (prompts: created, answered, expired, reminded): the answering rating is marked
  `prompted`; Slack posts the prompt, redraws it or reminds in its thread.

- calibration.changed / policy.changed (live events of calibration and policy): the
  calibration and policy alert rules fire, clear or give notice (``backend.alerts.triggers``).
- AlertChanged (alerts: created, acknowledged, resolved, snoozed): the e-mails of rules with the
  e-mail channel are enqueued in the outbox (``backend.notifications``); the worker sends them.
- AlertChanged (created, acknowledged, resolved, snoozed, reminded): for rules with the Slack
  channel, the change is queued for each of the alert's Slack messages
  (``backend.slack.alert_outbox``); the worker posts, updates or replies in the thread.
- AlertChanged, calibration.changed, policy.changed: a delivery is queued for each partner
  webhook endpoint subscribed to it (``backend.partner_webhooks``); the worker sends them.

- AccessRevoked (auth: an API key revoked, a session signed out): announced on the broker,
  where each process's live hub ends the subscriptions of that credential at once.

Live events (``backend.events.service.Event``) go to the broker before any handler runs.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

from backend.actions.events import ActionRecorded
from backend.alerts.events import AlertChanged
from backend.alerts.triggers import alerts_from_calibration, alerts_from_policy
from backend.auth.events import AccessRevoked, announce_revocations
from backend.database import utcnow
from backend.events.service import Event
from backend.feedback.events import FeedbackGiven, FeedbackWithdrawn
from backend.feedback.service import mark_prompted
from backend.learning import Scope, refresh_calibration
from backend.notifications.subscribers import enqueue_alert_changes
from backend.outcomes.events import OutcomeResolved
from backend.partner_webhooks.subscribers import queue_alert_webhooks, queue_live_event_webhooks
from backend.prompts.events import PromptChange, PromptChanged
from backend.prompts.service import answer_prompts
from backend.reviews.service import settle_assignments
from backend.settings import Settings
from backend.slack.subscribers import (
    mirror_recorded_actions,
    queue_alert_messages,
    show_prompt_changes,
    show_ratings,
)
from backend.state import AppState, Clock
from backend.unit_of_work import transaction


async def reassess_calibration(state: AppState, events: Sequence[OutcomeResolved]) -> None:
    """Re-assess the scopes whose calibrating outcomes were decided, as of the day they were
    (stamped with the latest decision's time that day, never the clock)."""
    by_day: dict[Any, set[Scope]] = defaultdict(set)
    latest: dict[Any, dt.datetime] = {}
    for event in events:
        if event.calibrates:
            day = event.at.date()
            by_day[day].add((event.organization_id, event.agent_id, event.action_type))
            latest[day] = max(latest.get(day, event.at), event.at)
    for today, scopes in sorted(by_day.items()):
        await refresh_calibration(state, scopes, today=today, now=latest[today])


async def settle_prompts(state: AppState, events: Sequence[FeedbackGiven]) -> None:
    """A rating answers its author's open prompts about what it rated, from any channel."""
    async with transaction(state.sessions) as session:
        for event in events:
            await answer_prompts(session, event)


async def settle_review_assignments(state: AppState, events: Sequence[FeedbackGiven]) -> None:
    """A rating of a thread completes its author's open assignment to review it."""
    if any(e.conversation_id is not None for e in events):
        async with transaction(state.sessions) as session:
            for event in events:
                await settle_assignments(session, event)


async def mark_answering_ratings(state: AppState, events: Sequence[PromptChanged]) -> None:
    """A rating that answered a prompt stays `prompted`, however it is changed later."""
    answering = [
        e.feedback_id
        for e in events
        if e.change is PromptChange.ANSWERED and e.feedback_id is not None
    ]
    if answering:
        async with transaction(state.sessions) as session:
            await mark_prompted(session, answering)


async def raise_alerts(state: AppState, events: Sequence[Event]) -> None:
    """Calibration and policy rules fire from the events that changed them."""
    moved = [e for e in events if e.name in ("calibration.changed", "policy.changed")]
    if moved:
        async with transaction(state.sessions) as session:
            now = state.now()
            await alerts_from_calibration(session, moved, now=now)
            await alerts_from_policy(session, moved, now=now)


async def end_revoked_access(state: AppState, events: Sequence[AccessRevoked]) -> None:
    """Revoked credentials let go of what they hold open: told to every process's live hub."""
    await announce_revocations(state.broker, events)


def register_handlers(state: AppState) -> None:
    """Subscribe every handler to ``state.bus``, in the order they run."""

    def on(event_type: type, handler: Callable[[AppState, Sequence[Any]], Awaitable[None]]) -> None:
        state.bus.subscribe(event_type, partial(handler, state))

    on(ActionRecorded, mirror_recorded_actions)
    on(OutcomeResolved, reassess_calibration)
    on(FeedbackGiven, settle_prompts)
    on(FeedbackGiven, settle_review_assignments)
    on(FeedbackGiven, show_ratings)
    on(FeedbackWithdrawn, show_ratings)
    on(PromptChanged, mark_answering_ratings)
    on(PromptChanged, show_prompt_changes)
    on(Event, raise_alerts)
    on(AlertChanged, enqueue_alert_changes)
    on(AlertChanged, queue_alert_messages)
    on(Event, queue_live_event_webhooks)
    on(AlertChanged, queue_alert_webhooks)
    on(AccessRevoked, end_revoked_access)


def open_state(settings: Settings, *, clock: Clock = utcnow) -> AppState:
    """A process's state with every handler registered: what the server, the worker, the CLI
    and tests run on."""
    state = AppState.open(settings, clock=clock)
    register_handlers(state)
    return state
