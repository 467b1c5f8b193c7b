"""GraphQL: `strategicView`, `whatIf`, `dealWinProbability`, `winProbabilityReliability`."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.strategy import service
from graphql_schema.analytics.queries import From, To
from graphql_schema.inputs import decode_id
from graphql_schema.strategy.types import (
    DealWinProbability,
    StrategicView,
    WhatIf,
    WinProbabilityReliability,
)


@strawberry.type
class StrategyQuery:
    @strawberry.field(
        description="Per action type: volume, lift over the human baseline, calibration, "
        "escalation appropriateness, value and cost, and a recommendation (expand autonomy, "
        "hold, pull back) with its reasons: executives, admins, partners (`read:analytics`)."
    )
    async def strategic_view(self, info: Info, from_: From = None, to: To = None) -> StrategicView:
        view = await service.strategic_view(
            info.context.state.reads,
            info.context.require_viewer(),
            since=from_,
            until=to,
            today=info.context.today(),
        )
        return StrategicView.of(view)

    @strawberry.field(
        description="What if one action type's autonomy threshold moved: projected actions "
        "acting alone, escalations, errors, hours and value, against the current thresholds "
        "(executives, admins, partners)."
    )
    async def what_if(
        self,
        info: Info,
        action_type: Annotated[str, strawberry.argument(description="The action type.")],
        autonomy_threshold: Annotated[
            float,
            strawberry.argument(
                description="The proposed autonomy threshold, raw confidence in [0, 1]."
            ),
        ],
        escalation_threshold: Annotated[
            float | None,
            strawberry.argument(
                description="The proposed escalation threshold in [0, autonomyThreshold]; "
                "default: each agent's own, lowered to the autonomy threshold where above it."
            ),
        ] = None,
        from_: From = None,
        to: To = None,
    ) -> WhatIf:
        view = await service.what_if_view(
            info.context.state.reads,
            info.context.require_viewer(),
            action_type=action_type,
            autonomy_threshold=autonomy_threshold,
            escalation_threshold=escalation_threshold,
            since=from_,
            until=to,
            today=info.context.today(),
        )
        return WhatIf.of(view)

    @strawberry.field(
        description="A deal's calibrated win probability with its interval and the model's "
        "reliability on closed deals (its readers; a deal out of scope is not found)."
    )
    async def deal_win_probability(
        self,
        info: Info,
        deal_id: Annotated[strawberry.ID, strawberry.argument(description="The deal.")],
    ) -> DealWinProbability:
        deal = decode_id(deal_id, "Deal", "dealId")
        found = await service.deal_win_probability(
            info.context.state.reads,
            info.context.require_viewer(),
            deal_id=deal,
            now=info.context.now(),
        )
        return DealWinProbability.of(found)

    @strawberry.field(
        description="How reliable the win probabilities are on the closed deals the viewer "
        "may see (Brier score, ECE, reliability curve; cross-validated)."
    )
    async def win_probability_reliability(self, info: Info) -> WinProbabilityReliability:
        found = await service.win_probability_reliability(
            info.context.state.reads, info.context.require_viewer(), now=info.context.now()
        )
        return WinProbabilityReliability.of(found)
