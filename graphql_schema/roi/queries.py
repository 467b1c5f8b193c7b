"""GraphQL: `roiAssumptionHistory`, every change to the ROI assumptions (managers and above)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.roi.service import assumption_history
from graphql_schema.analytics.types import RoiAssumption


@strawberry.type
class RoiQuery:
    @strawberry.field(
        description="Every change to the organisation's ROI assumptions, newest version first: "
        "who set what, from which day, and why. Managers, executives, admins and partners."
    )
    async def roi_assumption_history(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description="At most this many rows (1-200).")
        ] = 100,
    ) -> list[RoiAssumption]:
        viewer = info.context.require_viewer()
        async with info.context.state.reads() as session:
            rows = await assumption_history(session, viewer, limit=max(1, min(first, 200)))
        return [RoiAssumption.of(row) for row in rows]
