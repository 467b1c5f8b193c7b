"""What partner webhooks do once a change has committed: queue a delivery of the alert,
calibration and policy events to each subscribed endpoint, in their own unit of work. Sending
is the worker's (`delivery.py`), so a slow or failing endpoint never delays the loop."""

from __future__ import annotations

from collections.abc import Sequence

from backend.alerts.events import AlertChanged
from backend.events.service import Event
from backend.partner_webhooks.models import WebhookEventType
from backend.partner_webhooks.outbox import queue_event
from backend.state import AppState
from backend.unit_of_work import transaction

LIVE_EVENTS = (WebhookEventType.CALIBRATION_CHANGED.value, WebhookEventType.POLICY_CHANGED.value)


async def queue_alert_webhooks(state: AppState, events: Sequence[AlertChanged]) -> None:
    async with transaction(state.sessions) as session:
        now = state.now()
        for event in events:
            version = event.version if event.version is not None else event.state
            await queue_event(
                session,
                organization_id=event.organization_id,
                event_type=WebhookEventType.ALERT_CHANGED.value,
                event_id=f"alert:{event.alert_id}:{event.change.value}:v{version}",
                data={
                    "alertId": event.alert_id,
                    "ruleId": event.rule_id,
                    "change": event.change.value,
                    "state": event.state,
                    "severity": event.severity,
                    "teamId": event.team_id,
                    "agentId": event.agent_id,
                    "byUserId": event.by_user_id,
                },
                now=now,
            )


async def queue_live_event_webhooks(state: AppState, events: Sequence[Event]) -> None:
    """calibration.changed and policy.changed, named by their stream's version (unique)."""
    wanted = [e for e in events if e.name in LIVE_EVENTS]
    if not wanted:
        return
    async with transaction(state.sessions) as session:
        now = state.now()
        for event in wanted:
            await queue_event(
                session,
                organization_id=event.organization_id,
                event_type=event.name,
                event_id=f"{event.stream}:v{event.version}",
                data=dict(event.data),
                now=now,
            )
