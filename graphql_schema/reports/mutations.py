"""GraphQL: `upsertReportSubscription` and `deleteReportSubscription` (the recipient, or an
administrator of the organisation)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.reports import subscriptions
from backend.reports.models import ReportSubscription
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from graphql_schema.errors import UserError
from graphql_schema.inputs import attempt, decode_id, with_error_paths
from graphql_schema.reports.types import ReportChannel, ReportKind, ReportSubscriptionType

ERRORS_DESCRIPTION = "What to fix; empty when it was done (a rejected request changed nothing)."


@strawberry.input(
    description=with_error_paths(
        "A subscription to create or (with `id`, or the same report for the same person) change.",
        "timezone",
    )
)
class UpsertReportSubscriptionInput:
    id: strawberry.ID | None = strawberry.field(
        default=None, description="The subscription to change; omit to create one."
    )
    kind: ReportKind = strawberry.field(description="Which report.")
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="The recipient (User id): administrators only; default: you."
    )
    team_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="MANAGER_DAILY: the team (a manager: one they manage; null: the team they "
        "manage when it is sent).",
    )
    agent_id: strawberry.ID | None = strawberry.field(
        default=None, description="REP_WEEKLY: the rep's own agent."
    )
    channels: list[ReportChannel] = strawberry.field(
        default_factory=lambda: [ReportChannel.EMAIL], description="At least one."
    )
    slack_channel: str | None = strawberry.field(
        default=None,
        description="With SLACK: a channel id (C0123ABCD); null: a direct message to the "
        "recipient (who needs a Slack id).",
    )
    timezone: str = strawberry.field(default="UTC", description="An IANA time zone.")
    send_hour: int = strawberry.field(default=8, description="Local hour, 0..23.")
    weekday: int | None = strawberry.field(
        default=None, description="Weekly reports: 0 (Monday, default) .. 6; daily: null."
    )
    enabled: bool = strawberry.field(default=True, description="Whether it is sent.")


@strawberry.type(description="The subscription after `upsertReportSubscription`, or what to fix.")
class UpsertReportSubscriptionPayload:
    subscription: ReportSubscriptionType | None = strawberry.field(
        default=None, description="It, as it now stands; null when rejected."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


@strawberry.input(description=with_error_paths("The subscription to delete.", "id"))
class DeleteReportSubscriptionInput:
    id: strawberry.ID = strawberry.field(description="The subscription (ReportSubscription id).")


@strawberry.type(description="The deleted subscription, or what to fix.")
class DeleteReportSubscriptionPayload:
    subscription: ReportSubscriptionType | None = strawberry.field(
        default=None, description="It, as it was; null when rejected."
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description=ERRORS_DESCRIPTION)


async def _upsert(
    info: Info, viewer: Viewer, data: UpsertReportSubscriptionInput
) -> ReportSubscription:
    given = subscriptions.SubscriptionInput(
        kind=data.kind.value,
        team_id=decode_id(data.team_id, "Team", "teamId") if data.team_id else None,
        agent_id=decode_id(data.agent_id, "Agent", "agentId") if data.agent_id else None,
        channels=[c.value for c in data.channels],
        timezone=data.timezone,
        send_hour=data.send_hour,
        weekday=data.weekday,
        slack_channel=data.slack_channel,
        enabled=data.enabled,
        user_id=decode_id(data.user_id, "User", "userId") if data.user_id else None,
        subscription_id=decode_id(data.id, "ReportSubscription", "id") if data.id else None,
    )
    async with transaction(info.context.state.sessions) as session:
        return await subscriptions.upsert_subscription(
            session, viewer, given, now=info.context.now()
        )


async def _delete(
    info: Info, viewer: Viewer, data: DeleteReportSubscriptionInput
) -> ReportSubscription:
    subscription_id = decode_id(data.id, "ReportSubscription", "id")
    async with transaction(info.context.state.sessions) as session:
        return await subscriptions.delete_subscription(session, viewer, subscription_id)


@strawberry.type
class ReportsMutation:
    @strawberry.mutation(
        description="Subscribe to a periodic report, or change a subscription: yours, or "
        "(administrators) anyone's in the organisation; every problem names its field."
    )
    async def upsert_report_subscription(
        self,
        info: Info,
        input: Annotated[UpsertReportSubscriptionInput, strawberry.argument(description="It.")],
    ) -> UpsertReportSubscriptionPayload:
        saved, errors = await attempt(info, input, lambda v: _upsert(info, v, input))
        if saved is None:
            return UpsertReportSubscriptionPayload(errors=errors)
        return UpsertReportSubscriptionPayload(subscription=ReportSubscriptionType.of(saved))

    @strawberry.mutation(description="Delete a report subscription with its runs' log.")
    async def delete_report_subscription(
        self,
        info: Info,
        input: Annotated[DeleteReportSubscriptionInput, strawberry.argument(description="Which.")],
    ) -> DeleteReportSubscriptionPayload:
        deleted, errors = await attempt(info, input, lambda v: _delete(info, v, input))
        if deleted is None:
            return DeleteReportSubscriptionPayload(errors=errors)
        return DeleteReportSubscriptionPayload(subscription=ReportSubscriptionType.of(deleted))
