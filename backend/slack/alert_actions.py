"""Acknowledging and snoozing an alert from its Slack message, as the person the Slack user is
(``User.slack_user_id``): through `backend.alerts.service`, so the person's scope applies exactly
as on the dashboard, and an alert they cannot see is an unknown one. Services never commit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from backend.alerts.models import AlertState
from backend.alerts.service import acknowledge_alert, snooze_alert
from backend.auth.service import viewer_for_user
from backend.errors import DomainError, ErrorCode, InvalidInput
from backend.slack.models import SlackInstallation
from backend.slack.service import note_receipt, person_for


@dataclass(frozen=True)
class AlertClick:
    """A click on an alert's controls: acknowledge it, or snooze it for ``snooze_for``."""

    alert_id: int
    snooze_for: dt.timedelta | None = None  # None: acknowledge


class AlertClickHandled(StrEnum):
    DONE = "done"  # acknowledged or snoozed (or it was already: acknowledging is idempotent)
    RESOLVED = "resolved"  # acknowledging a resolved alert: nothing to do
    UNMAPPED = "unmapped"  # the Slack user is no person of the organisation: nothing changed
    DUPLICATE = "duplicate"  # the same click delivered again: counted once


async def click_alert(
    session: AsyncSession,
    installation: SlackInstallation,
    *,
    slack_user_id: str,
    click: AlertClick,
    receipt: str,
    now: dt.datetime,
) -> AlertClickHandled:
    """Acknowledge or snooze the alert as the person ``slack_user_id`` is; ``receipt`` names
    the click (Slack's trigger id), so a retried delivery changes nothing more. Raises
    DomainError when the alerts service refuses (not found: out of the person's sight)."""
    organization_id = installation.organization_id
    person = await person_for(session, organization_id, slack_user_id)
    if person is None:
        return AlertClickHandled.UNMAPPED
    if not await note_receipt(session, organization_id, receipt):
        return AlertClickHandled.DUPLICATE
    viewer = await viewer_for_user(session, person)
    if click.snooze_for is None:
        alert = await acknowledge_alert(session, viewer, click.alert_id, now=now)
        if alert.state == AlertState.RESOLVED.value:
            return AlertClickHandled.RESOLVED
    else:
        until = now + click.snooze_for
        await snooze_alert(session, viewer, click.alert_id, until=until, now=now)
    return AlertClickHandled.DONE


def alert_problem_text(error: DomainError) -> str:
    """A refusal, said to a person in Slack."""
    if error.code is ErrorCode.NOT_FOUND:
        return "You cannot act on this alert: it is not among the alerts you can see."
    if error.code is ErrorCode.FORBIDDEN:
        return f"You cannot act on this alert: {error.message}."
    if isinstance(error, InvalidInput):  # e.g. snoozing a resolved alert: no field names
        return "The alert was not changed: " + "; ".join(e.message for e in error.errors) + "."
    return f"The alert was not changed: {error.message}."
