"""GraphQL: `recordOutcome` (the agent states an outcome of its own action) and `labelOutcome`
(a person resolves a labelling task, or corrects a decided outcome)."""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.learning import submit_label, submit_outcome
from backend.outcomes.models import Outcome
from backend.outcomes.service import Labelled
from graphql_schema.errors import UserError
from graphql_schema.inputs import attempt, decode_id, with_error_paths
from graphql_schema.loaders import by_id
from graphql_schema.outcomes.types import OutcomeType

LEVEL = (
    "A level of the outcome type's scale by its label (e.g. `positive`, see "
    "`Outcome.scaleLevels`), or by its index as digits (`0` = worst)."
)


def _level(level: str) -> str | int:
    return int(level) if level.isascii() and level.isdigit() else level


@strawberry.input(
    description=with_error_paths("An outcome the agent states for one of its actions.", "level")
)
class RecordOutcomeInput:
    action_id: strawberry.ID = strawberry.field(description="Global id of the action.")
    outcome_type: str = strawberry.field(
        description="e.g. `meeting_attendance`, `escalation_quality`, `deal_progression`."
    )
    level: str = strawberry.field(description=LEVEL)
    note: str | None = strawberry.field(default=None, description="Why, up to 1000 characters.")


@strawberry.input(
    description=with_error_paths(
        "A person's label for an outcome (a correction if decided).", "level"
    )
)
class LabelOutcomeInput:
    outcome_id: strawberry.ID = strawberry.field(description="Global id of the outcome.")
    level: str = strawberry.field(description=LEVEL)
    note: str | None = strawberry.field(default=None, description="Why, up to 1000 characters.")


@strawberry.type(description="The outcome as the agent stated it, or what to fix.")
class RecordOutcomePayload:
    outcome: OutcomeType | None = strawberry.field(
        default=None, description="The outcome, now decided."
    )
    correction: bool | None = strawberry.field(
        default=None, description="True when it replaced an earlier decision."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What to fix; empty when it was recorded."
    )


@strawberry.type(description="The labelled outcome, or what to fix.")
class LabelOutcomePayload:
    outcome: OutcomeType | None = strawberry.field(
        default=None, description="The outcome, now decided."
    )
    correction: bool | None = strawberry.field(
        default=None, description="True when it corrected an earlier decision (audited)."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What to fix; empty when it was labelled."
    )


async def _decided(info: Info, labelled: Labelled) -> OutcomeType | None:
    """The outcome as committed (not as an earlier field of this operation loaded it)."""
    loader = info.context.loaders.get(by_id(Outcome))
    with suppress(KeyError):  # strawberry's clear() raises when nothing was cached
        loader.clear(labelled.outcome_id)
    row = await loader.load(labelled.outcome_id)
    return OutcomeType.of(row) if row is not None else None


@strawberry.type
class OutcomesMutation:
    @strawberry.mutation(
        description="The agent states an outcome of its own action on the type's scale "
        "(agent key with `write:outcomes`); calibration follows."
    )
    async def record_outcome(
        self,
        info: Info,
        input: Annotated[RecordOutcomeInput, strawberry.argument(description="The outcome.")],
    ) -> RecordOutcomePayload:
        labelled, errors = await attempt(
            info,
            input,
            lambda viewer: submit_outcome(
                info.context.state,
                viewer,
                action_id=decode_id(input.action_id, "Action", "actionId"),
                outcome_type=input.outcome_type,
                level=_level(input.level),
                note=input.note,
                now=info.context.now(),
            ),
        )
        if labelled is None:
            return RecordOutcomePayload(errors=errors)
        return RecordOutcomePayload(
            outcome=await _decided(info, labelled), correction=labelled.correction
        )

    @strawberry.mutation(
        description="A person (rep, manager, executive; within scope) labels an outcome waiting "
        "for a label, or corrects a decided one; audited, and calibration follows."
    )
    async def label_outcome(
        self,
        info: Info,
        input: Annotated[LabelOutcomeInput, strawberry.argument(description="The label.")],
    ) -> LabelOutcomePayload:
        labelled, errors = await attempt(
            info,
            input,
            lambda viewer: submit_label(
                info.context.state,
                viewer,
                outcome_id=decode_id(input.outcome_id, "Outcome", "outcomeId"),
                level=_level(input.level),
                note=input.note,
                now=info.context.now(),
            ),
        )
        if labelled is None:
            return LabelOutcomePayload(errors=errors)
        return LabelOutcomePayload(
            outcome=await _decided(info, labelled), correction=labelled.correction
        )
