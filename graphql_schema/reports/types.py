"""GraphQL types of periodic reports: ReportSubscription, ReportRun (with its deliveries) and
the preview of a report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from backend.reports import models
from graphql_schema.nodes import load_nodes


@strawberry.enum(description="Which periodic report.")
class ReportKind(Enum):
    MANAGER_DAILY = "manager_daily"
    EXECUTIVE_WEEKLY = "executive_weekly"
    REP_WEEKLY = "rep_weekly"


@strawberry.enum(description="Where a report goes.")
class ReportChannel(Enum):
    EMAIL = "email"
    SLACK = "slack"


@strawberry.enum(description="Where a run stands.")
class ReportRunStatus(Enum):
    PENDING = "pending"
    RUNNING = "running"
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


@strawberry.enum(description="Where a delivery stands.")
class ReportDeliveryStatus(Enum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


def _global(type_name: str, row_id: int | None) -> strawberry.ID | None:
    if row_id is None:
        return None
    return strawberry.ID(str(relay.GlobalID(type_name, str(row_id))))


@strawberry.type(name="ReportSubscription", description="Who receives which report, when.")
class ReportSubscriptionType(relay.Node):
    id: relay.NodeID[int]
    kind: ReportKind = strawberry.field(description="Which report.")
    user_id: strawberry.ID = strawberry.field(description="The recipient (User id).")
    team_id: strawberry.ID | None = strawberry.field(
        description="A manager's report: its team; null: the team they manage when it is sent."
    )
    agent_id: strawberry.ID | None = strawberry.field(description="A rep's digest: its agent.")
    channels: list[ReportChannel] = strawberry.field(description="Where it goes.")
    slack_channel: str | None = strawberry.field(
        description="The Slack channel id; null: a direct message to the recipient."
    )
    timezone: str = strawberry.field(description="The recipient's IANA time zone.")
    send_hour: int = strawberry.field(description="Local hour it is sent at, 0..23.")
    weekday: int | None = strawberry.field(description="Weekly: 0 (Monday) .. 6 (Sunday).")
    enabled: bool = strawberry.field(description="Whether it is sent.")
    unsubscribed_at: dt.datetime | None = strawberry.field(
        description="When the recipient unsubscribed through the e-mail's link."
    )
    created_at: dt.datetime = strawberry.field(description="When it was created.")
    updated_at: dt.datetime | None = strawberry.field(description="When it last changed.")

    @classmethod
    def of(cls, row: models.ReportSubscription) -> ReportSubscriptionType:
        return cls(
            id=row.id,
            kind=ReportKind(row.kind),
            user_id=strawberry.ID(str(relay.GlobalID("User", str(row.user_id)))),
            team_id=_global("Team", row.team_id),
            agent_id=_global("Agent", row.agent_id),
            channels=[ReportChannel(c) for c in row.channels],
            slack_channel=row.slack_channel,
            timezone=row.timezone,
            send_hour=row.send_hour,
            weekday=row.weekday,
            enabled=row.enabled,
            unsubscribed_at=row.unsubscribed_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(
            info, models.ReportSubscription, node_ids, cls.of, required=required
        )


@strawberry.type(name="ReportDelivery", description="One channel of a run.")
class ReportDeliveryType:
    channel: ReportChannel = strawberry.field(description="E-mail or Slack.")
    target: str = strawberry.field(description="The address, or the Slack channel or user.")
    status: ReportDeliveryStatus = strawberry.field(description="Where it stands.")
    attempts: int = strawberry.field(description="Attempts made.")
    last_error: str | None = strawberry.field(description="The last failure, if any.")
    next_attempt_at: dt.datetime = strawberry.field(description="When it is next due.")
    sent_at: dt.datetime | None = strawberry.field(description="When it went out.")
    message_id: str | None = strawberry.field(
        description="The e-mail's Message-ID, or the Slack message's ts."
    )

    @classmethod
    def of(cls, row: models.ReportDelivery) -> ReportDeliveryType:
        return cls(
            channel=ReportChannel(row.channel),
            target=row.target,
            status=ReportDeliveryStatus(row.status),
            attempts=row.attempts,
            last_error=row.last_error,
            next_attempt_at=row.next_attempt_at,
            sent_at=row.sent_at if row.status == "sent" else None,
            message_id=row.message_id,
        )


@strawberry.type(name="ReportRun", description="One period of one subscription, and its log.")
class ReportRunType:
    id: strawberry.ID = strawberry.field(description="Its global id.")
    subscription_id: strawberry.ID = strawberry.field(description="Its subscription.")
    kind: ReportKind | None = strawberry.field(description="Which report.")
    period_start: dt.date = strawberry.field(description="The first day it covers.")
    period_end: dt.date = strawberry.field(description="The day after the last it covers.")
    due_at: dt.datetime | None = strawberry.field(description="When the schedule made it due.")
    recipient: str | None = strawberry.field(description="To whom (their e-mail address).")
    status: ReportRunStatus = strawberry.field(description="Where it stands.")
    error: str | None = strawberry.field(
        description="Why it was skipped or failed (or a channel it could not use)."
    )
    attempts: int = strawberry.field(description="Times it was claimed to render.")
    created_at: dt.datetime = strawberry.field(description="When a worker claimed it.")
    finished_at: dt.datetime | None = strawberry.field(description="When it was settled.")
    deliveries: list[ReportDeliveryType] = strawberry.field(description="Each channel.")

    @classmethod
    def of(
        cls,
        row: models.ReportRun,
        deliveries: list[models.ReportDelivery],
        recipient: str | None,
    ) -> ReportRunType:
        return cls(
            id=strawberry.ID(str(relay.GlobalID("ReportRun", str(row.id)))),
            subscription_id=strawberry.ID(
                str(relay.GlobalID("ReportSubscription", str(row.subscription_id)))
            ),
            kind=ReportKind(row.kind) if row.kind else None,
            period_start=row.period_start.date(),
            period_end=row.period_end.date(),
            due_at=row.due_at,
            recipient=recipient,
            status=ReportRunStatus(row.status),
            error=row.error,
            attempts=row.attempts,
            created_at=row.created_at,
            finished_at=row.finished_at,
            deliveries=[ReportDeliveryType.of(d) for d in deliveries],
        )


@strawberry.type(description="A chart of a report, shown inline by its Content-ID.")
class ReportChart:
    cid: str = strawberry.field(description="Its Content-ID (`cid:` in the HTML).")
    title: str = strawberry.field(description="Its title.")
    alt: str = strawberry.field(description="What it shows, for screen readers.")


@strawberry.type(description="A report rendered for you, as it would be sent.")
class ReportPreview:
    subject: str = strawberry.field(description="The e-mail's subject.")
    html: str = strawberry.field(description="The HTML, its charts referred to by `cid:`.")
    text: str = strawberry.field(description="The plain text alternative.")
    html_with_images: str = strawberry.field(
        description="The HTML with its charts as data URIs, for a browser."
    )
    charts: list[ReportChart] = strawberry.field(description="Its charts, main first.")
    period_start: dt.date = strawberry.field(description="The first day it covers.")
    period_end: dt.date = strawberry.field(description="The day after the last it covers.")
