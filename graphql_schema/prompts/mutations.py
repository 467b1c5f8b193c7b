"""GraphQL: `answerFeedbackPrompt` (the person asked rates the action; the prompt closes)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.feedback.models import COMMENT_MAX_LENGTH
from backend.feedback.models import FeedbackChannel as Channel
from backend.feedback.service import SubmittedFeedback
from backend.learning import answer_prompt
from backend.prompts.models import FeedbackPrompt
from backend.viewer import Viewer
from graphql_schema.errors import UserError
from graphql_schema.feedback.types import FeedbackChannel, FeedbackType
from graphql_schema.inputs import attempt, decode_id
from graphql_schema.prompts.types import FeedbackPromptType


@strawberry.input(description="The answer to a feedback prompt: a rating of its action.")
class AnswerFeedbackPromptInput:
    prompt_id: strawberry.ID = strawberry.field(description="The prompt (FeedbackPrompt id).")
    rating: int = strawberry.field(
        description="The action's rating: 1 (wrong call) .. 5 (exactly right)."
    )
    comment: str | None = strawberry.field(
        default=None, description=f"Optional free text, at most {COMMENT_MAX_LENGTH} characters."
    )
    channel: FeedbackChannel = strawberry.field(
        default=Channel.DASHBOARD, description="Where it was given: DASHBOARD (default) or API."
    )
    author_email: str | None = strawberry.field(
        default=None,
        description="Integration keys (`write:feedback`) only: the person asked, by e-mail.",
    )


@strawberry.type(description="The prompt, now answered, and the rating; or what to fix.")
class AnswerFeedbackPromptPayload:
    prompt: FeedbackPromptType | None = strawberry.field(
        default=None, description="The prompt as it now stands."
    )
    feedback: FeedbackType | None = strawberry.field(
        default=None, description="The rating of the action."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What to fix; empty when it was stored."
    )


async def _answer(
    info: Info, viewer: Viewer, data: AnswerFeedbackPromptInput
) -> tuple[FeedbackPrompt, SubmittedFeedback]:
    return await answer_prompt(
        info.context.state,
        viewer,
        prompt_id=decode_id(data.prompt_id, "FeedbackPrompt", "promptId"),
        rating=data.rating,
        comment=data.comment,
        channel=Channel(data.channel).value,
        author_email=data.author_email,
        now=info.context.now(),
    )


@strawberry.type
class PromptsMutation:
    @strawberry.mutation(
        description="Answer a feedback prompt asked of you: rate its action 1..5, with an "
        "optional comment. It closes the prompt everywhere (its Slack message shows it); "
        "answering again changes your rating. An expired prompt cannot be answered: rate the "
        "action with `submitFeedback` instead."
    )
    async def answer_feedback_prompt(
        self,
        info: Info,
        input: Annotated[AnswerFeedbackPromptInput, strawberry.argument(description="The answer.")],
    ) -> AnswerFeedbackPromptPayload:
        done, errors = await attempt(info, input, lambda viewer: _answer(info, viewer, input))
        if done is None:
            return AnswerFeedbackPromptPayload(errors=errors)
        prompt, submitted = done
        return AnswerFeedbackPromptPayload(
            prompt=FeedbackPromptType.of(prompt), feedback=FeedbackType.of(submitted.feedback)
        )
