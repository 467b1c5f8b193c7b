"""GraphQL type: Action (what the agent did, with the confidence it stated)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, TypeAlias

import strawberry
from strawberry import relay
from strawberry.types import Info

from backend.actions.models import AgentAction, Decision
from backend.actions.repository import ActionRow
from backend.agents.models import Agent
from backend.outcomes.models import Outcome
from backend.outcomes.repository import ActionWithOutcomes
from graphql_schema.agents.types import AgentType
from graphql_schema.execution import PREFETCHED
from graphql_schema.loaders import by_column, by_id
from graphql_schema.nodes import load_nodes
from graphql_schema.outcomes.types import OutcomeType

# Each GraphQL enum is the domain's enum registered with Strawberry; the alias names it
# in annotations (a call's result is no type to mypy).
strawberry.enum(Decision, name="Decision", description="What the policy told the agent to do.")
DecisionEnum: TypeAlias = Decision


@strawberry.type(description="What an action cost.")
class Cost:
    amount: float = strawberry.field(description="Money spent (model and tools).")
    currency: str = strawberry.field(description="ISO 4217 code of `amount`.")
    tokens: int = strawberry.field(description="Model tokens used.")


@strawberry.type(name="Action", description="Something the agent did, with its confidence.")
class ActionType(relay.Node):
    id: relay.NodeID[int]
    action_type: str = strawberry.field(
        description="email, meeting, escalation, stage_progression, follow_up, ..."
    )
    confidence: float = strawberry.field(description="The raw confidence the agent stated.")
    calibrated_confidence: float | None = strawberry.field(
        description="That confidence through the recalibration map in force when recorded."
    )
    decision: DecisionEnum | None = strawberry.field(
        description="What the policy said at that confidence: act, review or escalate."
    )
    is_critical: bool = strawberry.field(
        description="Critical actions (escalations, stage changes) prompt a human at once."
    )
    cost: Cost = strawberry.field(description="What it cost.")
    occurred_at: dt.datetime = strawberry.field(description="When the agent acted.")
    idempotency_key: str = strawberry.field(description="The agent's key for this action.")
    agent_id: strawberry.Private[int]
    # Read with the page (`actions` when its nodes' outcomes are selected); else by loader.
    prefetched_outcomes: strawberry.Private[list[OutcomeType] | None] = None

    @strawberry.field(description="The agent that acted.")
    async def agent(self, info: Info) -> AgentType | None:
        row = await info.context.loaders.get(by_id(Agent)).load(self.agent_id)
        return AgentType.of(row) if row is not None else None

    @strawberry.field(
        description="Its outcomes, one per outcome type.",
        metadata={PREFETCHED: "prefetched_outcomes"},
    )
    def outcomes(self, info: Info) -> list[OutcomeType]:
        # Read with the page: the executor takes them without calling this (PREFETCHED);
        # here too, synchronously. Otherwise the loader's awaitable, which graphql-core awaits
        # like an async resolver's.
        if self.prefetched_outcomes is not None:
            return self.prefetched_outcomes
        return self._load_outcomes(info)  # type: ignore[return-value]

    async def _load_outcomes(self, info: Info) -> list[OutcomeType]:
        rows = await info.context.loaders.get(by_column(Outcome, "action_id")).load(self.id)
        return [OutcomeType.of(row) for row in rows]

    @classmethod
    def of(
        cls, row: AgentAction | ActionRow, outcomes: list[OutcomeType] | None = None
    ) -> ActionType:
        return cls(
            id=row.id,
            action_type=row.action_type,
            confidence=row.confidence,
            calibrated_confidence=row.calibrated_confidence,
            decision=Decision(row.decision) if row.decision else None,
            is_critical=row.is_critical,
            cost=Cost(
                amount=float(row.cost_amount), currency=row.cost_currency, tokens=row.cost_tokens
            ),
            occurred_at=row.occurred_at,
            idempotency_key=row.idempotency_key,
            agent_id=row.agent_id,
            prefetched_outcomes=outcomes,
        )

    @classmethod
    def with_outcomes(cls, item: ActionWithOutcomes) -> ActionType:
        return cls.of(item.action, [OutcomeType.of(o) for o in item.outcomes])

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, AgentAction, node_ids, cls.of, required=required)
