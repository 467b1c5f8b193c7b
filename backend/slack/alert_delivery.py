"""The worker's delivery of alerts to Slack: claim the due changes, show each on its message
(``chat.postMessage`` the first time, ``chat.update`` after; a reminder also replies in the
thread), record the outcome. Each message is drawn from the alert as it is at sending time.

A message's changes go out in order: one waiting for an earlier change (the post, while Slack is
down) is put back until that one is due. Network failures, 5xx, 429 (after its Retry-After) and
Slack's transient errors are retried with the shared backoff; refusals that no retry can change
(``channel_not_found``, ``invalid_auth``, ...) fail the row at once. Both are logged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.agents.models import Agent
from backend.alerts.events import AlertChange
from backend.alerts.models import Alert, AlertRule
from backend.notifications.alert_emails import alert_link
from backend.notifications.recipients import alert_recipients
from backend.orgs.models import Team, User
from backend.slack.alert_blocks import AlertView, Person, alert_blocks, alert_text, reminder_text
from backend.slack.alert_outbox import (
    claim_due,
    defer,
    earlier_pending,
    mark_attempt_failed,
    mark_sent,
    record_posted,
)
from backend.slack.client import PERMANENT_ERRORS, SlackApiError, SlackClient
from backend.slack.models import (
    SlackAlertDelivery,
    SlackAlertMessage,
    SlackDeliveryStatus,
    SlackInstallation,
)
from backend.slack.service import installation_for_organization, slack_client
from backend.state import AppState
from backend.unit_of_work import transaction

log = logging.getLogger(__name__)
CONCURRENCY = 4  # messages shown side by side; one message's changes go one after another


class _Gone(Exception):
    """Nothing left to show the change on (no installation any more): fails at once."""


@dataclass(frozen=True)
class _Work:
    delivery: SlackAlertDelivery
    message: SlackAlertMessage
    installation: SlackInstallation
    view: AlertView
    mentions: list[str]  # the Slack users a reminder names
    minutes: int  # how long the alert has gone unacknowledged, for a reminder


def _window(evidence: dict[str, object]) -> str | None:
    window = evidence.get("window")
    if isinstance(window, dict) and window.get("start") and window.get("end"):
        return f"{window['start']} to {window['end']}"
    return None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


async def _scope(session: AsyncSession, alert: Alert) -> str:
    team = await session.get(Team, alert.team_id) if alert.team_id is not None else None
    if alert.agent_id is not None:
        agent = await session.get(Agent, alert.agent_id)
        name = agent.name if agent is not None else f"#{alert.agent_id}"
        return f"Agent {name}" + (f" · team {team.name}" if team is not None else "")
    return f"Team {team.name}" if team is not None else "Organisation"


async def alert_view(
    session: AsyncSession, alert: Alert, rule: AlertRule, *, base_url: str
) -> AlertView:
    """The alert as its Slack message shows it (the same figures as its e-mail)."""
    evidence = alert.evidence or {}
    reference: float | None = rule.threshold
    if reference is not None:
        reference_label = "Threshold"
    else:
        reference_label = "Baseline"
        reference = _float(evidence.get("baseline", alert.expected))
    ids = {alert.acknowledged_by_id, alert.snoozed_by_id, alert.resolved_by_id} - {None}
    people = {
        user.id: Person(user.name, user.slack_user_id)
        for user in await session.scalars(select(User).where(User.id.in_(sorted(ids))))
    }
    return AlertView(
        alert_id=alert.id,
        rule_name=rule.name,
        severity=alert.severity,
        state=alert.state,
        message=alert.message,
        metric=alert.metric,
        action_type=alert.action_type,
        value=_float(evidence.get("value", alert.observed)),
        reference_label=reference_label,
        reference=reference,
        window=_window(evidence),
        scope=await _scope(session, alert),
        link=alert_link(base_url, alert.id),
        fired_at=alert.fired_at,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=people.get(alert.acknowledged_by_id or 0),
        snoozed_until=alert.snoozed_until,
        snoozed_by=people.get(alert.snoozed_by_id or 0),
        resolved_at=alert.resolved_at,
        resolved_by=people.get(alert.resolved_by_id or 0),
        reminders=alert.reminders,
    )


async def _work(
    session: AsyncSession, delivery: SlackAlertDelivery, *, base_url: str, now: dt.datetime
) -> _Work:
    message = await session.get_one(SlackAlertMessage, delivery.message_id)
    alert = await session.get_one(Alert, message.alert_id)
    rule = await session.get_one(AlertRule, alert.rule_id)
    installation = await installation_for_organization(session, alert.organization_id)
    if installation is None:
        raise _Gone("the organisation has no Slack installation any more")
    mentions: list[str] = []
    if delivery.change == AlertChange.REMINDED.value:
        if message.user_id is not None:
            mentions = [message.target]
        else:
            recipients = await alert_recipients(session, alert)
            mentions = [r.slack_user_id for r in recipients if r.slack_user_id]
    minutes = int(((alert.reminded_at or now) - alert.fired_at).total_seconds() // 60)
    view = await alert_view(session, alert, rule, base_url=base_url)
    return _Work(delivery, message, installation, view, mentions, minutes)


async def _show(state: AppState, work: _Work, client: SlackClient, *, now: dt.datetime) -> None:
    """Post the message (or update it), and for a reminder reply in its thread."""
    text, blocks = alert_text(work.view), alert_blocks(work.view, now=now)
    channel, ts = work.message.channel, work.message.ts
    if channel is None or ts is None:
        answer = await client.post_message(channel=work.message.target, text=text, blocks=blocks)
        channel, ts = answer.get("channel"), answer.get("ts")
        if not isinstance(channel, str) or not isinstance(ts, str):
            raise SlackApiError("chat.postMessage", "the answer has no channel and ts")
        # Kept at once: a failure after this retries with an update, never a second post.
        async with transaction(state.sessions) as session:
            await record_posted(session, work.message.id, channel=channel, ts=ts, now=now)
    else:
        await client.update_message(channel=channel, ts=ts, text=text, blocks=blocks)
    if work.delivery.change == AlertChange.REMINDED.value:
        await client.post_message(
            channel=channel, text=reminder_text(work.minutes, work.mentions), thread_ts=ts
        )


async def _fail(
    state: AppState,
    delivery: SlackAlertDelivery,
    error: str,
    *,
    now: dt.datetime,
    permanent: bool = False,
    retry_after: dt.timedelta | None = None,
) -> SlackDeliveryStatus:
    async with transaction(state.sessions) as session:
        status = await mark_attempt_failed(
            session, delivery, error, now=now, permanent=permanent, retry_after=retry_after
        )
    log.log(
        logging.ERROR if permanent else logging.WARNING,
        "Slack alert delivery %d (%s), attempt %d failed (%s): %s",
        delivery.id,
        delivery.change,
        delivery.attempts,
        "failed for good"
        if permanent
        else "gave up"
        if status is SlackDeliveryStatus.FAILED
        else "will retry",
        error,
    )
    return status


async def _deliver_one(
    state: AppState,
    delivery: SlackAlertDelivery,
    clients: dict[int, SlackClient],
    *,
    now: dt.datetime,
) -> SlackDeliveryStatus:
    work = gone = None
    async with state.sessions() as session:
        waiting = await earlier_pending(session, delivery)
        if waiting is None:
            try:
                base_url = state.settings.public_base_url
                work = await _work(session, delivery, base_url=base_url, now=now)
            except _Gone as exc:
                gone = str(exc)
    if gone is not None:
        return await _fail(state, delivery, gone, now=now, permanent=True)
    if work is None:
        assert waiting is not None
        async with transaction(state.sessions) as session:
            await defer(session, delivery, until=max(now, waiting.next_attempt_at))
        return SlackDeliveryStatus.PENDING
    try:
        client = clients.get(work.installation.id)
        if client is None:
            client = slack_client(work.installation, state.settings.secret_key)
            clients[work.installation.id] = client
        await _show(state, work, client, now=now)
    except SlackApiError as exc:
        wait = dt.timedelta(seconds=exc.retry_after) if exc.retry_after is not None else None
        permanent = exc.error in PERMANENT_ERRORS
        return await _fail(
            state, delivery, str(exc), now=now, permanent=permanent, retry_after=wait
        )
    except Exception as exc:  # SECRET_KEY rotated (SecretUnreadable), a bug: logged, retried
        return await _fail(state, delivery, f"{type(exc).__name__}: {exc}", now=now)
    async with transaction(state.sessions) as session:
        await mark_sent(session, delivery.id, now=now)
    return SlackDeliveryStatus.SENT


async def deliver_slack_alerts(state: AppState, *, now: dt.datetime, limit: int = 50) -> int:
    """Show the due changes of alerts in Slack; returns how many went out."""
    async with transaction(state.sessions) as session:
        claimed = await claim_due(session, now=now, limit=limit)
    by_message: dict[int, list[SlackAlertDelivery]] = {}
    for delivery in sorted(claimed, key=lambda d: d.id):
        by_message.setdefault(delivery.message_id, []).append(delivery)
    clients: dict[int, SlackClient] = {}
    gate = asyncio.Semaphore(CONCURRENCY)

    async def in_order(deliveries: list[SlackAlertDelivery]) -> int:
        async with gate:
            sent = 0
            for delivery in deliveries:
                status = await _deliver_one(state, delivery, clients, now=now)
                sent += status is SlackDeliveryStatus.SENT
            return sent

    return sum(await asyncio.gather(*(in_order(group) for group in by_message.values())))
