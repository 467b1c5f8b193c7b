"""GraphQL types of the role dashboards (rep, team, executive) and their comparison rows; the
agent, team and organisation they are about resolve through the request's loaders."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from backend.agents.models import Agent
from backend.analytics import service
from backend.orgs.models import Organization, Team
from graphql_schema.agents.types import AgentType
from graphql_schema.analytics.types import DashboardMetrics, TrendPoint
from graphql_schema.loaders import by_id
from graphql_schema.orgs.types import OrganizationType, TeamType


async def _agent(info: Info, agent_id: int) -> AgentType | None:
    row = await info.context.loaders.get(by_id(Agent)).load(agent_id)
    return AgentType.of(row) if row is not None else None


async def _team(info: Info, team_id: int) -> TeamType | None:
    row = await info.context.loaders.get(by_id(Team)).load(team_id)
    return TeamType.of(row) if row is not None else None


@strawberry.type(description="One agent's metrics, a row of a team's comparison.")
class AgentComparison:
    metrics: DashboardMetrics = strawberry.field(description="Its metrics over the range.")
    agent_id: strawberry.Private[int]

    @strawberry.field(description="The agent.")
    async def agent(self, info: Info) -> AgentType | None:
        return await _agent(info, self.agent_id)


@strawberry.type(description="One team's metrics, a row of the organisation's comparison.")
class TeamComparison:
    metrics: DashboardMetrics = strawberry.field(description="Its metrics over the range.")
    team_id: strawberry.Private[int]

    @strawberry.field(description="The team.")
    async def team(self, info: Info) -> TeamType | None:
        return await _team(info, self.team_id)


@strawberry.type(description="A rep's view of one agent over a date range.")
class RepDashboard:
    from_: dt.date = strawberry.field(name="from", description="First day (UTC), inclusive.")
    to: dt.date = strawberry.field(description="Last day (UTC), inclusive.")
    currency: str = strawberry.field(description="The currency money figures are given in.")
    metrics: DashboardMetrics = strawberry.field(description="The agent's metrics.")
    daily: list[TrendPoint] = strawberry.field(description="One point per day, for charts.")
    agent_id: strawberry.Private[int]

    @strawberry.field(description="The agent.")
    async def agent(self, info: Info) -> AgentType | None:
        return await _agent(info, self.agent_id)

    @classmethod
    def of(cls, d: service.RepDashboard) -> RepDashboard:
        return cls(
            from_=d.range.since,
            to=d.range.until,
            currency=d.currency,
            metrics=DashboardMetrics.of(d.metrics),
            daily=[TrendPoint.of(p) for p in d.daily],
            agent_id=d.agent_id,
        )


@strawberry.type(description="A manager's view of one team over a date range.")
class TeamDashboard:
    from_: dt.date = strawberry.field(name="from", description="First day (UTC), inclusive.")
    to: dt.date = strawberry.field(description="Last day (UTC), inclusive.")
    currency: str = strawberry.field(description="The currency money figures are given in.")
    metrics: DashboardMetrics = strawberry.field(description="The team's totals.")
    agents: list[AgentComparison] = strawberry.field(description="Its agents side by side.")
    daily: list[TrendPoint] = strawberry.field(description="One point per day, for charts.")
    team_id: strawberry.Private[int]

    @strawberry.field(description="The team.")
    async def team(self, info: Info) -> TeamType | None:
        return await _team(info, self.team_id)

    @classmethod
    def of(cls, d: service.TeamDashboard) -> TeamDashboard:
        return cls(
            from_=d.range.since,
            to=d.range.until,
            currency=d.currency,
            metrics=DashboardMetrics.of(d.metrics),
            agents=[
                AgentComparison(metrics=DashboardMetrics.of(a.metrics), agent_id=a.agent_id)
                for a in d.agents
            ],
            daily=[TrendPoint.of(p) for p in d.daily],
            team_id=d.team_id,
        )


@strawberry.type(description="An executive's view of the organisation over a date range.")
class ExecutiveDashboard:
    from_: dt.date = strawberry.field(name="from", description="First day (UTC), inclusive.")
    to: dt.date = strawberry.field(description="Last day (UTC), inclusive.")
    currency: str = strawberry.field(description="The currency money figures are given in.")
    metrics: DashboardMetrics = strawberry.field(description="The organisation's totals.")
    teams: list[TeamComparison] = strawberry.field(description="Its teams side by side.")
    weekly: list[TrendPoint] = strawberry.field(description="One point per week (Monday first).")
    organization_id: strawberry.Private[int]

    @strawberry.field(description="The organisation.")
    async def organization(self, info: Info) -> OrganizationType | None:
        row = await info.context.loaders.get(by_id(Organization)).load(self.organization_id)
        return OrganizationType.of(row) if row is not None else None

    @classmethod
    def of(cls, d: service.ExecutiveDashboard) -> ExecutiveDashboard:
        return cls(
            from_=d.range.since,
            to=d.range.until,
            currency=d.currency,
            metrics=DashboardMetrics.of(d.metrics),
            teams=[
                TeamComparison(metrics=DashboardMetrics.of(t.metrics), team_id=t.team_id)
                for t in d.teams
            ],
            weekly=[TrendPoint.of(p) for p in d.weekly],
            organization_id=d.organization_id,
        )
