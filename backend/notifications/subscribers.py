"""What notifications do once an alert's change has committed: enqueue its e-mails, in their
own unit of work. Sending is the worker's (`delivery.py`), so SMTP never delays the loop."""

from __future__ import annotations

from collections.abc import Sequence

from backend.alerts.events import AlertChanged
from backend.notifications.outbox import enqueue_alert_emails
from backend.state import AppState
from backend.unit_of_work import transaction


async def enqueue_alert_changes(state: AppState, events: Sequence[AlertChanged]) -> None:
    """Each change of an alert whose rule delivers by e-mail: one e-mail per recipient."""
    async with transaction(state.sessions) as session:
        now = state.now()
        for event in events:
            await enqueue_alert_emails(
                session, event, base_url=state.settings.public_base_url, now=now
            )
