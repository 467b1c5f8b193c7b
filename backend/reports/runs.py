"""The worker's report runs: find the subscriptions whose period is due, claim each (subscription,
period) once by inserting its run, render it as the recipient's current viewer, and queue its
deliveries (one per channel).

Once: the run's unique key (subscription, period start) lets one insert win across workers; a
run a crashed worker left ``running`` is taken over by one guarded update when its lease has
passed; deliveries are unique per (run, channel), so a run rendered twice queues them once.
Scope at the time of sending: a manager's report of a team they no longer manage, or a report
for someone now inactive or in another role, is not sent: the run is ``skipped`` with why.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.service import viewer_of_user
from backend.database import dialect_insert, is_postgresql
from backend.errors import PermissionDeniedError
from backend.orgs.models import User
from backend.outbox import LEASE, backoff
from backend.pagination import Page, paginate
from backend.reports.mail import email_bytes, report_email
from backend.reports.models import (
    DeliveryStatus,
    ReportChannel,
    ReportDelivery,
    ReportKind,
    ReportRun,
    ReportRunStatus,
    ReportSubscription,
)
from backend.reports.rendered import Links, Period, RenderedReport
from backend.reports.schedule import Due, Schedule, latest_due
from backend.reports.unsubscribe import unsubscribe_url
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.viewer import Viewer, ViewerRole, scoped

log = logging.getLogger(__name__)
MAX_RUN_ATTEMPTS = 3  # a report that fails to render this often is failed (a bug: logged)
Renderer = Callable[..., Awaitable[RenderedReport]]


@dataclass(frozen=True)
class DueRun:
    subscription: ReportSubscription
    due: Due


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


def schedule_of(subscription: ReportSubscription) -> Schedule:
    return Schedule(
        kind=ReportKind(subscription.kind),
        timezone=subscription.timezone,
        send_hour=subscription.send_hour,
        weekday=subscription.weekday,
    )


async def due_runs(session: AsyncSession, *, now: dt.datetime) -> list[DueRun]:
    """The enabled subscriptions whose latest due period has no run yet (all organisations)."""
    subscriptions = list(
        await session.scalars(
            select(ReportSubscription)
            .where(ReportSubscription.enabled.is_(True))
            .order_by(ReportSubscription.id)
        )
    )
    candidates = []
    for subscription in subscriptions:
        try:
            due = latest_due(schedule_of(subscription), now, since=subscription.created_at)
        except ValueError:  # a zone the system no longer knows: logged, the others go on
            log.exception("report subscription %d has no valid schedule", subscription.id)
            continue
        if due is not None:
            candidates.append(DueRun(subscription, due))
    if not candidates:
        return []
    keys = [(c.subscription.id, day_start(c.due.period.start)) for c in candidates]
    existing = set(
        tuple(row)
        for row in (
            await session.execute(
                select(ReportRun.subscription_id, ReportRun.period_start).where(
                    tuple_(ReportRun.subscription_id, ReportRun.period_start).in_(keys)
                )
            )
        ).all()
    )
    return [
        c
        for c, key in zip(candidates, keys, strict=True)
        if (key[0], key[1].replace(tzinfo=dt.UTC)) not in existing
    ]


async def claim_run(session: AsyncSession, due: DueRun, *, now: dt.datetime) -> int | None:
    """Insert the run of ``due``: its id when this worker won it, None when another had."""
    subscription = due.subscription
    statement = (
        dialect_insert(session, ReportRun)
        .values(
            organization_id=subscription.organization_id,
            subscription_id=subscription.id,
            user_id=subscription.user_id,
            kind=subscription.kind,
            period_start=day_start(due.due.period.start),
            period_end=day_start(due.due.period.end),
            due_at=due.due.due_at,
            status=ReportRunStatus.RUNNING.value,
            attempts=1,
            leased_until=now + LEASE,
            summary={},
            started_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["subscription_id", "period_start"])
        .returning(ReportRun.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def take_over_stale_runs(
    session: AsyncSession, *, now: dt.datetime, limit: int = 20
) -> list[int]:
    """Runs left ``running`` past their lease (their worker died, or rendering failed and
    waits for its retry): leased to this worker, each by one guarded update."""
    stale = (ReportRun.status == ReportRunStatus.RUNNING.value, ReportRun.leased_until <= now)
    candidates = select(ReportRun.id).where(*stale).order_by(ReportRun.id).limit(limit)
    if is_postgresql(session):
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(await session.scalars(candidates))
    if not ids:
        return []
    taken = await session.scalars(
        update(ReportRun)
        .where(ReportRun.id.in_(ids), *stale)
        .values(attempts=ReportRun.attempts + 1, leased_until=now + LEASE)
        .returning(ReportRun.id)
    )
    return sorted(taken)


def out_of_scope(subscription: ReportSubscription, viewer: Viewer | None) -> str | None:
    """Why the recipient may not have this report now (None: they may)."""
    if viewer is None:
        return "the recipient is inactive or no longer exists"
    organization_wide = viewer.role in (ViewerRole.EXECUTIVE, ViewerRole.ADMIN)
    match ReportKind(subscription.kind):
        case ReportKind.MANAGER_DAILY:
            if organization_wide:
                return None
            if viewer.role is not ViewerRole.MANAGER:
                return f"the recipient is no longer a manager (now {viewer.role.value})"
            if subscription.team_id is None and not viewer.team_ids:
                return "the recipient manages no team now"
            if subscription.team_id is not None and subscription.team_id not in (
                viewer.team_ids or ()
            ):
                return f"the recipient no longer manages team {subscription.team_id}"
        case ReportKind.EXECUTIVE_WEEKLY:
            if not organization_wide:
                return f"the recipient is no longer an executive (now {viewer.role.value})"
        case ReportKind.REP_WEEKLY:
            if viewer.role is not ViewerRole.REP or not viewer.can_see_agent(subscription.agent_id):
                return f"agent {subscription.agent_id} is no longer the recipient's"
    return None


def team_of(subscription: ReportSubscription, viewer: Viewer) -> int | None:
    """The team of a manager's report: the subscription's, or (none named) the team the
    manager manages now (the first by id when several)."""
    if subscription.kind != ReportKind.MANAGER_DAILY.value or subscription.team_id is not None:
        return subscription.team_id
    return min(viewer.team_ids) if viewer.team_ids else None


async def _finish(
    state: AppState, run_id: int, status: ReportRunStatus, *, now: dt.datetime, **values: Any
) -> None:
    async with transaction(state.sessions) as session:
        await session.execute(
            update(ReportRun)
            .where(ReportRun.id == run_id, ReportRun.status == ReportRunStatus.RUNNING.value)
            .values(status=status.value, leased_until=None, finished_at=now, **values)
        )


async def _render_failed(state: AppState, run: ReportRun, error: str, *, now: dt.datetime) -> None:
    if run.attempts >= MAX_RUN_ATTEMPTS:
        await _finish(state, run.id, ReportRunStatus.FAILED, now=now, error=error[:2000])
        log.error("report run %d failed for good: %s", run.id, error)
        return
    async with transaction(state.sessions) as session:
        await session.execute(
            update(ReportRun)
            .where(ReportRun.id == run.id, ReportRun.status == ReportRunStatus.RUNNING.value)
            .values(error=error[:2000], leased_until=now + backoff(run.attempts))
        )
    log.warning("report run %d, attempt %d failed (will retry): %s", run.id, run.attempts, error)


async def process_run(
    state: AppState, run_id: int, *, now: dt.datetime, render: Renderer
) -> ReportRunStatus:
    """Render the run as its recipient is now and queue its deliveries; or skip it, saying why."""
    settings = state.settings
    async with state.sessions() as session:
        run = await session.get_one(ReportRun, run_id)
        subscription = await session.get(ReportSubscription, run.subscription_id)
        user = await session.get(User, run.user_id)
        viewer = await viewer_of_user(session, run.user_id)
    if subscription is None or user is None:  # deleted meanwhile: its run went with it
        return ReportRunStatus.SKIPPED
    reason = out_of_scope(subscription, viewer)
    if reason is None and not subscription.enabled:
        reason = "the subscription was disabled or unsubscribed before sending"
    if reason is not None or viewer is None:
        await _finish(state, run_id, ReportRunStatus.SKIPPED, now=now, error=reason)
        log.info("report run %d skipped: %s", run_id, reason)
        return ReportRunStatus.SKIPPED
    period = Period(run.period_start.date(), run.period_end.date())
    unsubscribe = unsubscribe_url(
        settings.public_base_url,
        settings.secret_key,
        subscription_id=subscription.id,
        user_id=subscription.user_id,
    )
    try:
        report = await render(
            state.reads,
            viewer,
            kind=subscription.kind,
            period=period,
            links=Links(settings.public_base_url, unsubscribe),
            today=now.date(),
            now=now,
            team_id=team_of(subscription, viewer),
            agent_id=subscription.agent_id,
        )
    except Exception as exc:  # logged and retried; the run keeps its error
        await _render_failed(state, run, f"{type(exc).__name__}: {exc}", now=now)
        return ReportRunStatus.RUNNING
    deliveries = _deliveries(
        run, subscription, user, report, unsubscribe, now=now, sender=settings.smtp_sender
    )
    notes = [] if deliveries or not subscription.channels else ["no channel has a target"]
    if ReportChannel.SLACK.value in subscription.channels and not any(
        d["channel"] == ReportChannel.SLACK.value for d in deliveries
    ):
        notes.append("slack: no channel and the recipient has no Slack id")
    async with transaction(state.sessions) as session:
        for delivery in deliveries:
            await session.execute(
                dialect_insert(session, ReportDelivery)
                .values(**delivery)
                .on_conflict_do_nothing(index_elements=["run_id", "channel"])
            )
        status = ReportRunStatus.QUEUED if deliveries else ReportRunStatus.SKIPPED
        await session.execute(
            update(ReportRun)
            .where(ReportRun.id == run_id, ReportRun.status == ReportRunStatus.RUNNING.value)
            .values(
                status=status.value,
                leased_until=None,
                summary={
                    **report.summary,
                    "subject": report.subject,
                    "team_id": team_of(subscription, viewer),
                },
                error="; ".join(notes) or None,
                finished_at=None if deliveries else now,
            )
        )
    return status


def _deliveries(
    run: ReportRun,
    subscription: ReportSubscription,
    user: User,
    report: RenderedReport,
    unsubscribe: str,
    *,
    now: dt.datetime,
    sender: str,
) -> list[dict[str, Any]]:
    common = {
        "organization_id": run.organization_id,
        "run_id": run.id,
        "user_id": run.user_id,
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "errors": [],
        "created_at": now,
    }
    rows = []
    if ReportChannel.EMAIL.value in subscription.channels:
        message = report_email(
            report,
            sender=sender,
            to=user.email,
            message_id=f"report-run-{run.id}",
            unsubscribe_url=unsubscribe,
            now=now,
        )
        rows.append(
            {
                **common,
                "channel": ReportChannel.EMAIL.value,
                "target": user.email,
                "content": email_bytes(message),
                "slack_message": None,
                "message_id": message["Message-ID"],
            }
        )
    target = subscription.slack_channel or user.slack_user_id
    if ReportChannel.SLACK.value in subscription.channels and target:
        chart = report.charts[0] if report.charts else None
        rows.append(
            {
                **common,
                "channel": ReportChannel.SLACK.value,
                "target": target,
                "content": chart.png if chart is not None else None,
                "slack_message": {
                    "text": report.subject,
                    "blocks": report.slack_blocks,
                    "image_title": chart.title if chart is not None else "",
                    "alt_text": chart.alt if chart is not None else None,
                    "filename": f"{report.kind.value}-{report.period.start}.png",
                },
                "message_id": None,
            }
        )
    return rows


async def run_due_reports(
    state: AppState, *, now: dt.datetime, render: Renderer | None = None
) -> int:
    """Claim the due runs (new ones, and those a crashed worker left), render and queue each;
    returns how many were claimed. One run's failure leaves the others standing."""
    if render is None:
        from backend.reports.render import render_report

        render = render_report
    async with state.sessions() as session:
        due = await due_runs(session, now=now)
    claimed: list[int] = []
    for item in due:
        async with transaction(state.sessions) as session:
            run_id = await claim_run(session, item, now=now)
        if run_id is not None:
            claimed.append(run_id)
    async with transaction(state.sessions) as session:
        claimed.extend(await take_over_stale_runs(session, now=now))
    for run_id in claimed:
        try:
            await process_run(state, run_id, now=now, render=render)
        except Exception:
            log.exception("report run %d failed; taken over when its lease ends", run_id)
    return len(claimed)


