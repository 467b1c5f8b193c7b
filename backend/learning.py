"""The learning loop's orchestration: one unit of work per request or batch, then, after
commit, publish its events and re-assess the calibration it moved (which may move a policy).

Resolvers, webhooks and the worker call these; the domain services below never commit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm.exc import StaleDataError

from backend.actions.service import ActionInput, RecordedAction, record_action
from backend.auth.viewer import Viewer
from backend.calibration.service import reassess
from backend.database import transaction, utcnow
from backend.events.service import publish, take_pending
from backend.outcomes.service import Labelled, label_outcome, record_outcome
from backend.outcomes.windows import close_expired_batch
from backend.signals.service import SignalBatchResult, SignalInput, record_signals
from backend.state import AppState

log = logging.getLogger(__name__)
SLACK_TIMEOUT = 5.0
Scope = tuple[int, int, str]  # (organisation, agent, action type)


async def refresh_calibration(state: AppState, scopes: Iterable[Scope], *, today: dt.date) -> None:
    """Re-assess each scope in its own unit of work; publish what changed. A failure here never
    undoes the outcomes already committed: the next outcome re-assesses again.

    The organisation-wide assessment of an action type reads the same rollup whichever agent
    moved it, so it runs once per (organisation, action type), with the first scope that
    succeeds, not once per agent."""
    organization_done: set[tuple[int, str]] = set()
    for organization_id, agent_id, action_type in sorted(set(scopes)):
        for attempt in (1, 2):
            try:
                async with transaction(state.sessions) as session:
                    await reassess(
                        session, organization_id=organization_id, agent_id=agent_id,
                        action_type=action_type, today=today,
                        include_organization=(organization_id, action_type)
                        not in organization_done,
                    )  # fmt: skip
                    events = take_pending(session)
                organization_done.add((organization_id, action_type))
                await publish(state.broker, events)
                break
            except StaleDataError:  # another process moved the policy meanwhile: look again
                if attempt == 2:
                    log.warning("policy of agent %s/%s kept changing; skipped", agent_id,
                                action_type)  # fmt: skip


async def submit_action(
    state: AppState, viewer: Viewer, data: ActionInput, *, now: dt.datetime | None = None
) -> RecordedAction:
    async with transaction(state.sessions) as session:
        recorded = await record_action(session, viewer, data, now=now)
        events = take_pending(session)
    await publish(state.broker, events)
    if recorded.created and (recorded.action.is_critical or recorded.action.message_id):
        await mirror_to_slack(state, recorded.action.id)
    return recorded


async def mirror_to_slack(state: AppState, action_id: int) -> None:
    """Show a sent message or a decision to the rep in Slack, when the organisation has Slack.
    Bounded in time; a Slack failure is logged and never fails the recorded action."""
    from backend.slack.posts import mirror_action

    try:
        await asyncio.wait_for(mirror_action(state, action_id), timeout=SLACK_TIMEOUT)
    except Exception as exc:  # the action stands; the rep can still rate it elsewhere
        log.warning("action %s not mirrored to Slack: %s: %s", action_id,
                    type(exc).__name__, exc)  # fmt: skip


async def refresh_slack_after_feedback(state: AppState, feedback: Any) -> None:
    """Redraw our Slack messages about what was just rated elsewhere (dashboard, API, Gmail)."""
    from backend.slack.posts import refresh_posts_about

    if feedback.action_id is None and feedback.message_id is None:
        return
    try:
        await asyncio.wait_for(
            refresh_posts_about(state, feedback.organization_id, action_id=feedback.action_id,
                                message_id=feedback.message_id),
            timeout=SLACK_TIMEOUT,
        )  # fmt: skip
    except Exception as exc:
        log.warning("Slack messages about feedback %s not refreshed: %s: %s", feedback.id,
                    type(exc).__name__, exc)  # fmt: skip


async def submit_signals(
    state: AppState, viewer: Viewer, signals: Sequence[SignalInput], *,
    now: dt.datetime | None = None,
) -> SignalBatchResult:  # fmt: skip
    now = now or utcnow()
    async with transaction(state.sessions) as session:
        result = await record_signals(session, viewer, signals, now=now)
        events = take_pending(session)
    await publish(state.broker, events)
    await refresh_calibration(state, result.scopes, today=now.date())
    return result


async def submit_label(
    state: AppState, viewer: Viewer, *, outcome_id: int, level: str | int,
    note: str | None = None, now: dt.datetime | None = None,
) -> Labelled:  # fmt: skip
    now = now or utcnow()
    async with transaction(state.sessions) as session:
        labelled = await label_outcome(
            session, viewer, outcome_id=outcome_id, level=level, note=note, now=now
        )
        events = take_pending(session)
    await publish(state.broker, events)
    await refresh_calibration(state, labelled.resolutions.scopes(), today=now.date())
    return labelled


async def submit_outcome(
    state: AppState, viewer: Viewer, *, action_id: int, outcome_type: str, level: str | int,
    note: str | None = None, now: dt.datetime | None = None,
) -> Labelled:  # fmt: skip
    now = now or utcnow()
    async with transaction(state.sessions) as session:
        labelled = await record_outcome(
            session, viewer, action_id=action_id, outcome_type=outcome_type, level=level,
            note=note, now=now,
        )  # fmt: skip
        events = take_pending(session)
    await publish(state.broker, events)
    await refresh_calibration(state, labelled.resolutions.scopes(), today=now.date())
    return labelled


async def close_expired_windows(
    state: AppState, *, now: dt.datetime | None = None, batch_size: int = 500
) -> int:
    """Close every expired window, one transaction per claimed batch; returns how many."""
    now = now or utcnow()
    closed = 0
    while True:
        async with transaction(state.sessions) as session:
            resolutions = await close_expired_batch(session, now=now, batch_size=batch_size)
            events = take_pending(session)
        count = resolutions.resolved + len(resolutions.labelling)
        await publish(state.broker, events)
        await refresh_calibration(state, resolutions.scopes(), today=now.date())
        closed += count
        if count < batch_size:
            return closed
