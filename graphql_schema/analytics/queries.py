"""GraphQL: `repDashboard`, `teamDashboard`, `executiveDashboard`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.analytics import service
from graphql_schema.analytics.dashboards import ExecutiveDashboard, RepDashboard, TeamDashboard
from graphql_schema.inputs import decode_id

From = Annotated[
    dt.date | None,
    strawberry.argument(
        name="from", description="First day (UTC), inclusive; default: 29 days before `to`."
    ),
]
To = Annotated[
    dt.date | None,
    strawberry.argument(
        description="Last day (UTC), inclusive; default: today. At most 400 days after `from`."
    ),
]


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(
        description="One agent's dashboard: its owner (rep), their manager, or an "
        "organisation-wide reader; API keys need `read:analytics`."
    )
    async def rep_dashboard(
        self,
        info: Info,
        agent_id: Annotated[strawberry.ID, strawberry.argument(description="The agent.")],
        from_: From = None,
        to: To = None,
    ) -> RepDashboard:
        viewer = info.context.require_viewer()
        agent = decode_id(agent_id, "Agent", "agentId")
        dashboard = await service.rep_dashboard(
            info.context.state.reads,
            viewer,
            agent_id=agent,
            since=from_,
            until=to,
            today=info.context.today(),
        )
        return RepDashboard.of(dashboard)

    @strawberry.field(
        description="A team's dashboard with its agents side by side: its managers, "
        "executives, admins, partners (`read:analytics`)."
    )
    async def team_dashboard(
        self,
        info: Info,
        team_id: Annotated[strawberry.ID, strawberry.argument(description="The team.")],
        from_: From = None,
        to: To = None,
    ) -> TeamDashboard:
        viewer = info.context.require_viewer()
        team = decode_id(team_id, "Team", "teamId")
        dashboard = await service.team_dashboard(
            info.context.state.reads,
            viewer,
            team_id=team,
            since=from_,
            until=to,
            today=info.context.today(),
        )
        return TeamDashboard.of(dashboard)

    @strawberry.field(
        description="The organisation's dashboard: ROI versus the human baseline, "
        "teams side by side, weekly trend: executives, admins, "
        "partners (`read:analytics`)."
    )
    async def executive_dashboard(
        self, info: Info, from_: From = None, to: To = None
    ) -> ExecutiveDashboard:
        viewer = info.context.require_viewer()
        dashboard = await service.executive_dashboard(
            info.context.state.reads, viewer, since=from_, until=to, today=info.context.today()
        )
        return ExecutiveDashboard.of(dashboard)
