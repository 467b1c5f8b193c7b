"""GraphQL subscriptions over `graphql-transport-ws`: calibration, policy, outcomes to label,
feedback prompts, alerts.

Each operation joins its organisation's channel in the process's live hub
(`graphql_schema.live.hub`), which checks every event once per principal before delivering it
(`graphql_schema.live.access`) and encodes it once for all who receive it. Endings:

- the credential stopped working, or an API key lost the scope: the operation ends with an
  error (`unauthenticated` / `forbidden`), then `complete`;
- the broker dropped the subscriber (too slow: its queue of `SUBSCRIBER_QUEUE_SIZE` events
  filled) or lost its Redis connection: the WebSocket is closed with `SUBSCRIPTION_LOST_CLOSE`
  (1013, "Try Again Later"). Clients reconnect and re-query what they missed by version.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Annotated, Any, TypeVar

import strawberry
from starlette.websockets import WebSocket
from strawberry.types import Info

from backend.agents.models import Agent
from backend.alerts.models import Severity
from backend.errors import DomainError, ErrorCode, NotFoundError
from backend.events.service import channel_for
from backend.lookup import rows_by_ids
from backend.pubsub import SubscriptionLost
from backend.viewer import Viewer
from graphql_schema.context import Context
from graphql_schema.inputs import decode_id
from graphql_schema.live.access import (
    EventCheck,
    ScopeCheck,
    alert_scope,
    calibration_scope,
    outcome_scope,
    policy_scope,
    prompt_scope,
    sees_agent_event,
    sees_alert_event,
)
from graphql_schema.live.hub import Filter, LiveHub, Topic
from graphql_schema.live.transport import current_operation_frames
from graphql_schema.live.types import (
    AlertChangedEvent,
    CalibrationChangedEvent,
    FeedbackPromptEvent,
    OutcomeNeedsLabelEvent,
    PolicyChangedEvent,
)

# 1013 "Try Again Later" (RFC 6455 registry): not one of graphql-transport-ws's 44xx codes,
# which its clients treat as fatal; with 1013 they reconnect, and re-query what they missed.
SUBSCRIPTION_LOST_CLOSE = 1013
log = logging.getLogger(__name__)

E = TypeVar("E")

ActionTypeFilter = Annotated[
    str | None, strawberry.argument(description="Only events of this action type, e.g. `email`.")
]
AgentFilter = Annotated[
    strawberry.ID | None,
    strawberry.argument(
        description="Only this agent's events (an agent out of scope is not found, like an unknown "
        "one); without it, every agent the viewer may see, and organisation-wide calibration for "
        "organisation-wide viewers."
    ),
]


def _every(data: dict[str, Any]) -> bool:
    return True


async def _visible_agent(context: Context, viewer: Viewer, agent_id: str) -> int:
    try:
        raw = decode_id(agent_id, "Agent", "agentId")
    except DomainError:  # malformed or another type's id: unknown, like a foreign one
        raw = -1
    async with context.state.sessions() as session:
        found = await rows_by_ids(session, viewer, Agent, [raw])
    if raw not in found:
        raise NotFoundError("agent", field="agentId")
    return raw


async def _events(
    info: Info,
    *,
    name: str,
    scope: ScopeCheck,
    wanted: Filter,
    to_type: Callable[[dict[str, Any]], E],
    sees: EventCheck = sees_agent_event,
) -> AsyncGenerator[E, None]:
    """Check now (a refusal answers `subscribe` with an error); then the events that the
    process's hub lets through. Over graphql-transport-ws the hub sends its shared `next` frames
    itself, and this generator only waits for the end; elsewhere (or when a shared execution
    failed) the events are yielded to Strawberry. The hub registration is taken when iteration
    starts, so an operation cancelled before that leaves nothing registered."""
    context: Context = info.context
    viewer = context.require_viewer()
    scope(viewer)
    channel = channel_for(viewer.organization_id, name)
    socket = context.connection if isinstance(context.connection, WebSocket) else None
    operation = current_operation_frames() if socket is not None else None
    frames = (socket, operation) if socket is not None and operation is not None else None
    topic = Topic(scope=scope, to_type=to_type, sees=sees)

    async def deliver() -> AsyncGenerator[E, None]:
        member = LiveHub.of(context.state).join(
            context,
            channel=channel,
            topic=topic,
            wanted=wanted,
            # graphql-core's own info: the operation, fragments and variables to share
            info=info._raw_info if frames is not None else None,
            frames=frames,
        )
        try:
            async for delivery in member.queue:
                yield delivery.event
        except SubscriptionLost as lost:
            await _close_connection(context, lost)
        finally:
            await member.leave()
        if member.refused is not None:  # shared by the principal's members: a fresh traceback
            raise member.refused.with_traceback(None)

    return deliver()


async def _close_connection(context: Context, lost: SubscriptionLost) -> None:
    """Close the WebSocket, then wait for the handler to cancel the operation on disconnect
    (returning would make it send `complete` on a closed socket)."""
    connection = context.connection
    if not isinstance(connection, WebSocket):  # a subscription over HTTP ends with the error
        raise lost
    log.warning(
        "request %s: closing the WebSocket (%d): %s",
        context.request_id,
        SUBSCRIPTION_LOST_CLOSE,
        lost,
    )
    with contextlib.suppress(RuntimeError):  # already closed by the client or the server
        await connection.close(code=SUBSCRIPTION_LOST_CLOSE, reason=str(lost)[:120])
    await asyncio.Event().wait()


@strawberry.type(
    description="Live events, over `graphql-transport-ws` on `/graphql` (send "
    '`{"Authorization": "Bearer ..."}` in `connection_init`). Every event has '
    "its stream's `version`; after a reconnect, re-query what was missed. Access is "
    "checked again for every event."
)
class Subscription:
    @strawberry.subscription(
        description="A calibration verdict or recalibration map changed. "
        "Needs `read:calibration` for partner keys, `read:policy` for the "
        "agent's own key."
    )
    async def calibration_changed(
        self, info: Info, action_type: ActionTypeFilter = None, agent_id: AgentFilter = None
    ) -> AsyncGenerator[CalibrationChangedEvent, None]:
        viewer = info.context.require_viewer()
        calibration_scope(viewer)
        agent = None if agent_id is None else await _visible_agent(info.context, viewer, agent_id)

        def wanted(data: dict[str, Any]) -> bool:
            return (action_type is None or data["actionType"] == action_type) and (
                agent is None or data.get("agentId") == agent
            )

        return await _events(
            info,
            name="calibration.changed",
            scope=calibration_scope,
            wanted=wanted,
            to_type=CalibrationChangedEvent.of,
        )

    @strawberry.subscription(
        description="An agent's policy (thresholds, frozen) has a new "
        "version. API keys: `read:policy` for the agent's own key, "
        "`read:calibration` for partners (as the `policy` query)."
    )
    async def policy_changed(
        self, info: Info, action_type: ActionTypeFilter = None
    ) -> AsyncGenerator[PolicyChangedEvent, None]:
        def wanted(data: dict[str, Any]) -> bool:
            return action_type is None or data["actionType"] == action_type

        return await _events(
            info,
            name="policy.changed",
            scope=policy_scope,
            wanted=wanted,
            to_type=PolicyChangedEvent.of,
        )

    @strawberry.subscription(
        description="An outcome of an agent the viewer may see needs a "
        "person's label. The agent's own key follows its outcomes; other "
        "API keys need `read:outcomes` (as the `outcomes` query)."
    )
    async def outcome_needs_label(self, info: Info) -> AsyncGenerator[OutcomeNeedsLabelEvent, None]:
        return await _events(
            info,
            name="outcome.needs_label",
            scope=outcome_scope,
            wanted=_every,
            to_type=OutcomeNeedsLabelEvent.of,
        )

    @strawberry.subscription(
        description="A feedback prompt the viewer sees was asked, reminded, answered or "
        "expired: a rep follows the prompts asking them, a manager their teams'. API keys need "
        "`read:feedback` (as the `feedbackPrompts` query)."
    )
    async def feedback_prompts(
        self,
        info: Info,
        assignee_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only the prompts asking this person (a User id)."),
        ] = None,
    ) -> AsyncGenerator[FeedbackPromptEvent, None]:
        prompt_scope(info.context.require_viewer())
        assignee = None if assignee_id is None else decode_id(assignee_id, "User", "assigneeId")

        def wanted(data: dict[str, Any]) -> bool:
            return assignee is None or data["userId"] == assignee

        return await _events(
            info,
            name="feedback_prompt.changed",
            scope=prompt_scope,
            wanted=wanted,
            to_type=FeedbackPromptEvent.of,
        )

    @strawberry.subscription(
        description="An alert the viewer sees was created, acknowledged, resolved or snoozed: "
        "a rep hears of their agents' alerts, a manager of their teams' and their teams' "
        "agents', an executive of all (as the `alerts` query). People only: API keys are "
        "refused."
    )
    async def alert_changed(
        self,
        info: Info,
        team_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Only the alerts about this team or its agents (a Team id); a team "
                "out of sight hears nothing, as an unknown one."
            ),
        ] = None,
        agent_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Only the alerts about this agent (an Agent id); an agent out of "
                "sight hears nothing, as an unknown one."
            ),
        ] = None,
        severity: Annotated[
            str | None,
            strawberry.argument(
                description="Only alerts of this severity: info, warning, critical."
            ),
        ] = None,
    ) -> AsyncGenerator[AlertChangedEvent, None]:
        alert_scope(info.context.require_viewer())
        team = None if team_id is None else decode_id(team_id, "Team", "teamId")
        agent = None if agent_id is None else decode_id(agent_id, "Agent", "agentId")
        level = None if severity is None else _severity(severity)

        def wanted(data: dict[str, Any]) -> bool:
            return (
                (team is None or data.get("teamId") == team)
                and (agent is None or data.get("agentId") == agent)
                and (level is None or data["severity"] == level)
            )

        return await _events(
            info,
            name="alert.changed",
            scope=alert_scope,
            wanted=wanted,
            to_type=AlertChangedEvent.of,
            sees=sees_alert_event,
        )


def _severity(value: str) -> str:
    try:
        return Severity(value).value
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        raise DomainError(
            ErrorCode.INVALID, f"severity must be one of: {allowed}", field="severity"
        ) from None
