"""The learning loop's use cases that span domains. Each is one unit of work: what must commit
together is called from here, in order (an action with its outcome windows and its prompt; an
outcome with its calibration rollup), and everything that follows happens after commit, through
the events the domains raise (handlers registered in ``backend.handlers``).

Resolvers, webhooks, the worker and the CLI call these; the domain services never commit, and no
channel (Slack, Gmail, e-mail) is named here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from backend.actions.service import (
    ActionInput,
    Judgement,
    RecordedAction,
    record_action,
)
from backend.calibration.drift import DecidedDays, follow_drift
from backend.calibration.maturity import TRAILING_DAYS, matured_until
from backend.calibration.monitors import feed_monitors, monitors_through
from backend.calibration.rollup import add_predictions
from backend.calibration.service import (
    reassess_agents,
    recalibration_in_force,
    recalibrations_in_force,
)
from backend.feedback.models import Feedback
from backend.feedback.service import FeedbackInput, SubmittedFeedback, submit_feedback
from backend.orgs.service import organization_config
from backend.outcomes.models import Outcome
from backend.outcomes.service import (
    Labelled,
    decided_outcomes,
    label_outcome,
    open_windows,
    outcomes_of,
    record_outcome,
)
from backend.outcomes.windows import close_expired_batch
from backend.policy.service import (
    decide,
    evidence_through,
    follow_outcomes,
    get_or_create_policy,
)
from backend.prompts import service as prompts
from backend.prompts.models import FeedbackPrompt
from backend.prompts.service import PromptPolicy, check_answer, prompt_critical_action
from backend.reviews.service import (
    SubmittedReview,
    ThreadReviewInput,
    record_review,
    review_target,
)
from backend.reviews.threads import assigned_threads
from backend.signals.service import SignalBatchResult, SignalInput, record_signals
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.viewer import Viewer

log = logging.getLogger(__name__)
Scope = tuple[int, int, str]  # (organisation, agent, action type)


# -- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmittedAction(RecordedAction):
    outcomes: list[Outcome]  # the windows opened with it


async def judge_action(
    session: AsyncSession, organization_id: int, agent_id: int, action_type: str, confidence: float
) -> Judgement:
    """The confidence through the recalibration map in force, and the policy's decision."""
    policy = await get_or_create_policy(
        session, organization_id=organization_id, agent_id=agent_id, action_type=action_type
    )
    recalibration = await recalibration_in_force(
        session, organization_id=organization_id, agent_id=agent_id, action_type=action_type
    )
    return Judgement(float(recalibration.apply(confidence)), decide(policy, confidence), policy)


async def submit_action(
    state: AppState, viewer: Viewer, data: ActionInput, *, now: dt.datetime | None = None
) -> SubmittedAction:
    """Record the action with its outcome windows; a critical one also asks its rep for
    feedback (a prompt, within the rep's daily budget)."""
    now = now or state.now()
    async with transaction(state.sessions) as session:
        recorded = await record_action(
            session, viewer, data, judge=partial(judge_action, session), now=now
        )
        if recorded.created:
            outcomes = await open_windows(session, recorded.action)
            await prompt_critical_action(
                session, recorded.action, policy=PromptPolicy.of(state.settings), now=now
            )
        else:
            outcomes = await outcomes_of(session, recorded.action.id)
    return SubmittedAction(
        recorded.action,
        recorded.created,
        recorded.calibrated_confidence,
        recorded.decision,
        recorded.policy,
        outcomes,
    )


# -- ratings ---------------------------------------------------------------------------------


async def _reread(state: AppState, feedback: Feedback) -> Feedback:
    """The rating as it stands once the handlers ran (e.g. marked as answering a prompt)."""
    async with state.sessions() as session:
        return await session.get(Feedback, feedback.id) or feedback


async def submit_rating(
    state: AppState, viewer: Viewer, data: FeedbackInput, *, now: dt.datetime | None = None
) -> SubmittedFeedback:
    """A person's rating from the dashboard, the API or Gmail; what it answers (prompts, review
    assignments) settles after commit."""
    async with transaction(state.sessions) as session:
        submitted = await submit_feedback(
            session, viewer, data, now=now or state.now(), assigned=assigned_threads
        )
    return SubmittedFeedback(await _reread(state, submitted.feedback), submitted.created)


