"""The worker's delivery of reports: claim the due deliveries (each run's e-mail and Slack post),
send each through the channel given by the composition root, record the outcome, and settle the
run once none of its deliveries waits.

The claim is the outbox's (`backend.outbox`): on PostgreSQL the due rows are locked with SKIP
LOCKED, and one guarded update counts the attempt and leases each row, so two workers never
send the same delivery. A failure keeps its error and is retried after 1, 2, 4 ... minutes (at
most an hour; a Slack 429 after its Retry-After); after 8 attempts, or at once when the channel
refused for good, it is failed. The e-mail's bytes were stored when the run was rendered, so a
retry sends the very same message (same Message-ID).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend import outbox
from backend.outbox import MAX_ATTEMPTS, backoff
from backend.reports.mail import POLICY
from backend.reports.models import (
    DeliveryStatus,
    ReportChannel,
    ReportDelivery,
    ReportRun,
    ReportRunStatus,
)
from backend.state import AppState
from backend.unit_of_work import transaction

log = logging.getLogger(__name__)
CONCURRENCY = 4  # deliveries in flight at once: one slow server does not hold the others
OFF_NOTED = "reports.smtp_off_noted"


class DeliveryRefused(Exception):
    """A channel refused a delivery: for good (``permanent``: no retry), or for now (retried,
    not before ``retry_after`` when the channel said so)."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: dt.timedelta | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class SlackReport:
    """What a Slack delivery posts: the summary, then its main chart."""

    organization_id: int
    target: str  # a channel id, or the recipient's Slack user id (a direct message)
    text: str
    blocks: list[dict[str, Any]]
    image_png: bytes | None
    image_title: str
    alt_text: str | None
    filename: str


@dataclass(frozen=True)
class Senders:
    """The channels, given by the composition root (a domain imports no channel): each sends
    one delivery or raises (`DeliveryRefused`, or anything else: retried). ``email`` is None
    when SMTP is not configured: e-mails then wait; it takes the message's bytes, the envelope
    sender and recipients. ``slack`` returns the message's ts."""

    email: Callable[[bytes, str, list[str]], Awaitable[None]] | None
    slack: Callable[[SlackReport], Awaitable[str | None]]


async def claim_due(
    session: AsyncSession, *, now: dt.datetime, channels: list[str], limit: int = 50
) -> list[ReportDelivery]:
    """The due pending deliveries of ``channels`` for this worker, each counted and leased
    (`backend.outbox.claim_due`)."""
    return await outbox.claim_due(
        session,
        ReportDelivery,
        now=now,
        limit=limit,
        where=(ReportDelivery.channel.in_(channels),),
    )


async def mark_sent(
    session: AsyncSession, delivery: ReportDelivery, *, message_id: str | None, now: dt.datetime
) -> None:
    await session.execute(
        update(ReportDelivery)
        .where(ReportDelivery.id == delivery.id)
        .values(
            status=DeliveryStatus.SENT.value,
            sent_at=now,
            last_error=None,
            message_id=message_id or delivery.message_id,
        )
    )


async def mark_attempt_failed(
    session: AsyncSession,
    delivery: ReportDelivery,
    error: str,
    *,
    now: dt.datetime,
    permanent: bool = False,
    retry_after: dt.timedelta | None = None,
) -> DeliveryStatus:
    """Keep the attempt's error; retry after the backoff, or give up."""
    gave_up = permanent or delivery.attempts >= MAX_ATTEMPTS
    status = DeliveryStatus.FAILED if gave_up else DeliveryStatus.PENDING
    wait = max(backoff(delivery.attempts), retry_after or dt.timedelta(0))
    errors = [
        *(delivery.errors or []),
        {"attempt": delivery.attempts, "at": now.isoformat(), "error": error[:2000]},
    ]
    await session.execute(
        update(ReportDelivery)
        .where(ReportDelivery.id == delivery.id)
        .values(
            status=status.value, last_error=error[:2000], errors=errors, next_attempt_at=now + wait
        )
    )
    return status


