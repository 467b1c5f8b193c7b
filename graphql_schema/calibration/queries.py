"""GraphQL: `calibration`, `calibrationHistory`, `policy` and `policyHistory`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.types import Info

from backend.calibration.repository import Interval, calibration_history, calibration_report
from backend.calibration.service import recalibration_in_force
from backend.policy.repository import agent_policy, policy_history
from graphql_schema.calibration.types import (
    CalibrationHistoryPoint,
    CalibrationType,
    IntervalEnum,
    PolicyChangeType,
    PolicyType,
)
from graphql_schema.relay import Connection

ActionTypeArg = Annotated[str, strawberry.argument(description="The action type, e.g. `email`.")]
AgentArg = Annotated[
    strawberry.ID | None,
    strawberry.argument(
        description="One agent (an agent out of scope is not found, like an unknown one)."
    ),
]
TeamArg = Annotated[
    strawberry.ID | None,
    strawberry.argument(
        description="A team's agents, those the viewer may see (reps: their own); neither "
        "agentId nor teamId: everything the viewer sees."
    ),
]
FromArg = Annotated[
    dt.date | None,
    strawberry.argument(
        name="from", description="First day of the actions (default: 89 days before `to`)."
    ),
]
ToArg = Annotated[
    dt.date | None,
    strawberry.argument(
        description="Last day of the actions, inclusive (default: today, UTC). At most 400 days "
        "after `from`."
    ),
]
PolicyAgentArg = Annotated[
    strawberry.ID | None,
    strawberry.argument(description="The agent (may be left out by the agent's own API key)."),
]


def node_id(value: str | None, type_name: str) -> int | None:
    """The row id of a global id of ``type_name``; -1 (never found) for any other id, so a
    malformed or mistyped id answers exactly like an unknown one."""
    if value is None:
        return None
    try:
        global_id = relay.GlobalID.from_id(value)
        return int(global_id.node_id) if global_id.type_name == type_name else -1
    except ValueError:  # not a global id at all (GlobalIDValueError), or not an integer
        return -1


@strawberry.type
class CalibrationQuery:
    @strawberry.field(
        description="Calibration of an agent, a team or everything the viewer sees, "
        "for one action type and range of days. Needs `read:calibration` for "
        "partner keys, `read:policy` for the agent's own key."
    )
    async def calibration(
        self,
        info: Info,
        action_type: ActionTypeArg,
        agent_id: AgentArg = None,
        team_id: TeamArg = None,
        from_: FromArg = None,
        to: ToArg = None,
    ) -> CalibrationType:
        viewer = info.context.require_viewer()
        async with info.context.state.sessions() as session:
            report = await calibration_report(
                session,
                viewer,
                action_type=action_type,
                agent_id=node_id(agent_id, "Agent"),
                team_id=node_id(team_id, "Team"),
                since=from_,
                until=to,
                today=info.context.today(),
            )
        return CalibrationType.of(report)

    @strawberry.field(
        description="The headline calibration numbers per day or week (days and "
        "weeks without outcomes are left out), oldest first, for trend charts. Only matured "
        "days count (see `Calibration.maturedUntil`): later days are left out, and the week "
        "holding the last matured day counts its matured days only."
    )
    async def calibration_history(
        self,
        info: Info,
        action_type: ActionTypeArg,
        agent_id: AgentArg = None,
        team_id: TeamArg = None,
        from_: FromArg = None,
        to: ToArg = None,
        interval: Annotated[
            IntervalEnum,
            strawberry.argument(description="DAY or WEEK (weeks start on Monday)."),
        ] = Interval.DAY,
    ) -> list[CalibrationHistoryPoint]:
        viewer = info.context.require_viewer()
        async with info.context.state.sessions() as session:
            points = await calibration_history(
                session,
                viewer,
                action_type=action_type,
                interval=Interval(interval),
                agent_id=node_id(agent_id, "Agent"),
                team_id=node_id(team_id, "Team"),
                since=from_,
                until=to,
                today=info.context.today(),
            )
        return [CalibrationHistoryPoint.of(p) for p in points]

    @strawberry.field(
        description="An agent's current policy for an action type; not found when "
        "the agent is out of scope or has no policy for that type yet."
    )
    async def policy(
        self, info: Info, action_type: ActionTypeArg, agent_id: PolicyAgentArg = None
    ) -> PolicyType:
        viewer = info.context.require_viewer()
        async with info.context.state.sessions() as session:
            policy = await agent_policy(
                session, viewer, action_type=action_type, agent_id=node_id(agent_id, "Agent")
            )
            recalibration = await recalibration_in_force(
                session,
                organization_id=policy.organization_id,
                agent_id=policy.agent_id,
                action_type=policy.action_type,
            )
        return PolicyType.of(policy, recalibration)

    @strawberry.field(
        description="Every change of an agent's policy for an action type, newest version first."
    )
    async def policy_history(
        self,
        info: Info,
        action_type: ActionTypeArg,
        agent_id: PolicyAgentArg = None,
        first: Annotated[
            int | None, strawberry.argument(description="Page size, 1..100 (default 20).")
        ] = None,
        after: Annotated[
            str | None, strawberry.argument(description="The `endCursor` of the previous page.")
        ] = None,
    ) -> Connection[PolicyChangeType]:
        viewer = info.context.require_viewer()
        async with info.context.state.sessions() as session:
            page = await policy_history(
                session,
                viewer,
                action_type=action_type,
                agent_id=node_id(agent_id, "Agent"),
                first=first,
                after=after,
            )
        return Connection.of(page, PolicyChangeType.of, info)
