"""GraphQL type: Outcome (what came of an action, on its outcome type's scale)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import strawberry
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.actions.models import AgentAction
from backend.outcomes import models
from backend.outcomes.repository import OutcomeRow
from backend.outcomes.rules import OUTCOME_SCALES
from graphql_schema.loaders import by_id
from graphql_schema.nodes import load_nodes

if TYPE_CHECKING:
    from graphql_schema.actions.types import ActionType

LazyAction = Annotated["ActionType", strawberry.lazy("graphql_schema.actions.types")]

# Each GraphQL enum is the domain's enum registered with Strawberry; the alias names it
# in annotations (a call's result is no type to mypy).
strawberry.enum(
    models.OutcomeWindow, name="OutcomeWindow", description="The window an outcome is judged in."
)
OutcomeWindow: TypeAlias = models.OutcomeWindow
strawberry.enum(
    models.OutcomeStatus, name="OutcomeStatus", description="Whether an outcome is decided."
)
OutcomeStatus: TypeAlias = models.OutcomeStatus
strawberry.enum(models.Detection, name="Detection", description="Who decided an outcome.")
Detection: TypeAlias = models.Detection


@strawberry.type(name="Outcome", description="What came of an action for one outcome type.")
class OutcomeType(relay.Node):
    id: relay.NodeID[int]
    outcome_type: str = strawberry.field(description="e.g. `email_reply`, `deal_progression`.")
    window: OutcomeWindow = strawberry.field(description="The window it is judged in.")
    scale: str = strawberry.field(description="The scale its level is on, e.g. `binary`.")
    level: int | None = strawberry.field(description="Level on the scale, 0 = worst.")
    value: float | None = strawberry.field(description="The level normalised to [0, 1].")
    status: OutcomeStatus = strawberry.field(description="Open, resolved or needs a label.")
    detection: Detection = strawberry.field(description="Automatic, human or pending a label.")
    label_reason: str | None = strawberry.field(description="Why a person must label it.")
    evidence: JSON = strawberry.field(
        description="Weak evidence that never resolves it alone, e.g. `{opens: 2, clicks: 1}`."
    )
    opened_at: dt.datetime = strawberry.field(description="When its window opened.")
    due_at: dt.datetime | None = strawberry.field(description="When its window closes.")
    resolved_at: dt.datetime | None = strawberry.field(description="When it was decided.")
    action_id: strawberry.Private[int]

    @strawberry.field(description="The label of its level on its scale, e.g. `positive`.")
    def level_label(self) -> str | None:
        scale = OUTCOME_SCALES.get(self.outcome_type)
        return scale.levels[self.level] if scale is not None and self.level is not None else None

    @strawberry.field(description="The levels of its scale, worst first.")
    def scale_levels(self) -> list[str]:
        scale = OUTCOME_SCALES.get(self.outcome_type)
        return list(scale.levels) if scale is not None else []

    @strawberry.field(description="The action it is an outcome of.")
    async def action(self, info: Info) -> LazyAction | None:
        from graphql_schema.actions.types import ActionType

        row = await info.context.loaders.get(by_id(AgentAction)).load(self.action_id)
        return ActionType.of(row) if row is not None else None

    @classmethod
    def of(cls, row: models.Outcome | OutcomeRow) -> OutcomeType:
        return cls(
            id=row.id,
            outcome_type=row.outcome_type,
            window=models.OutcomeWindow(row.window),
            scale=row.scale,
            level=row.level,
            value=row.value,
            status=models.OutcomeStatus(row.status),
            detection=models.Detection(row.detection),
            label_reason=row.label_reason,
            evidence=JSON(row.evidence or {}),
            opened_at=row.opened_at,
            due_at=row.due_at,
            resolved_at=row.resolved_at,
            action_id=row.action_id,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, models.Outcome, node_ids, cls.of, required=required)
