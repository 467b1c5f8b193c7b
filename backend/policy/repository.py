"""Read side of agent policies: the policy in force for an agent and action type, every policy
of some agents, and a policy's audit trail (keyset pages)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import ACTION_TYPE_PATTERN
from backend.errors import DomainError, ErrorCode, NotFoundError
from backend.pagination import Page, paginate
from backend.policy.models import AgentPolicy, PolicyChange
from backend.viewer import Viewer, ViewerRole, scoped


def require_policy_reader(viewer: Viewer) -> None:
    """People read by role; the agent's own key needs read:policy, a partner's read:calibration
    (the same rule as calibration's reads: a policy is what calibration made of the agent)."""
    viewer.require_scope("read:policy" if viewer.role is ViewerRole.AGENT else "read:calibration")


def _policy_agent(viewer: Viewer, agent_id: int | None) -> int:
    """The agent's own key may leave the agent out; everybody else names it."""
    if agent_id is not None:
        return agent_id
    if viewer.role is ViewerRole.AGENT and viewer.agent_ids and len(viewer.agent_ids) == 1:
        return next(iter(viewer.agent_ids))
    raise DomainError(ErrorCode.REQUIRED, "name the agent", field="agentId")


async def agent_policy(
    session: AsyncSession, viewer: Viewer, *, action_type: str, agent_id: int | None
) -> AgentPolicy:
    """An agent's thresholds for an action type; not found when the agent is out of scope or has
    no policy for that type yet."""
    require_policy_reader(viewer)
    if not ACTION_TYPE_PATTERN.match(action_type or ""):
        raise DomainError(
            ErrorCode.INVALID,
            "must be a lower_snake_case action type, e.g. 'email'",
            field="actionType",
        )
    agent_id = _policy_agent(viewer, agent_id)
    policy = await session.scalar(
        scoped(select(AgentPolicy), AgentPolicy, viewer).where(
            AgentPolicy.agent_id == agent_id, AgentPolicy.action_type == action_type
        )
    )
    if policy is None:  # no policy, or an agent out of scope: the same answer
        raise NotFoundError("policy", field="agentId")
    return policy


async def agents_policies(
    session: AsyncSession, viewer: Viewer, agent_ids: Iterable[int]
) -> dict[int, list[AgentPolicy]]:
    """Every policy of each agent among ``agent_ids`` the viewer may see, by action type (an
    agent out of scope has none, like an unknown one)."""
    require_policy_reader(viewer)
    grouped: dict[int, list[AgentPolicy]] = {i: [] for i in sorted(set(agent_ids))}
    if not grouped:
        return grouped
    statement = (
        scoped(select(AgentPolicy), AgentPolicy, viewer)
        .where(AgentPolicy.agent_id.in_(sorted(grouped)))
        .order_by(AgentPolicy.agent_id, AgentPolicy.action_type)
    )
    for policy in await session.scalars(statement):
        grouped[policy.agent_id].append(policy)
    return grouped


async def policy_history(
    session: AsyncSession,
    viewer: Viewer,
    *,
    action_type: str,
    agent_id: int | None,
    first: int | None,
    after: str | None,
) -> Page[PolicyChange]:
    """Every change of a policy, newest version first (keyset pages)."""
    policy = await agent_policy(session, viewer, action_type=action_type, agent_id=agent_id)
    statement = scoped(select(PolicyChange), PolicyChange, viewer).where(
        PolicyChange.policy_id == policy.id
    )
    return await paginate(
        session, statement, order=[PolicyChange.version, PolicyChange.id], first=first, after=after
    )
