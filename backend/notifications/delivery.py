"""The worker's delivery of the outbox: claim the due e-mails, send each, record the outcome.
SMTP down or refusing: the row stays pending with its error and is retried later."""

from __future__ import annotations

import datetime as dt
import logging

from backend.notifications.models import NotificationStatus
from backend.notifications.outbox import claim_due, mark_attempt_failed, mark_sent
from backend.notifications.smtp import email_message, send_email
from backend.state import AppState
from backend.unit_of_work import transaction

log = logging.getLogger(__name__)
OFF_NOTED = "notifications.smtp_off_noted"


async def deliver_notifications(state: AppState, *, now: dt.datetime) -> int:
    """Send the due pending e-mails; returns how many were sent. Without SMTP_HOST nothing is
    claimed (said once per process) and the e-mails wait."""
    settings = state.settings
    if settings.smtp_host is None:
        if not state.caches.get(OFF_NOTED):
            state.caches[OFF_NOTED] = True
            log.info("e-mail delivery is off (SMTP_HOST is not set); e-mails stay pending")
        return 0
    async with transaction(state.sessions) as session:
        claimed = await claim_due(session, now=now)
    sent = 0
    for notification in claimed:
        try:
            await send_email(
                settings, email_message(notification, sender=settings.smtp_sender, now=now)
            )
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            async with transaction(state.sessions) as session:
                status = await mark_attempt_failed(session, notification, error, now=now)
            log.warning(
                "e-mail %d to %s, attempt %d failed (%s): %s",
                notification.id,
                notification.address,
                notification.attempts,
                "gave up" if status is NotificationStatus.FAILED else "will retry",
                error,
            )
            continue
        async with transaction(state.sessions) as session:
            await mark_sent(session, notification.id, now=now)
        sent += 1
    return sent
