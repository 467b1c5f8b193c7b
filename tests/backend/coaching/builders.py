"""Hand-built e-mail histories for coaching: actions with their details and decided reply
outcomes, written as rows (as the demo seed writes them), with a planted effect or none."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.agents.models import Agent
from backend.crm.models import Conversation
from backend.outcomes.models import Outcome

# Reply probability of an action, from its UTC weekday (0 = Monday) and its details.
ReplyRate = Callable[[int, dict], float]


def no_effect(_weekday: int, _details: dict) -> float:
    return 0.15


def tuesday_twice(weekday: int, _details: dict) -> float:
    return 0.30 if weekday == 1 else 0.15


@dataclass
class Built:
    actions: list[AgentAction]
    replies: list[float | None]  # None: the outcome is not decided


async def email_history(
    session: AsyncSession,
    agents: Sequence[Agent],
    *,
    first_day: dt.date,
    days: int,
    per_day: int,
    reply_rate: ReplyRate,
    seed: int,
    key: str = "h",
    undecided_share: float = 0.0,
    always_reply: bool = False,
) -> Built:
    """``per_day`` e-mails a day over ``days`` days from ``first_day``, spread over ``agents``
    and a handful of threads each, with random length, personalisation and question, each with
    an e-mail reply outcome drawn from ``reply_rate`` (or a reply, with ``always_reply``)."""
    rng = np.random.default_rng(seed)
    threads = {}
    for agent in agents:
        for t in range(8):
            conversation = Conversation(
                organization_id=agent.organization_id,
                agent_id=agent.id,
                external_thread_id=f"{key}-{agent.id}-{t}",
            )
            session.add(conversation)
            threads[(agent.id, t)] = conversation
    await session.flush()
    built = Built([], [])
    for d in range(days):
        day = first_day + dt.timedelta(days=d)
        for i in range(per_day):
            agent = agents[int(rng.integers(len(agents)))]
            at = dt.datetime.combine(day, dt.time(int(rng.integers(7, 20)), 0), dt.UTC)
            at += dt.timedelta(minutes=i)
            details = {
                "length_bucket": ["short", "medium", "long"][int(rng.integers(3))],
                "personalized": bool(rng.random() < 0.5),
                "has_question": bool(rng.random() < 0.5),
            }
            action = AgentAction(
                organization_id=agent.organization_id,
                agent_id=agent.id,
                action_type="email",
                confidence=0.2,
                idempotency_key=f"{key}-{d}-{i}",
                conversation_id=threads[(agent.id, int(rng.integers(8)))].id,
                details=details,
                occurred_at=at,
            )
            session.add(action)
            built.actions.append(action)
            replied = always_reply or bool(rng.random() < reply_rate(day.weekday(), details))
            decided = rng.random() >= undecided_share
            built.replies.append(float(replied) if decided else None)
    await session.flush()
    for action, reply in zip(built.actions, built.replies, strict=True):
        session.add(
            Outcome(
                organization_id=action.organization_id,
                agent_id=action.agent_id,
                action_id=action.id,
                action_type="email",
                outcome_type="email_reply",
                window="engagement_7d",
                scale="binary",
                level=None if reply is None else int(reply),
                value=reply,
                status="open" if reply is None else "resolved",
                opened_at=action.occurred_at,
                due_at=action.occurred_at + dt.timedelta(days=7),
                resolved_at=None if reply is None else action.occurred_at + dt.timedelta(hours=5),
            )
        )
    await session.flush()
    return built
