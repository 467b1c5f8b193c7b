"""The webhook routes the app mounts; ``clock`` is injectable for tests of the replay window."""

from __future__ import annotations

from starlette.routing import Route

from backend.database import utcnow
from backend.webhooks.crm import crm_route
from backend.webhooks.email_events import email_events_route
from backend.webhooks.receiver import Clock


def webhook_routes(*, clock: Clock = utcnow) -> list[Route]:
    return [email_events_route(clock=clock), crm_route(clock=clock)]
