"""GraphQL type: Feedback (a person's judgment of a message, an action or a thread)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, TypeAlias

import strawberry
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.feedback import models
from backend.orgs.models import User
from graphql_schema.loaders import by_id
from graphql_schema.nodes import load_nodes
from graphql_schema.orgs.types import UserType

# Each GraphQL enum is the domain's enum registered with Strawberry; the alias names it
# in annotations (a call's result is no type to mypy).
strawberry.enum(models.FeedbackTarget, name="FeedbackTarget", description="What a rating is about.")
FeedbackTarget: TypeAlias = models.FeedbackTarget
strawberry.enum(
    models.FeedbackChannel, name="FeedbackChannel", description="Where the rating was given."
)
FeedbackChannel: TypeAlias = models.FeedbackChannel


@strawberry.type(name="Feedback", description="A person's rating of what the agent did.")
class FeedbackType(relay.Node):
    id: relay.NodeID[int]
    target_type: FeedbackTarget = strawberry.field(
        description="message (thumbs: 0 down, 1 up), action (1..5) or conversation (1..5)."
    )
    rating: int = strawberry.field(description="The rating on the target's scale.")
    comment: str | None = strawberry.field(description="Optional free text.")
    criteria: JSON = strawberry.field(
        description="Per-criterion ratings of a thread review, e.g. `{tone: 4, accuracy: 5}`."
    )
    channel: FeedbackChannel = strawberry.field(description="Where it was given.")
    prompted: bool = strawberry.field(description="Whether it answered a prompt from us.")
    created_at: dt.datetime = strawberry.field(description="When it was given.")
    agent_id: strawberry.Private[int]
    author_id: strawberry.Private[int]
    target_id: strawberry.Private[int]

    @strawberry.field(description="Who gave it.")
    async def author(self, info: Info) -> UserType | None:
        row = await info.context.loaders.get(by_id(User)).load(self.author_id)
        return UserType.of(row) if row is not None else None

    @strawberry.field(
        name="targetId", description="The global id of what it is about (message, action, thread)."
    )
    def target_global_id(self) -> relay.GlobalID:
        kind = {"message": "Message", "action": "Action", "conversation": "Thread"}
        return relay.GlobalID(kind[self.target_type.value], str(self.target_id))

    @classmethod
    def of(cls, row: models.Feedback) -> FeedbackType:
        target = row.message_id or row.action_id or row.conversation_id or 0
        return cls(
            id=row.id,
            target_type=models.FeedbackTarget(row.target_type),
            rating=row.rating,
            comment=row.comment,
            criteria=JSON(row.criteria or {}),
            channel=models.FeedbackChannel(row.channel),
            prompted=row.prompted,
            created_at=row.created_at,
            agent_id=row.agent_id,
            author_id=row.author_id,
            target_id=target,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, models.Feedback, node_ids, cls.of, required=required)