async def settle_run(session: AsyncSession, run_id: int, *, now: dt.datetime) -> None:
    """A queued run whose deliveries are all done is sent (all went) or failed (naming which
    channels did not)."""
    counts: dict[str, int] = dict(
        tuple(row)  # type: ignore[misc]
        for row in (
            await session.execute(
                select(ReportDelivery.status, func.count())
                .where(ReportDelivery.run_id == run_id)
                .group_by(ReportDelivery.status)
            )
        ).all()
    )
    if counts.get(DeliveryStatus.PENDING.value):
        return
    failed = list(
        await session.scalars(
            select(ReportDelivery.channel)
            .where(
                ReportDelivery.run_id == run_id,
                ReportDelivery.status == DeliveryStatus.FAILED.value,
            )
            .order_by(ReportDelivery.channel)
        )
    )
    values: dict[str, Any] = {"finished_at": now, "status": ReportRunStatus.SENT.value}
    if failed:
        values.update(
            status=ReportRunStatus.FAILED.value,
            error=f"delivery failed: {', '.join(failed)}",
        )
    await session.execute(
        update(ReportRun)
        .where(ReportRun.id == run_id, ReportRun.status == ReportRunStatus.QUEUED.value)
        .values(**values)
    )


async def _send(delivery: ReportDelivery, senders: Senders) -> str | None:
    if delivery.channel == ReportChannel.EMAIL.value:
        assert senders.email is not None and delivery.content is not None
        headers = email.message_from_bytes(delivery.content, policy=POLICY)
        sender = parseaddr(str(headers["From"]))[1]
        # Sent as stored: re-flattened, the library would fold the unsubscribe link.
        await senders.email(delivery.content, sender, [delivery.target])
        return delivery.message_id
    slack = delivery.slack_message or {}
    return await senders.slack(
        SlackReport(
            organization_id=delivery.organization_id,
            target=delivery.target,
            text=str(slack.get("text") or "Report"),
            blocks=list(slack.get("blocks") or []),
            image_png=delivery.content,
            image_title=str(slack.get("image_title") or "Chart"),
            alt_text=slack.get("alt_text"),
            filename=str(slack.get("filename") or "report.png"),
        )
    )


async def _deliver_one(
    state: AppState, delivery: ReportDelivery, senders: Senders, *, now: dt.datetime
) -> bool:
    try:
        message_id = await _send(delivery, senders)
    except Exception as exc:
        refused = exc if isinstance(exc, DeliveryRefused) else None
        error = str(exc) if refused else f"{type(exc).__name__}: {exc}"
        async with transaction(state.sessions) as session:
            status = await mark_attempt_failed(
                session,
                delivery,
                error,
                now=now,
                permanent=bool(refused and refused.permanent),
                retry_after=refused.retry_after if refused else None,
            )
            await settle_run(session, delivery.run_id, now=now)
        log.warning(
            "report delivery %d (%s to %s), attempt %d failed (%s): %s",
            delivery.id,
            delivery.channel,
            delivery.target,
            delivery.attempts,
            "gave up" if status is DeliveryStatus.FAILED else "will retry",
            error,
        )
        return False
    async with transaction(state.sessions) as session:
        await mark_sent(session, delivery, message_id=message_id, now=now)
        await settle_run(session, delivery.run_id, now=now)
    return True


async def deliver_reports(
    state: AppState, *, now: dt.datetime, senders: Senders, limit: int = 50
) -> int:
    """Send the due report deliveries; returns how many went out. Without SMTP (``email`` is
    None) e-mails are not claimed: they wait, pending, until it is configured."""
    channels = [ReportChannel.SLACK.value]
    if senders.email is not None:
        channels.append(ReportChannel.EMAIL.value)
    elif not state.caches.get(OFF_NOTED):
        state.caches[OFF_NOTED] = True
        log.info("report e-mails are off (SMTP_HOST is not set); they stay pending")
    async with transaction(state.sessions) as session:
        claimed = await claim_due(session, now=now, channels=channels, limit=limit)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(delivery: ReportDelivery) -> bool:
        async with gate:
            return await _deliver_one(state, delivery, senders, now=now)

    return sum(await asyncio.gather(*(one(d) for d in claimed)))
