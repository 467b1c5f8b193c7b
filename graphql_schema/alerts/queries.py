"""GraphQL: `alerts` (the alerts the viewer sees, newest first) and `alertRules` (the rules the
viewer sees, newest first)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.alerts import rules, service
from backend.pagination import DEFAULT_PAGE
from graphql_schema.alerts.types import AlertRuleType, AlertState, AlertType, Severity
from graphql_schema.filters import After, First
from graphql_schema.inputs import decode_id
from graphql_schema.relay import Connection

TeamFilter = Annotated[
    strawberry.ID | None,
    strawberry.argument(
        description="Only those about this team or its agents (its id); a team out of sight "
        "matches nothing."
    ),
]
AgentFilter = Annotated[
    strawberry.ID | None,
    strawberry.argument(
        description="Only those about this agent (its id); an agent out of sight matches nothing."
    ),
]


def _ids(team_id: str | None, agent_id: str | None) -> tuple[int | None, int | None]:
    team = decode_id(team_id, "Team", "teamId") if team_id is not None else None
    agent = decode_id(agent_id, "Agent", "agentId") if agent_id is not None else None
    return team, agent


@strawberry.type
class AlertsQuery:
    @strawberry.field(
        description="The alerts you see, newest first: executives and admins all; a manager "
        "those of their teams and their teams' agents; a rep those of their own agents. People "
        "only, not API keys."
    )
    async def alerts(
        self,
        info: Info,
        state: Annotated[
            list[AlertState] | None,
            strawberry.argument(
                description="Only alerts in one of these states (e.g. `[FIRING, ACKNOWLEDGED]`: "
                "the open ones); default all."
            ),
        ] = None,
        severity: Annotated[
            Severity | None,
            strawberry.argument(description="Only alerts of this severity (default: all)."),
        ] = None,
        team_id: TeamFilter = None,
        agent_id: AgentFilter = None,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Connection[AlertType]:
        viewer = info.context.require_viewer()
        team, agent = _ids(team_id, agent_id)
        async with info.context.state.sessions() as session:
            page = await service.alerts_page(
                session,
                viewer,
                states=state,
                severity=severity,
                team_id=team,
                agent_id=agent,
                first=first,
                after=after,
            )
        return Connection.of(page, AlertType.of, info)

    @strawberry.field(
        description="The alert rules you see, newest first: executives and admins all; a "
        "manager those of their teams and their agents; a rep those of their team. People only, "
        "not API keys."
    )
    async def alert_rules(
        self,
        info: Info,
        team_id: TeamFilter = None,
        agent_id: AgentFilter = None,
        include_deleted: Annotated[
            bool, strawberry.argument(description="Also deleted rules (default false).")
        ] = False,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Connection[AlertRuleType]:
        viewer = info.context.require_viewer()
        team, agent = _ids(team_id, agent_id)
        async with info.context.state.sessions() as session:
            page = await rules.rules_page(
                session,
                viewer,
                team_id=team,
                agent_id=agent,
                include_deleted=include_deleted,
                first=first,
                after=after,
            )
        return Connection.of(page, AlertRuleType.of, info)
