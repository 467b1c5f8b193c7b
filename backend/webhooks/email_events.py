"""``POST /webhooks/email-events``: opens, clicks, bounces and replies from an e-mail provider."""

from __future__ import annotations

from starlette.routing import Route

from backend.signals.models import SignalKind
from backend.webhooks.mapping import EventMapping, ProviderFormat
from backend.webhooks.receiver import Clock, signal_webhook_route

PATH = "/webhooks/email-events"
DEFAULT_SOURCE = "email_provider"  # or the sender's X-Provider header
_ABOUT = ("message_id", "thread_id")  # the agent's e-mail by Message-ID, else its thread

EMAIL_EVENTS = ProviderFormat(
    type_field="type",
    time_field="timestamp",
    events={
        # Payload fields: each kind's keys (`backend.signals.payloads`).
        "opened": EventMapping(SignalKind.EMAIL_OPENED, _ABOUT),
        "clicked": EventMapping(SignalKind.EMAIL_CLICKED, _ABOUT),
        "bounced": EventMapping(SignalKind.EMAIL_BOUNCED, _ABOUT),
        "replied": EventMapping(SignalKind.EMAIL_REPLIED, _ABOUT),
    },
)


def email_events_route(*, clock: Clock | None = None) -> Route:
    return signal_webhook_route(
        PATH,
        EMAIL_EVENTS,
        name="email_events",
        source=DEFAULT_SOURCE,
        source_from_header=True,
        clock=clock,
    )
