"""GraphQL: `submitFeedback` (a person's rating of a message, an action or a thread)."""

from __future__ import annotations

from typing import Annotated, TypeAlias

import strawberry
from strawberry.types import Info

from backend.feedback import service
from backend.feedback.models import COMMENT_MAX_LENGTH, CriterionRating
from backend.feedback.service import FeedbackInput
from backend.learning import submit_rating
from graphql_schema.errors import UserError
from graphql_schema.feedback.types import FeedbackChannel, FeedbackType
from graphql_schema.inputs import attempt, decode_id, with_error_paths

# Each GraphQL enum is the domain's enum registered with Strawberry; the alias names it
# in annotations (a call's result is no type to mypy).
strawberry.enum(service.Thumb, name="Thumb", description="A message's rating: thumb up or down.")
Thumb: TypeAlias = service.Thumb


@strawberry.input(description="A rating of one criterion of a thread review.")
class CriterionRatingInput:
    name: str = strawberry.field(description="1..40 characters of a-z and `_`, e.g. `tone`.")
    rating: int = strawberry.field(description="1 (worst) .. 5 (best).")


@strawberry.input(
    description=with_error_paths(
        "A rating of exactly one target: an action (`rating` 1..5), a message (`thumb`) or a "
        "thread review (`rating` 1..5, optional `criteria`). Rating a target again updates your "
        "rating.",
        "criteria[0].rating",
    )
)
class SubmitFeedbackInput:
    action_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global id of the action (a decision) rated."
    )
    message_external_id: str | None = strawberry.field(
        default=None, description="The provider's id of the message rated."
    )
    thread_external_id: str | None = strawberry.field(
        default=None, description="The provider's id of the thread reviewed."
    )
    thumb: Thumb | None = strawberry.field(
        default=None, description="A message's rating: UP or DOWN."
    )
    rating: int | None = strawberry.field(
        default=None, description="An action's or a thread's rating: 1 (worst) .. 5 (best)."
    )
    criteria: list[CriterionRatingInput] | None = strawberry.field(
        default=None, description="A thread review's ratings per criterion (at most 10)."
    )
    comment: str | None = strawberry.field(
        default=None, description=f"Optional free text, at most {COMMENT_MAX_LENGTH} characters."
    )
    channel: FeedbackChannel = strawberry.field(description="Where it was given.")
    prompted: bool = strawberry.field(
        default=False, description="Whether it answered a prompt of ours."
    )
    external_id: str | None = strawberry.field(
        default=None,
        description="The channel's id of this interaction: a redelivery changes nothing.",
    )
    author_email: str | None = strawberry.field(
        default=None,
        description="Integration keys (`write:feedback`) only: the person whose rating it is; "
        "checked against that person's scope.",
    )

    def to_feedback_input(self) -> FeedbackInput:
        return FeedbackInput(
            channel=self.channel,
            action_id=(
                decode_id(self.action_id, "Action", "actionId")
                if self.action_id is not None
                else None
            ),
            message_external_id=self.message_external_id,
            thread_external_id=self.thread_external_id,
            thumb=self.thumb,
            rating=self.rating,
            criteria=[CriterionRating(c.name, c.rating) for c in self.criteria or ()],
            comment=self.comment,
            prompted=self.prompted,
            external_id=self.external_id,
            author_email=self.author_email,
        )


@strawberry.type(description="The rating as stored, or what to fix.")
class SubmitFeedbackPayload:
    feedback: FeedbackType | None = strawberry.field(
        default=None, description="The rating as it now stands."
    )
    created: bool | None = strawberry.field(
        default=None,
        description="False when it updated your earlier rating of the target, or was a redelivery.",
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What to fix; empty when it was stored."
    )


@strawberry.type
class FeedbackMutation:
    @strawberry.mutation(
        description="Rate what the agent did: a message (thumb), an action or decision (1..5) or "
        "a whole thread (1..5 with optional criteria), with an optional comment. People rate "
        "within their scope; integrations with `write:feedback` name the person."
    )
    async def submit_feedback(
        self,
        info: Info,
        input: Annotated[SubmitFeedbackInput, strawberry.argument(description="The rating.")],
    ) -> SubmitFeedbackPayload:
        submitted, errors = await attempt(
            info,
            input,
            lambda viewer: submit_rating(
                info.context.state, viewer, input.to_feedback_input(), now=info.context.now()
            ),
        )
        if submitted is None:
            return SubmitFeedbackPayload(errors=errors)
        return SubmitFeedbackPayload(
            feedback=FeedbackType.of(submitted.feedback), created=submitted.created
        )