async def runs_page(
    session: AsyncSession,
    viewer: Viewer,
    *,
    subscription_id: int | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page[ReportRun]:
    """The runs the viewer sees (their own; executives and administrators: the
    organisation's), newest first, of one subscription when asked."""
    if viewer.user_id is None:
        raise PermissionDeniedError("report runs belong to people")
    statement = scoped(select(ReportRun), ReportRun, viewer)
    if subscription_id is not None:
        statement = statement.where(ReportRun.subscription_id == subscription_id)
    return await paginate(
        session, statement, order=(ReportRun.created_at, ReportRun.id), first=first, after=after
    )


async def deliveries_of(
    session: AsyncSession, viewer: Viewer, run_ids: list[int]
) -> dict[int, list[ReportDelivery]]:
    """The deliveries of the runs (in one statement), by run, e-mail first."""
    rows = await session.scalars(
        scoped(select(ReportDelivery), ReportDelivery, viewer)
        .where(ReportDelivery.run_id.in_(sorted(set(run_ids))))
        .order_by(ReportDelivery.run_id, ReportDelivery.channel)
    )
    found: dict[int, list[ReportDelivery]] = {}
    for row in rows:
        found.setdefault(row.run_id, []).append(row)
    return found


async def recipients_of(session: AsyncSession, user_ids: list[int]) -> dict[int, str]:
    rows = await session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
    return {user_id: address for user_id, address in rows}
