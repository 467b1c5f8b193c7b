"""The depth of each queue of work, counted when `/metrics` is scraped: one COUNT per queue,
each on an index that starts with the column it filters (status, or status and due time)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from backend.notifications.models import Notification, NotificationStatus
from backend.outcomes.models import Outcome, OutcomeStatus
from backend.partner_webhooks.models import DeliveryStatus as WebhookStatus
from backend.partner_webhooks.models import WebhookDelivery
from backend.prompts.models import FeedbackPrompt, PromptState
from backend.reports.models import DeliveryStatus as ReportStatus
from backend.reports.models import ReportDelivery
from backend.slack.models import SlackAlertDelivery, SlackDeliveryStatus
from backend.state import AppState


def _queues(now: dt.datetime) -> dict[str, tuple[type, list[ColumnElement[bool]]]]:
    return {
        # Outcome windows past their end that the worker has not closed yet.
        "windows_due": (
            Outcome,
            [Outcome.status == OutcomeStatus.OPEN.value, Outcome.due_at <= now],
        ),
        "label_queue": (Outcome, [Outcome.status == OutcomeStatus.NEEDS_LABEL.value]),
        "open_prompts": (FeedbackPrompt, [FeedbackPrompt.state == PromptState.OPEN.value]),
        "notifications_pending": (
            Notification,
            [Notification.status == NotificationStatus.PENDING.value],
        ),
        "slack_alerts_pending": (
            SlackAlertDelivery,
            [SlackAlertDelivery.status == SlackDeliveryStatus.PENDING.value],
        ),
        "partner_webhooks_pending": (
            WebhookDelivery,
            [WebhookDelivery.status == WebhookStatus.PENDING.value],
        ),
        "report_deliveries_pending": (
            ReportDelivery,
            [ReportDelivery.status == ReportStatus.PENDING.value],
        ),
    }


async def count_queues(session: AsyncSession, *, now: dt.datetime) -> dict[str, int]:
    """Every queue's depth, across all organisations, in one round trip."""
    queues = _queues(now)
    counts = [
        select(func.count()).select_from(table).where(*where).scalar_subquery()
        for table, where in queues.values()
    ]
    row = (await session.execute(select(*counts))).one()
    return {name: int(count) for name, count in zip(queues, row, strict=True)}


async def queue_depths(state: AppState) -> dict[str, int]:
    async with state.reads() as session:
        return await count_queues(session, now=state.now())
