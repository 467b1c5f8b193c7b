"""The learning loop's orchestration: one unit of work per request or batch, then, after
commit, publish its events and re-assess the calibration it moved (which may move a policy).

Resolvers, webhooks and the worker call these; the domain services below never commit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from backend.actions.service import ActionInput, RecordedAction, record_action
from backend.auth.viewer import Viewer
from backend.calibration.service import reassess
from backend.database import transaction, utcnow
from backend.events.service import Event, publish, take_pending
from backend.feedback.service import FeedbackInput, SubmittedFeedback, submit_feedback
from backend.outcomes.service import Labelled, label_outcome, record_outcome
from backend.outcomes.windows import close_expired_batch
from backend.prompts import service as prompts
from backend.prompts.models import FeedbackPrompt
from backend.prompts.service import EVENT as PROMPT_EVENT
from backend.prompts.service import PromptPolicy, check_answer, prompt_critical_action
from backend.signals.service import SignalBatchResult, SignalInput, record_signals
from backend.slack.models import PostKind
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
    """Record the action; a critical one also asks its rep for feedback (a prompt, within the
    rep's daily budget), posted to them in Slack as the prompt instead of a plain mirror."""
    prompt = None
    async with transaction(state.sessions) as session:
        recorded = await record_action(session, viewer, data, now=now)
        if recorded.created:
            prompt = await prompt_critical_action(
                session, recorded.action, policy=PromptPolicy.of(state.settings),
                now=now or utcnow(),
            )  # fmt: skip
        events = take_pending(session)
    await publish(state.broker, events)
    if prompt is not None:
        await mirror_to_slack(state, recorded.action.id, kind=PostKind.PROMPT)
    elif recorded.created and (recorded.action.is_critical or recorded.action.message_id):
        await mirror_to_slack(state, recorded.action.id)
    return recorded


async def _bounded(what: str, work: Awaitable[Any]) -> None:
    """Run a Slack side effect within SLACK_TIMEOUT; a failure is logged, never raised: what
    it is about is committed already, and people can still rate it elsewhere."""
    try:
        await asyncio.wait_for(work, timeout=SLACK_TIMEOUT)
    except Exception as exc:
        log.warning("%s: %s: %s", what, type(exc).__name__, exc)


async def mirror_to_slack(state: AppState, action_id: int, *, kind: Any = None) -> None:
    """Show a sent message, a decision or a prompt to the rep in Slack, when the organisation
    has Slack."""
    from backend.slack.posts import mirror_action

    await _bounded(f"action {action_id} not mirrored to Slack",
                   mirror_action(state, action_id, kind=kind))  # fmt: skip


async def refresh_slack_about(
    state: AppState, organization_id: int, *, action_id: int | None = None,
    message_id: int | None = None,
) -> None:  # fmt: skip
    """Redraw our Slack messages about an action or a message (ratings or a prompt changed)."""
    from backend.slack.posts import refresh_posts_about

    if action_id is None and message_id is None:
        return
    await _bounded(
        f"Slack messages about action {action_id} / message {message_id} not refreshed",
        refresh_posts_about(state, organization_id, action_id=action_id, message_id=message_id),
    )


async def after_feedback(
    state: AppState, events: Sequence[Event], feedback: Any, *, slack_redrawn: bool = False
) -> None:
    """After a rating committed, from any channel: publish its events (prompts answered) and
    redraw the Slack messages about what it rated (unless the Slack handler redraws them
    itself) and about the prompts it answered."""
    await publish(state.broker, events)
    if not slack_redrawn:
        await refresh_slack_about(state, feedback.organization_id, action_id=feedback.action_id,
                                  message_id=feedback.message_id)  # fmt: skip
    answered = {e.data["actionId"] for e in events if e.name == PROMPT_EVENT}
    for action_id in sorted(answered - {feedback.action_id}):
        await refresh_slack_about(state, feedback.organization_id, action_id=action_id)


async def submit_rating(
    state: AppState, viewer: Viewer, data: FeedbackInput, *, now: dt.datetime | None = None
) -> SubmittedFeedback:
    """A person's rating from the dashboard, the API or Gmail (Slack's handlers store their
    own and then call ``after_feedback``)."""
    async with transaction(state.sessions) as session:
        submitted = await submit_feedback(session, viewer, data, now=now)
        events = take_pending(session)
    await after_feedback(state, events, submitted.feedback)
    return submitted


async def answer_prompt(
    state: AppState, viewer: Viewer, *, prompt_id: int, rating: int, comment: str | None,
    channel: str, author_email: str | None = None, now: dt.datetime | None = None,
) -> tuple[FeedbackPrompt, SubmittedFeedback]:  # fmt: skip
    """The prompted person's rating of the prompt's action (1..5), which closes the prompt
    everywhere; answering again changes the rating."""
    now = now or utcnow()
    async with transaction(state.sessions) as session:
        prompt = await check_answer(session, viewer, prompt_id, author_email=author_email,
                                    now=now)  # fmt: skip
        submitted = await submit_feedback(session, viewer, FeedbackInput(
            channel=channel, action_id=prompt.action_id, rating=rating, comment=comment,
            prompted=True, author_email=author_email,
        ), now=now)  # fmt: skip
        events = take_pending(session)  # `prompt` itself was answered in place
    await after_feedback(state, events, submitted.feedback)
    return prompt, submitted


async def _drain_prompts(
    state: AppState,
    claim: Callable[[AsyncSession], Awaitable[list[FeedbackPrompt]]],
    tell: Callable[[int, int], Awaitable[None]],
) -> int:
    """Claim prompts batch after batch (each batch its own unit of work), publish the changes,
    then ``tell(organization_id, action_id)`` about each; how many were claimed."""
    done = 0
    while True:
        async with transaction(state.sessions) as session:
            claimed = [(p.organization_id, p.action_id) for p in await claim(session)]
            events = take_pending(session)
        await publish(state.broker, events)
        for organization_id, action_id in claimed:
            await tell(organization_id, action_id)
        done += len(claimed)
        if len(claimed) < prompts.BATCH_SIZE:
            return done


async def expire_prompts(state: AppState, *, now: dt.datetime | None = None) -> int:
    """Expire the prompts whose time is up and redraw their Slack messages."""
    now = now or utcnow()

    async def redraw(organization_id: int, action_id: int) -> None:
        await refresh_slack_about(state, organization_id, action_id=action_id)

    return await _drain_prompts(
        state, lambda session: prompts.expire_prompts(session, now=now), redraw
    )


async def remind_prompts(state: AppState, *, now: dt.datetime | None = None) -> int:
    """Remind once the people whose prompts are still open halfway (by default) to expiry."""
    from backend.slack.posts import remind_in_slack

    now = now or utcnow()
    policy = PromptPolicy.of(state.settings)

    async def remind(organization_id: int, action_id: int) -> None:
        await _bounded(f"prompt about action {action_id} not reminded in Slack",
                       remind_in_slack(state, organization_id, action_id))  # fmt: skip

    return await _drain_prompts(
        state, lambda session: prompts.remind_prompts(session, now=now, policy=policy), remind
    )


async def suggest_reviews(state: AppState, *, now: dt.datetime | None = None) -> int:
    """Prompt each rep about the routine actions where a judgment is worth most, within what
    is left of their day's budget; each person in their own unit of work."""
    now = now or utcnow()
    policy = PromptPolicy.of(state.settings)
    async with state.sessions() as session:
        people = await prompts.people_to_suggest_to(session, now=now)
    done = 0
    for user_id in people:
        async with transaction(state.sessions) as session:
            created = [p.action_id for p in await prompts.suggest_reviews(
                session, user_id, policy=policy, now=now)]  # fmt: skip
            events = take_pending(session)
        await publish(state.broker, events)
        for action_id in created:
            await mirror_to_slack(state, action_id, kind=PostKind.PROMPT)
        done += len(created)
    return done


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
