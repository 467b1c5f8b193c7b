"""Use cases of feedback prompts.

A prompt asks the rep who owns the agent to judge one action. Critical actions (escalations,
stage changes) are prompted when they are recorded; routine actions are suggested for review by
the worker where a judgment is worth most (`suggest_reviews`). Every prompt a person receives
takes one unit of their daily budget (an atomic conditional increment, so concurrent writers
never overspend it); critical actions come first because they are prompted as they happen, and
suggestions only use what is left of `daily_suggestions`.

A prompt is answered by the prompted person's rating of the action (or of the message the
action sent) through any channel: the feedback service calls `answer_prompts` in the same unit
of work as the rating. Open prompts are reminded once, then expire. Every change records a
`feedback_prompt.changed` event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.agents.models import Agent
from backend.database import dialect_insert
from backend.errors import DomainError, ErrorCode, NotFoundError, Problems
from backend.events.service import record_event
from backend.feedback.events import FeedbackGiven
from backend.feedback.models import Feedback, FeedbackTarget
from backend.orgs.models import User
from backend.outcomes.models import Outcome
from backend.pagination import Page, paginate
from backend.prompts.events import PromptChange, PromptChanged
from backend.prompts.models import FeedbackPrompt, PromptBudget, PromptReason, PromptState
from backend.scope import scope_agents
from backend.settings import Settings
from backend.unit_of_work import raise_event
from backend.viewer import Viewer, ViewerRole, scoped

EVENT = "feedback_prompt.changed"
BATCH_SIZE = 500  # prompts expired or reminded per unit of work
# Suggestions: how far back routine actions are considered, how many per person per run are
# scored, and the thresholds below which a judgment is not worth a prompt.
SUGGESTION_LOOKBACK = dt.timedelta(days=7)
SUGGESTION_CANDIDATES = 500
MIN_UNCERTAINTY = 0.8  # 1 − |2c − 1| ≥ 0.8: calibrated confidence within 0.4..0.6
MIN_DISAGREEMENT = 0.5  # |c − outcome| ≥ 0.5: the outcome went the other way


@dataclass(frozen=True)
class PromptPolicy:
    """How prompts behave (from settings: PROMPT_TTL_HOURS, PROMPT_REMIND_AFTER_HOURS,
    PROMPT_DAILY_BUDGET, PROMPT_DAILY_SUGGESTIONS)."""

    ttl: dt.timedelta = dt.timedelta(hours=24)
    remind_after: dt.timedelta = dt.timedelta(hours=12)
    daily_budget: int = 10
    daily_suggestions: int = 3

    @classmethod
    def of(cls, settings: Settings) -> PromptPolicy:
        return cls(
            ttl=dt.timedelta(hours=settings.prompt_ttl_hours),
            remind_after=dt.timedelta(hours=settings.prompt_remind_after_hours),
            daily_budget=settings.prompt_daily_budget,
            daily_suggestions=settings.prompt_daily_suggestions,
        )


async def _announce(
    session: AsyncSession,
    prompts: Sequence[FeedbackPrompt],
    change: PromptChange,
    *,
    rated_action_id: int | None = None,
) -> None:
    """Write the prompts' changes, then record a `feedback_prompt.changed` live event and raise
    a ``PromptChanged`` for each."""
    await session.flush()
    for prompt in prompts:
        await record_event(
            session,
            name=EVENT,
            organization_id=prompt.organization_id,
            stream=f"prompts:user:{prompt.user_id}",
            data={
                "promptId": prompt.id,
                "agentId": prompt.agent_id,
                "userId": prompt.user_id,
                "actionId": prompt.action_id,
                "state": prompt.state,
                "change": change.value,
            },
        )
        raise_event(
            session,
            PromptChanged(
                prompt.organization_id,
                prompt.id,
                prompt.action_id,
                prompt.user_id,
                change,
                prompt.feedback_id,
                rated_action_id,
            ),
        )


async def _claim(
    session: AsyncSession, *conditions: Any, order: Sequence[Any], batch_size: int
) -> list[FeedbackPrompt]:
    """Open prompts meeting ``conditions``, locked (rows another worker holds are skipped)."""
    return list(
        await session.scalars(
            select(FeedbackPrompt)
            .where(FeedbackPrompt.state == PromptState.OPEN.value, *conditions)
            .order_by(*order, FeedbackPrompt.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    )


async def take_budget(
    session: AsyncSession, *, organization_id: int, user_id: int, day: dt.date, budget: int
) -> bool:
    """Take one prompt of ``user_id``'s budget for ``day``; False when it is spent."""
    if budget <= 0:
        return False
    insert = dialect_insert(session, PromptBudget)
    statement = (
        insert.values(organization_id=organization_id, user_id=user_id, day=day, used=1)
        .on_conflict_do_update(
            index_elements=["user_id", "day"],
            set_={"used": PromptBudget.used + 1},
            where=PromptBudget.used < budget,
        )
        .returning(PromptBudget.used)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def budget_used(session: AsyncSession, *, user_id: int, day: dt.date) -> int:
    used = await session.scalar(
        select(PromptBudget.used).where(PromptBudget.user_id == user_id, PromptBudget.day == day)
    )
    return int(used or 0)


async def _create(
    session: AsyncSession,
    action: AgentAction,
    user_id: int,
    reason: PromptReason,
    policy: PromptPolicy,
    now: dt.datetime,
) -> FeedbackPrompt | None:
    """The prompt, or None when the person's budget is spent or they were asked already."""
    day = now.date()
    if not await take_budget(
        session,
        organization_id=action.organization_id,
        user_id=user_id,
        day=day,
        budget=policy.daily_budget,
    ):
        return None
    # Whoever asks the same person about the same action first wins on the unique key (two
    # suggestion runs at once); the loser gives its unit of budget back.
    inserted = await session.scalar(
        dialect_insert(session, FeedbackPrompt)
        .values(
            organization_id=action.organization_id,
            agent_id=action.agent_id,
            action_id=action.id,
            user_id=user_id,
            reason=reason.value,
            state=PromptState.OPEN.value,
            created_at=now,
            expires_at=now + policy.ttl,
        )
        .on_conflict_do_nothing(index_elements=["action_id", "user_id"])
        .returning(FeedbackPrompt.id)
    )
    if inserted is None:
        await session.execute(
            update(PromptBudget)
            .where(PromptBudget.user_id == user_id, PromptBudget.day == day)
            .values(used=PromptBudget.used - 1)
        )
        return None
    prompt = await session.get(FeedbackPrompt, inserted)
    assert prompt is not None
    await _announce(session, [prompt], PromptChange.CREATED)
    return prompt


async def prompt_critical_action(
    session: AsyncSession, action: AgentAction, *, policy: PromptPolicy, now: dt.datetime
) -> FeedbackPrompt | None:
    """Ask the rep who owns the agent about a critical action just recorded; None when the
    action is routine, the owner is inactive, or their budget for today is spent."""
    if not action.is_critical:
        return None
    owner = await session.scalar(
        select(User.id)
        .join(Agent, Agent.owner_id == User.id)
        .where(Agent.id == action.agent_id, User.active.is_(True))
    )
    if owner is None:
        return None
    return await _create(session, action, owner, PromptReason.CRITICAL_ACTION, policy, now)


async def answer_prompts(session: AsyncSession, given: FeedbackGiven) -> list[FeedbackPrompt]:
    """Close the author's open prompts that a rating answers: about its action, or about the
    action that sent its message, whichever channel the rating came from. A prompt past its
    expiry at the time of the rating stays open (the worker expires it)."""
    if given.target_type == FeedbackTarget.ACTION.value:
        about = FeedbackPrompt.action_id == given.action_id
    elif given.target_type == FeedbackTarget.MESSAGE.value:
        about = FeedbackPrompt.action_id.in_(
            select(AgentAction.id).where(AgentAction.message_id == given.message_id)
        )
    else:
        return []
    prompts = list(
        await session.scalars(
            select(FeedbackPrompt)
            .where(
                FeedbackPrompt.organization_id == given.organization_id,
                FeedbackPrompt.user_id == given.author_id,
                FeedbackPrompt.state == PromptState.OPEN.value,
                FeedbackPrompt.expires_at > given.at,
                about,
            )
            .with_for_update()
        )
    )
    for prompt in prompts:
        prompt.state = PromptState.ANSWERED.value
        prompt.answered_at = given.at
        prompt.answered_channel = given.channel
        prompt.feedback_id = given.feedback_id
    await _announce(session, prompts, PromptChange.ANSWERED, rated_action_id=given.action_id)
    return prompts


async def prompt_in_scope(session: AsyncSession, viewer: Viewer, prompt_id: int) -> FeedbackPrompt:
    prompt = await session.scalar(
        scoped(select(FeedbackPrompt), FeedbackPrompt, viewer).where(FeedbackPrompt.id == prompt_id)
    )
    if prompt is None:
        raise NotFoundError("feedback prompt", field="promptId")
    return prompt


async def check_answer(
    session: AsyncSession,
    viewer: Viewer,
    prompt_id: int,
    *,
    author_email: str | None,
    now: dt.datetime,
) -> FeedbackPrompt:
    """The prompt ``viewer`` may answer: in scope, asked of them (or, for an integration key,
    of the person it names), and not expired."""
    prompt = await prompt_in_scope(session, viewer, prompt_id)
    problems = Problems()
    if viewer.role is ViewerRole.AGENT:
        raise DomainError(ErrorCode.FORBIDDEN, "the agent does not rate its own work")
    if viewer.user_id is not None:
        if viewer.user_id != prompt.user_id:
            raise DomainError(
                ErrorCode.FORBIDDEN,
                "this prompt asks someone else; rate the action with submitFeedback instead",
                field="promptId",
            )
    elif author_email:
        email = await session.scalar(select(User.email).where(User.id == prompt.user_id))
        problems.require(
            email == author_email.strip().lower(),
            "authorEmail",
            "must be the email of the person the prompt asks",
        )
    if prompt.state == PromptState.EXPIRED.value or (
        prompt.state == PromptState.OPEN.value and prompt.expires_at <= now
    ):
        problems.add(
            "promptId",
            f"the prompt expired at {prompt.expires_at.isoformat()}; rate "
            "the action with submitFeedback instead",
            ErrorCode.CONFLICT,
        )
    problems.raise_if_any()
    return prompt


async def expire_prompts(
    session: AsyncSession, *, now: dt.datetime, batch_size: int = BATCH_SIZE
) -> list[FeedbackPrompt]:
    """Expire open prompts whose time is up (rows locked by another worker are skipped)."""
    prompts = await _claim(
        session,
        FeedbackPrompt.expires_at <= now,
        order=[FeedbackPrompt.expires_at],
        batch_size=batch_size,
    )
    for prompt in prompts:
        prompt.state = PromptState.EXPIRED.value
    await _announce(session, prompts, PromptChange.EXPIRED)
    return prompts


async def remind_prompts(
    session: AsyncSession, *, now: dt.datetime, policy: PromptPolicy, batch_size: int = BATCH_SIZE
) -> list[FeedbackPrompt]:
    """Mark the open prompts due for their one reminder (asked ``remind_after`` ago, still
    open and not expiring yet); the caller tells the person."""
    prompts = await _claim(
        session,
        FeedbackPrompt.reminded_at.is_(None),
        FeedbackPrompt.created_at <= now - policy.remind_after,
        FeedbackPrompt.expires_at > now,
        order=[FeedbackPrompt.created_at],
        batch_size=batch_size,
    )
    for prompt in prompts:
        prompt.reminded_at = now
    await _announce(session, prompts, PromptChange.REMINDED)
    return prompts


# -- suggestions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    action_id: int
    confidence: float  # calibrated where known, else raw
    outcome: float | None  # the resolved outcomes' mean value in [0, 1], if any
    occurred_at: dt.datetime


def worth(candidate: Candidate) -> tuple[float, PromptReason] | None:
    """How much a person's judgment of the action is worth, and why; None below the bars.

    Uncertainty is 1 − |2c − 1| (1 at c = 0.5, 0 at certainty); disagreement is |c − y|, the
    distance between the confidence and the resolved outcome. The larger one names the reason.

    >>> worth(Candidate(1, 0.5, None, None))
    (1.0, <PromptReason.UNCERTAIN_CONFIDENCE: 'uncertain_confidence'>)
    >>> worth(Candidate(1, 0.9, 0.0, None))
    (0.9, <PromptReason.OUTCOME_DISAGREEMENT: 'outcome_disagreement'>)
    >>> worth(Candidate(1, 0.9, 1.0, None)) is None
    True
    """
    c = candidate.confidence
    options = []
    # Rounded before the bars, so a value on a bar meets it: 0.7 − 0.2 is 0.49999999999999994.
    uncertainty = round(1.0 - abs(2.0 * c - 1.0), 12)
    if uncertainty >= MIN_UNCERTAINTY:
        options.append((uncertainty, PromptReason.UNCERTAIN_CONFIDENCE))
    if candidate.outcome is not None:
        disagreement = round(abs(c - candidate.outcome), 12)
        if disagreement >= MIN_DISAGREEMENT:
            options.append((disagreement, PromptReason.OUTCOME_DISAGREEMENT))
    return max(options, key=lambda option: option[0]) if options else None


def rank(candidates: Sequence[Candidate]) -> list[tuple[Candidate, PromptReason]]:
    """Candidates worth a judgment, most valuable first (newest first among equals)."""
    scored = [(c, w) for c in candidates if (w := worth(c)) is not None]
    scored.sort(key=lambda cw: (-cw[1][0], -cw[0].occurred_at.timestamp(), -cw[0].action_id))
    return [(c, w[1]) for c, w in scored]


async def _candidates(session: AsyncSession, user_id: int, *, now: dt.datetime) -> list[Candidate]:
    """Routine actions of the person's agents in the lookback window that nobody asked them
    about and that they have not rated (neither the action nor its message)."""
    # Only resolved outcomes hold a value (a CHECK), and AVG skips NULLs: no status filter,
    # which would lure SQLite onto the (status, due_at) index instead of (action_id, ...).
    outcome = (
        select(func.avg(Outcome.value))
        .where(Outcome.action_id == AgentAction.id)
        .correlate(AgentAction)
        .scalar_subquery()
    )
    # Two EXISTS rather than one with OR: each then walks a unique (author, target) index.
    rated_action = exists().where(
        Feedback.author_id == user_id, Feedback.action_id == AgentAction.id
    )
    rated_message = exists().where(
        Feedback.author_id == user_id, Feedback.message_id == AgentAction.message_id
    )
    asked = exists().where(
        FeedbackPrompt.action_id == AgentAction.id, FeedbackPrompt.user_id == user_id
    )
    rows = await session.execute(
        select(
            AgentAction.id,
            func.coalesce(AgentAction.calibrated_confidence, AgentAction.confidence),
            outcome,
            AgentAction.occurred_at,
        )
        .join(Agent, Agent.id == AgentAction.agent_id)
        .where(
            Agent.owner_id == user_id,
            AgentAction.is_critical.is_(False),
            AgentAction.occurred_at >= now - SUGGESTION_LOOKBACK,
            AgentAction.occurred_at <= now,
            ~rated_action,
            ~rated_message,
            ~asked,
        )
        .order_by(AgentAction.occurred_at.desc(), AgentAction.id.desc())
        .limit(SUGGESTION_CANDIDATES)
    )
    return [
        Candidate(int(i), float(c), None if y is None else float(y), at) for i, c, y, at in rows
    ]


async def suggest_reviews(
    session: AsyncSession, user_id: int, *, policy: PromptPolicy, now: dt.datetime
) -> list[FeedbackPrompt]:
    """Prompt ``user_id`` about the routine actions where their judgment is worth most, while
    today's budget and suggestion allowance last."""
    day_start = dt.datetime.combine(now.date(), dt.time(), tzinfo=dt.UTC)
    suggested_today = await session.scalar(
        select(func.count()).where(
            FeedbackPrompt.user_id == user_id,
            FeedbackPrompt.reason != PromptReason.CRITICAL_ACTION.value,
            FeedbackPrompt.created_at >= day_start,
        )
    )
    room = min(
        policy.daily_suggestions - int(suggested_today or 0),
        policy.daily_budget - await budget_used(session, user_id=user_id, day=now.date()),
    )
    if room <= 0:
        return []
    created: list[FeedbackPrompt] = []
    for candidate, reason in rank(await _candidates(session, user_id, now=now))[:room]:
        action = await session.get(AgentAction, candidate.action_id)
        if action is None:  # pragma: no cover - deleted meanwhile
            continue
        prompt = await _create(session, action, user_id, reason, policy, now)
        if prompt is None:  # budget spent meanwhile (a critical action came in)
            break
        created.append(prompt)
    return created


async def people_to_suggest_to(session: AsyncSession, *, now: dt.datetime) -> list[int]:
    """Active people owning an agent that acted routinely within the lookback window."""
    rows = await session.scalars(
        select(User.id)
        .where(
            User.active.is_(True),
            exists().where(
                Agent.owner_id == User.id,
                AgentAction.agent_id == Agent.id,
                AgentAction.is_critical.is_(False),
                AgentAction.occurred_at >= now - SUGGESTION_LOOKBACK,
            ),
        )
        .order_by(User.id)
    )
    return list(rows)


# -- reading -----------------------------------------------------------------------------------

PROMPT_ORDER = (FeedbackPrompt.created_at, FeedbackPrompt.id)


async def prompts_page(
    session: AsyncSession,
    viewer: Viewer,
    *,
    state: PromptState = PromptState.OPEN,
    user_id: int | None = None,
    first: int | None = None,
    after: str | None = None,
    agent_id: int | None = None,
    team_id: int | None = None,
) -> Page[FeedbackPrompt]:
    """The prompts ``viewer`` sees in ``state`` (of one person when given; about one agent or
    one team's agents when given, checked as `scope_agents` checks them: out of scope is not
    found, and not both): open ones oldest first (a to-do list, the next to expire on top),
    answered and expired ones newest first. A rep sees the prompts about their agents, a
    manager their teams', executives all. API keys need `read:feedback`."""
    if viewer.role is ViewerRole.AGENT:
        raise DomainError(ErrorCode.FORBIDDEN, "prompts ask people; the agent has none")
    viewer.require_scope("read:feedback")
    statement = scoped(select(FeedbackPrompt), FeedbackPrompt, viewer).where(
        FeedbackPrompt.state == PromptState(state).value
    )
    if user_id is not None:
        statement = statement.where(FeedbackPrompt.user_id == user_id)
    agents = await scope_agents(session, viewer, agent_id=agent_id, team_id=team_id)
    if agents is not None:
        statement = statement.where(FeedbackPrompt.agent_id.in_(agents))
    return await paginate(
        session,
        statement,
        order=PROMPT_ORDER,
        first=first,
        after=after,
        ascending=state is PromptState.OPEN,
    )
