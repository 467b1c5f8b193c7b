"""GraphQL: `recordAction` (the agent's key records what it did and hears back the calibrated
confidence and its policy's decision)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.actions.service import ActionInput, RecordedAction
from backend.errors import DomainError, ErrorCode
from backend.learning import submit_action
from graphql_schema.actions.types import ActionType, DecisionEnum
from graphql_schema.calibration.mutations import PolicyInForce
from graphql_schema.errors import UserError
from graphql_schema.inputs import attempt, decode_id, with_error_paths


@strawberry.input(description="What an action cost; each part defaults to nothing spent.")
class CostInput:
    amount: float = strawberry.field(default=0.0, description="Money spent, 0 or more.")
    currency: str = strawberry.field(default="USD", description="ISO 4217 code, e.g. `EUR`.")
    tokens: int = strawberry.field(default=0, description="Model tokens used, 0 or more.")


@strawberry.input(
    description=with_error_paths(
        "An action of the agent. Recording is idempotent on (agent, `idempotencyKey`): a retry "
        "answers with the first record and `created: false`.",
        "cost.amount",
    )
)
class RecordActionInput:
    action_type: str = strawberry.field(
        description="lower_snake_case, e.g. `email`, `meeting`, `escalation`, `follow_up`."
    )
    confidence: float = strawberry.field(
        description="The agent's confidence, in [0, 1], that it succeeds."
    )
    idempotency_key: str = strawberry.field(
        description="The agent's unique key for this action (1..200 characters)."
    )
    agent_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Global id of the agent; only admins give it (an agent key records for "
        "its own agent).",
    )
    occurred_at: dt.datetime | None = strawberry.field(
        default=None, description="When it acted, with a time zone (default: now)."
    )
    is_critical: bool | None = strawberry.field(
        default=None,
        description="Prompt a person at once (default: true for escalations and stage changes).",
    )
    cost: CostInput | None = strawberry.field(default=None, description="What it cost.")
    deal_external_id: str | None = strawberry.field(
        default=None, description="The CRM's id of the deal it concerns."
    )
    thread_external_id: str | None = strawberry.field(
        default=None, description="The mail provider's thread id."
    )
    message_external_id: str | None = strawberry.field(
        default=None, description="The provider's message id (e.g. RFC 5322 Message-ID)."
    )
    subject: str | None = strawberry.field(default=None, description="Subject of the message.")
    details: JSON | None = strawberry.field(
        default=None, description="Free details of the action, a JSON object."
    )

    def to_action_input(self) -> ActionInput:
        if self.details is not None and not isinstance(self.details, dict):
            raise DomainError(ErrorCode.INVALID, "must be a JSON object", field="details")
        cost = self.cost or CostInput()
        return ActionInput(
            action_type=self.action_type,
            confidence=self.confidence,
            idempotency_key=self.idempotency_key,
            occurred_at=self.occurred_at,
            is_critical=self.is_critical,
            cost_amount=Decimal(str(cost.amount)),
            cost_currency=cost.currency,
            cost_tokens=cost.tokens,
            agent_id=(
                decode_id(self.agent_id, "Agent", "agentId") if self.agent_id is not None else None
            ),
            deal_external_id=self.deal_external_id,
            thread_external_id=self.thread_external_id,
            message_external_id=self.message_external_id,
            subject=self.subject,
            details=dict(self.details or {}),
        )


@strawberry.type(description="The recorded action with what the agent should do, or what to fix.")
class RecordActionPayload:
    action: ActionType | None = strawberry.field(
        default=None, description="The action as recorded (the first record on a retry)."
    )
    created: bool | None = strawberry.field(
        default=None, description="False when this was a retry of an earlier request."
    )
    calibrated_confidence: float | None = strawberry.field(
        default=None, description="What the confidence is worth, through the map in force."
    )
    decision: DecisionEnum | None = strawberry.field(
        default=None, description="What the policy says: act, review or escalate."
    )
    policy: PolicyInForce | None = strawberry.field(
        default=None, description="The policy the decision was taken under."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What to fix; empty when it was recorded."
    )

    @classmethod
    def of(cls, recorded: RecordedAction) -> RecordActionPayload:
        return cls(
            action=ActionType.of(recorded.action),
            created=recorded.created,
            calibrated_confidence=recorded.calibrated_confidence,
            decision=recorded.decision,
            policy=PolicyInForce.of(recorded.policy),
        )


@strawberry.type
class ActionsMutation:
    @strawberry.mutation(
        description="Record what the agent did (its own key; admins name the agent) and answer "
        "with the calibrated confidence and the policy's decision. Idempotent."
    )
    async def record_action(
        self,
        info: Info,
        input: Annotated[RecordActionInput, strawberry.argument(description="The action.")],
    ) -> RecordActionPayload:
        recorded, errors = await attempt(
            info,
            input,
            lambda viewer: submit_action(
                info.context.state, viewer, input.to_action_input(), now=info.context.now()
            ),
        )
        if recorded is None:
            return RecordActionPayload(errors=errors)
        return RecordActionPayload.of(recorded)
