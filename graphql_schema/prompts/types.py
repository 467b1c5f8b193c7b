"""GraphQL type: FeedbackPrompt (a person asked to judge one action, and how it ended)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, TypeAlias

import strawberry
from strawberry import relay
from strawberry.types import Info

from backend.actions.models import AgentAction
from backend.feedback.models import Feedback
from backend.feedback.models import FeedbackChannel as Channel
from backend.orgs.models import User
from backend.prompts import models
from graphql_schema.actions.types import ActionType
from graphql_schema.feedback.types import FeedbackChannel, FeedbackType
from graphql_schema.loaders import by_id
from graphql_schema.nodes import load_nodes
from graphql_schema.orgs.types import UserType

# Each GraphQL enum is the domain's enum registered with Strawberry; the alias names it
# in annotations (a call's result is no type to mypy).
strawberry.enum(
    models.PromptReason,
    name="FeedbackPromptReason",
    description="Why the person was asked: a critical action (escalation, stage change), or a "
    "routine action suggested for review because the agent's calibrated confidence was near a "
    "coin flip, or because confidence and outcome disagree.",
)
PromptReason: TypeAlias = models.PromptReason
strawberry.enum(
    models.PromptState,
    name="FeedbackPromptState",
    description="OPEN (waiting for a rating), ANSWERED (rated, from any channel) or EXPIRED.",
)
PromptState: TypeAlias = models.PromptState


@strawberry.type(
    name="FeedbackPrompt",
    description="A request for one person's judgment of one action of the agent. Any rating of "
    "the action (or of the message it sent) by that person, from Slack, Gmail, the dashboard or "
    "the API, answers it everywhere.",
)
class FeedbackPromptType(relay.Node):
    id: relay.NodeID[int]
    reason: PromptReason = strawberry.field(description="Why it was asked.")
    state: PromptState = strawberry.field(description="Where it stands.")
    created_at: dt.datetime = strawberry.field(description="When it was asked.")
    expires_at: dt.datetime = strawberry.field(description="When it expires unanswered.")
    reminded_at: dt.datetime | None = strawberry.field(
        description="When the one reminder went out; null before."
    )
    answered_at: dt.datetime | None = strawberry.field(description="When it was answered.")
    answered_channel: FeedbackChannel | None = strawberry.field(
        description="Where the answer came from."
    )
    action_id: strawberry.Private[int]
    user_id: strawberry.Private[int]
    feedback_id: strawberry.Private[int | None]

    @strawberry.field(description="The action to judge.")
    async def action(self, info: Info) -> ActionType | None:
        row = await info.context.loaders.get(by_id(AgentAction)).load(self.action_id)
        return ActionType.of(row) if row is not None else None

    @strawberry.field(description="The person asked (the rep who owns the agent).")
    async def assignee(self, info: Info) -> UserType | None:
        row = await info.context.loaders.get(by_id(User)).load(self.user_id)
        return UserType.of(row) if row is not None else None

    @strawberry.field(description="The rating that answered it; null while open or expired.")
    async def feedback(self, info: Info) -> FeedbackType | None:
        if self.feedback_id is None:
            return None
        row = await info.context.loaders.get(by_id(Feedback)).load(self.feedback_id)
        return FeedbackType.of(row) if row is not None else None

    @classmethod
    def of(cls, row: models.FeedbackPrompt) -> FeedbackPromptType:
        return cls(
            id=row.id,
            reason=models.PromptReason(row.reason),
            state=models.PromptState(row.state),
            created_at=row.created_at,
            expires_at=row.expires_at,
            reminded_at=row.reminded_at,
            answered_at=row.answered_at,
            answered_channel=Channel(row.answered_channel) if row.answered_channel else None,
            action_id=row.action_id,
            user_id=row.user_id,
            feedback_id=row.feedback_id,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, models.FeedbackPrompt, node_ids, cls.of, required=required)
