"""GraphQL: `setRoiAssumptions`, a new audited version of some ROI assumptions (executives and
admins)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.roi.assumptions import Assumption
from backend.roi.service import AssumptionChange, set_assumptions
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from graphql_schema.analytics.types import RoiAssumption
from graphql_schema.errors import UserError
from graphql_schema.inputs import attempt, with_error_paths


@strawberry.input(description="One assumption's new low / expected / high values.")
class RoiAssumptionInput:
    name: str = strawberry.field(
        description="loaded_hourly_cost, minutes_per_task, value_per_success, "
        "platform_cost_per_action, minutes_per_escalation, minutes_per_prompt, "
        "minutes_per_review, minutes_per_label or working_hours_per_week."
    )
    action_type: str | None = strawberry.field(
        default=None,
        description="For minutes_per_task and value_per_success: the action type it is for "
        "(null: every type without its own).",
    )
    low: float = strawberry.field(description="Low end (>= 0).")
    expected: float = strawberry.field(description="Expected value (low <= expected <= high).")
    high: float = strawberry.field(description="High end.")


@strawberry.input(
    description=with_error_paths(
        "Set ROI assumptions from a day on, as one new version of them, saying why. Money "
        "amounts are in the dashboards' currency.",
        "changes[0].expected",
    )
)
class SetRoiAssumptionsInput:
    changes: list[RoiAssumptionInput] = strawberry.field(description="What to set (1-100).")
    effective_from: dt.date = strawberry.field(
        description="The first day they hold (earlier days keep the earlier values)."
    )
    reason: str = strawberry.field(description="Why, for the audit trail (required).")


@strawberry.type(description="The assumptions as set, or what to fix.")
class SetRoiAssumptionsPayload:
    assumptions: list[RoiAssumption] = strawberry.field(
        default_factory=list, description="The rows of the new version; empty when rejected."
    )
    version: int | None = strawberry.field(default=None, description="The new version.")
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="What to fix; empty when it was done."
    )


@strawberry.type
class RoiMutation:
    @strawberry.mutation(
        description="Change ROI assumptions (a new version, audited; nothing is overwritten: "
        "`roiAssumptionHistory` keeps every version). Executives and admins."
    )
    async def set_roi_assumptions(
        self,
        info: Info,
        input: Annotated[SetRoiAssumptionsInput, strawberry.argument(description="What to set.")],
    ) -> SetRoiAssumptionsPayload:
        changes = [
            AssumptionChange(c.name, c.low, c.expected, c.high, c.action_type)
            for c in input.changes
        ]

        async def run(viewer: Viewer) -> list[Assumption]:
            async with transaction(info.context.state.sessions) as session:
                return await set_assumptions(
                    session,
                    viewer,
                    changes,
                    effective_from=input.effective_from,
                    reason=input.reason,
                    now=info.context.now(),
                )

        rows, errors = await attempt(info, input, run)
        if rows is None:
            return SetRoiAssumptionsPayload(errors=errors)
        return SetRoiAssumptionsPayload(
            assumptions=[RoiAssumption.of(r) for r in rows], version=rows[0].version
        )