async def answer_prompt(
    state: AppState,
    viewer: Viewer,
    *,
    prompt_id: int,
    rating: int,
    comment: str | None,
    channel: str,
    author_email: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[FeedbackPrompt, SubmittedFeedback]:
    """The prompted person's rating of the prompt's action (1..5), which closes the prompt
    everywhere; answering again changes the rating."""
    now = now or state.now()
    async with transaction(state.sessions) as session:
        prompt = await check_answer(session, viewer, prompt_id, author_email=author_email, now=now)
        data = FeedbackInput(
            channel=channel,
            action_id=prompt.action_id,
            rating=rating,
            comment=comment,
            prompted=True,
            author_email=author_email,
        )
        submitted = await submit_feedback(session, viewer, data, now=now)
    async with state.sessions() as session:
        prompt = await session.get(FeedbackPrompt, prompt_id) or prompt
    return prompt, SubmittedFeedback(await _reread(state, submitted.feedback), submitted.created)


async def submit_thread_review(
    state: AppState, viewer: Viewer, data: ThreadReviewInput, *, now: dt.datetime | None = None
) -> SubmittedReview:
    """A review of a whole thread: stored as the reviewer's conversation feedback, and their
    assignment of the thread marked done (or recorded as a manual one)."""
    now = now or state.now()
    async with transaction(state.sessions) as session:
        target = await review_target(session, viewer, data)
        submitted = await submit_feedback(
            session,
            target.scope,
            FeedbackInput(
                channel=data.channel,
                thread_external_id=target.external_thread_id,
                rating=data.rating,
                criteria=target.criteria,
                comment=data.comment,
            ),
            now=now,
        )
        assignment = await record_review(session, viewer, target, now=now)
    return SubmittedReview(submitted.feedback, assignment, submitted.created)


# -- outcomes --------------------------------------------------------------------------------


async def submit_signals(
    state: AppState,
    viewer: Viewer,
    signals: Sequence[SignalInput],
    *,
    now: dt.datetime | None = None,
) -> SignalBatchResult:
    async with transaction(state.sessions) as session:
        result = await record_signals(session, viewer, signals, now=now or state.now())
        await add_predictions(session, result.predictions)
    return result


async def submit_label(
    state: AppState,
    viewer: Viewer,
    *,
    outcome_id: int,
    level: str | int,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> Labelled:
    async with transaction(state.sessions) as session:
        labelled = await label_outcome(
            session, viewer, outcome_id=outcome_id, level=level, note=note, now=now or state.now()
        )
        await add_predictions(session, labelled.resolutions.predictions)
    return labelled


async def submit_outcome(
    state: AppState,
    viewer: Viewer,
    *,
    action_id: int,
    outcome_type: str,
    level: str | int,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> Labelled:
    async with transaction(state.sessions) as session:
        labelled = await record_outcome(
            session,
            viewer,
            action_id=action_id,
            outcome_type=outcome_type,
            level=level,
            note=note,
            now=now or state.now(),
        )
        await add_predictions(session, labelled.resolutions.predictions)
    return labelled


async def close_expired_windows(
    state: AppState, *, now: dt.datetime | None = None, batch_size: int = 500
) -> int:
    """Close every expired window, one unit of work per claimed batch; returns how many."""
    now = now or state.now()
    closed = 0
    while True:
        async with transaction(state.sessions) as session:
            resolutions = await close_expired_batch(session, now=now, batch_size=batch_size)
            await add_predictions(session, resolutions.predictions)
        count = resolutions.resolved + len(resolutions.labelling)
        closed += count
        if count < batch_size:
            return closed


# -- calibration and policy ------------------------------------------------------------------


async def refresh_calibration(
    state: AppState,
    scopes: Iterable[Scope],
    *,
    today: dt.date,
    now: dt.datetime | None = None,
) -> None:
    """Re-assess each scope's calibration and let its agent's policy follow the evidence, the
    scopes of one organisation and action type in one unit of work (``follow_calibration``), as
    of ``now`` (default: the state's clock). A failure here never undoes the outcomes already
    committed: the next outcome re-assesses again."""
    now = now or state.now()
    groups: dict[tuple[int, str], set[int]] = defaultdict(set)
    for organization_id, agent_id, action_type in scopes:
        groups[(organization_id, action_type)].add(agent_id)
    for (organization_id, action_type), agent_ids in sorted(groups.items()):
        for attempt in (1, 2):
            try:
                async with transaction(state.sessions) as session:
                    await follow_calibration(
                        session,
                        organization_id=organization_id,
                        agent_ids=agent_ids,
                        action_type=action_type,
                        today=today,
                        now=now,
                    )
                break
            except (StaleDataError, IntegrityError):
                # another process moved a policy, or fed (or first created) a monitor or a
                # policy's evidence meanwhile: look again (what it fed is not fed twice)
                if attempt == 2:
                    log.warning(
                        "policies of agents %s/%s kept changing; skipped",
                        sorted(agent_ids),
                        action_type,
                    )


async def follow_calibration(
    session: AsyncSession,
    *,
    organization_id: int,
    agent_ids: Iterable[int],
    action_type: str,
    today: dt.date,
    now: dt.datetime | None = None,
) -> int:
    """Feed the days that matured since they were last fed to the agents' and the
    organisation's calibration monitors and the agents' change detectors (an agent found
    changed is refitted from the day of its change: ``backend.calibration.drift``), re-assess
    the agents' action type (and the organisation's: they read the same rollup; each verdict
    acts once its monitor confirms it), then feed each agent's policy the same days: one read
    of the decided outcomes per scope and day, in the actions' order (monitors, detectors and
    dead bands are sequential tests). All in ``session``'s unit of work, as of ``now``
    (default: the clock). Returns how many policies moved."""
    agents = sorted(set(agent_ids))
    config = await organization_config(session, organization_id)
    through = matured_until(config, action_type, today)
    first = through - dt.timedelta(days=TRAILING_DAYS)  # a scope never fed starts here
    monitored = await monitors_through(
        session, organization_id=organization_id, action_type=action_type, agent_ids=[None, *agents]
    )
    fed = await evidence_through(session, agent_ids=agents, action_type=action_type)
    monitors = {a: monitored.get(a) or first for a in (None, *agents)}
    policies = {a: fed.get(a) or first for a in agents}
    due = [after for after in (*monitors.values(), *policies.values()) if after < through]
    decided = (
        await decided_outcomes(
            session,
            organization_id=organization_id,
            action_type=action_type,
            config=config,
            after=min(due),
            through=through,
        )
        if due
        else []
    )

    def since(agent_id: int | None, after: dt.date) -> DecidedDays:
        rows = [o for o in decided if o.day > after and agent_id in (None, o.agent_id)]
        return DecidedDays([o.day for o in rows], [o.p for o in rows], [o.y for o in rows])

    fresh = {a: since(a, after) for a, after in monitors.items() if after < through}
    await feed_monitors(
        session,
        organization_id=organization_id,
        action_type=action_type,
        outcomes={a: (days.p, days.y) for a, days in fresh.items()},
        through=through,
        now=now,
    )
    drifting = {a: days for a, days in fresh.items() if a is not None and days.p}
    if drifting:  # each agent's detector reads its outcomes through its map in force
        maps = await recalibrations_in_force(
            session,
            organization_id=organization_id,
            policies=[(a, action_type) for a in drifting],
        )
        await follow_drift(
            session,
            organization_id=organization_id,
            action_type=action_type,
            outcomes=drifting,
            maps={a: maps[(a, action_type)] for a in drifting},
            window_since=first,
            through=through,
            now=now,
        )
    await reassess_agents(
        session,
        organization_id=organization_id,
        agent_ids=agents,
        action_type=action_type,
        today=today,
        now=now,
    )
    moved = 0
    for agent_id, after in policies.items():
        if after >= through:
            continue
        days = since(agent_id, after)
        change = await follow_outcomes(
            session,
            organization_id=organization_id,
            agent_id=agent_id,
            action_type=action_type,
            p=days.p,
            y=days.y,
            through=through,
            config=config,
            now=now,
        )
        moved += change is not None
    return moved


# -- prompts (the worker's jobs) -------------------------------------------------------------


async def _drain(
    state: AppState, claim: Callable[[AsyncSession], Awaitable[list[FeedbackPrompt]]]
) -> int:
    """Claim prompts batch after batch, each batch its own unit of work; how many."""
    done = 0
    while True:
        async with transaction(state.sessions) as session:
            claimed = len(await claim(session))
        done += claimed
        if claimed < prompts.BATCH_SIZE:
            return done


async def expire_prompts(state: AppState, *, now: dt.datetime | None = None) -> int:
    """Expire the prompts whose time is up."""
    now = now or state.now()
    return await _drain(state, lambda session: prompts.expire_prompts(session, now=now))


async def remind_prompts(state: AppState, *, now: dt.datetime | None = None) -> int:
    """Mark for their one reminder the prompts still open halfway (by default) to expiry."""
    now = now or state.now()
    policy = PromptPolicy.of(state.settings)
    return await _drain(
        state, lambda session: prompts.remind_prompts(session, now=now, policy=policy)
    )


async def suggest_reviews(state: AppState, *, now: dt.datetime | None = None) -> int:
    """Prompt each rep about the routine actions where a judgment is worth most, within what
    is left of their day's budget; each person in their own unit of work."""
    now = now or state.now()
    policy = PromptPolicy.of(state.settings)
    async with state.sessions() as session:
        people = await prompts.people_to_suggest_to(session, now=now)
    done = 0
    for user_id in people:
        async with transaction(state.sessions) as session:
            done += len(await prompts.suggest_reviews(session, user_id, policy=policy, now=now))
    return done
