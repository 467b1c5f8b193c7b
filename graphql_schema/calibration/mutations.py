"""GraphQL: `freezePolicy`, `rollbackPolicy` (managers, executives, admins, within scope), and
`PolicyInForce`, the thresholds a payload reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from backend.agents.models import Agent
from backend.policy.models import AgentPolicy
from backend.policy.service import freeze_policy, rollback_policy
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from graphql_schema.agents.types import AgentType
from graphql_schema.errors import UserError
from graphql_schema.inputs import attempt, decode_id, with_error_paths
from graphql_schema.loaders import by_id


@strawberry.type(description="An agent's policy for one action type, as it stands now.")
class PolicyInForce:
    action_type: str = strawberry.field(description="The action type it governs.")
    escalate_below: float = strawberry.field(
        description="Below this raw confidence the agent escalates to a person."
    )
    autonomous_above: float = strawberry.field(
        description="At or above this raw confidence the agent acts alone; between, a review."
    )
    frozen: bool = strawberry.field(description="A person pinned it: automation leaves it.")
    version: int = strawberry.field(description="Its version; every change adds one.")
    updated_at: dt.datetime = strawberry.field(description="When it last changed.")
    agent_id: strawberry.Private[int]

    @strawberry.field(description="The agent it belongs to.")
    async def agent(self, info: Info) -> AgentType | None:
        row = await info.context.loaders.get(by_id(Agent)).load(self.agent_id)
        return AgentType.of(row) if row is not None else None

    @classmethod
    def of(cls, row: AgentPolicy) -> PolicyInForce:
        return cls(
            action_type=row.action_type,
            escalate_below=row.escalate_below,
            autonomous_above=row.autonomous_above,
            frozen=row.frozen,
            version=row.version,
            updated_at=row.updated_at,
            agent_id=row.agent_id,
        )


@strawberry.input(
    description=with_error_paths("Pin an agent's policy (or release it), saying why.", "reason")
)
class FreezePolicyInput:
    agent_id: strawberry.ID = strawberry.field(description="Global id of the agent.")
    action_type: str = strawberry.field(description="The action type whose policy it is.")
    frozen: bool = strawberry.field(description="True pins it; false lets automation move it.")
    reason: str = strawberry.field(description="Why, for the audit trail (required).")


@strawberry.input(
    description=with_error_paths(
        "Restore the thresholds of an earlier version of a policy, as a new version.", "version"
    )
)
class RollbackPolicyInput:
    agent_id: strawberry.ID = strawberry.field(description="Global id of the agent.")
    action_type: str = strawberry.field(description="The action type whose policy it is.")
    version: int = strawberry.field(description="The earlier version whose thresholds return.")
    reason: str = strawberry.field(default="", description="Why, for the audit trail.")
    freeze: bool = strawberry.field(
        default=True,
        description="Pin it afterwards (default), so the next outcome does not undo it.",
    )


@strawberry.type(description="The policy after `freezePolicy`, or what to fix.")
class FreezePolicyPayload:
    policy: PolicyInForce | None = strawberry.field(
        default=None, description="The policy as it now stands; null when rejected."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What to fix; empty when it was done."
    )


@strawberry.type(description="The policy after `rollbackPolicy`, or what to fix.")
class RollbackPolicyPayload:
    policy: PolicyInForce | None = strawberry.field(
        default=None, description="The policy as it now stands; null when rejected."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What to fix; empty when it was done."
    )


async def _changed(
    state: AppState,
    viewer: Viewer,
    change: Callable[..., Awaitable[AgentPolicy]],
    **arguments: Any,
) -> AgentPolicy:
    """One unit of work for a person's policy change; the unit of work publishes its
    `policy.changed` event after commit."""
    async with transaction(state.sessions) as session:
        return await change(session, viewer, **arguments)


@strawberry.type
class CalibrationMutation:
    @strawberry.mutation(
        description="Pin (or release) an agent's policy for an action type: automation never "
        "moves a frozen policy. Managers (their teams), executives and admins."
    )
    async def freeze_policy(
        self,
        info: Info,
        input: Annotated[FreezePolicyInput, strawberry.argument(description="What to pin.")],
    ) -> FreezePolicyPayload:
        policy, errors = await attempt(
            info,
            input,
            lambda viewer: _changed(
                info.context.state,
                viewer,
                freeze_policy,
                agent_id=decode_id(input.agent_id, "Agent", "agentId"),
                action_type=input.action_type,
                frozen=input.frozen,
                reason=input.reason,
            ),
        )
        if policy is None:
            return FreezePolicyPayload(errors=errors)
        return FreezePolicyPayload(policy=PolicyInForce.of(policy))

    @strawberry.mutation(
        description="Restore an earlier version's thresholds as a new, audited version (frozen "
        "by default). Managers (their teams), executives and admins."
    )
    async def rollback_policy(
        self,
        info: Info,
        input: Annotated[
            RollbackPolicyInput, strawberry.argument(description="Which version to restore.")
        ],
    ) -> RollbackPolicyPayload:
        policy, errors = await attempt(
            info,
            input,
            lambda viewer: _changed(
                info.context.state,
                viewer,
                rollback_policy,
                agent_id=decode_id(input.agent_id, "Agent", "agentId"),
                action_type=input.action_type,
                version=input.version,
                reason=input.reason,
                freeze=input.freeze,
            ),
        )
        if policy is None:
            return RollbackPolicyPayload(errors=errors)
        return RollbackPolicyPayload(policy=PolicyInForce.of(policy))
