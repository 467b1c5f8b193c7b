"""GraphQL: `reportSubscriptions`, `reportRuns` (the delivery log) and `reportPreview`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from backend.errors import DomainError, ErrorCode
from backend.pagination import DEFAULT_PAGE
from backend.reports import runs, subscriptions
from backend.reports.render import html_with_data_uris, render_report
from backend.reports.rendered import Links, Period
from graphql_schema.filters import After, First
from graphql_schema.inputs import decode_id
from graphql_schema.relay import Connection
from graphql_schema.reports.types import (
    ReportChart,
    ReportKind,
    ReportPreview,
    ReportRunType,
    ReportSubscriptionType,
)


@strawberry.type
class ReportsQuery:
    @strawberry.field(
        description="The report subscriptions you see (your own; executives and "
        "administrators: the organisation's), newest first."
    )
    async def report_subscriptions(
        self, info: Info, first: First = DEFAULT_PAGE, after: After = None
    ) -> Connection[ReportSubscriptionType]:
        viewer = info.context.require_viewer()
        async with info.context.state.reads() as session:
            page = await subscriptions.subscriptions_page(session, viewer, first=first, after=after)
        return Connection.of(page, ReportSubscriptionType.of, info)

    @strawberry.field(
        description="The log of report runs you see, newest first: when, which report and "
        "period, to whom, the result and each channel's delivery."
    )
    async def report_runs(
        self,
        info: Info,
        subscription_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this subscription's (its id)."),
        ] = None,
        first: First = DEFAULT_PAGE,
        after: After = None,
    ) -> Connection[ReportRunType]:
        viewer = info.context.require_viewer()
        subscription = (
            decode_id(subscription_id, "ReportSubscription", "subscriptionId")
            if subscription_id is not None
            else None
        )
        async with info.context.state.reads() as session:
            page = await runs.runs_page(
                session, viewer, subscription_id=subscription, first=first, after=after
            )
            ids = [r.id for r in page.items]
            deliveries = await runs.deliveries_of(session, viewer, ids)
            recipients = await runs.recipients_of(session, [r.user_id for r in page.items])
        return Connection.of(
            page,
            lambda r: ReportRunType.of(r, deliveries.get(r.id, []), recipients.get(r.user_id)),
            info,
        )

    @strawberry.field(
        description="A report rendered for you now, as it would be sent (nothing is sent or "
        "kept): a manager's daily report of one of your teams, the executive weekly report, "
        "or a rep's weekly digest of your agent."
    )
    async def report_preview(
        self,
        info: Info,
        kind: Annotated[ReportKind, strawberry.argument(description="Which report.")],
        period: Annotated[
            dt.date | None,
            strawberry.argument(
                description="A day of the period (daily: that day; weekly: its Monday-to-Sunday "
                "week); default: yesterday. Not in the future."
            ),
        ] = None,
        team_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="The daily report's team.")
        ] = None,
        agent_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="The digest's agent.")
        ] = None,
    ) -> ReportPreview:
        viewer = info.context.require_viewer()
        if viewer.user_id is None:
            raise DomainError(ErrorCode.FORBIDDEN, "reports are previewed by people")
        today = info.context.today()
        day = period or today - dt.timedelta(days=1)
        if day >= today:
            raise DomainError(ErrorCode.INVALID, "must be a day before today", field="period")
        team = decode_id(team_id, "Team", "teamId") if team_id is not None else None
        agent = decode_id(agent_id, "Agent", "agentId") if agent_id is not None else None
        state = info.context.state
        report = await render_report(
            state.reads,
            viewer,
            kind=kind.value,
            period=Period.of(kind.value, day),
            links=Links(state.settings.public_base_url),
            today=today,
            now=info.context.now(),
            team_id=team,
            agent_id=agent,
        )
        return ReportPreview(
            subject=report.subject,
            html=report.html,
            text=report.text,
            html_with_images=html_with_data_uris(report),
            charts=[ReportChart(cid=c.cid, title=c.title, alt=c.alt) for c in report.charts],
            period_start=report.period.start,
            period_end=report.period.end,
        )
