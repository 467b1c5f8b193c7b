"""The webhook routes the app mounts; ``clock`` (the app's by default) is injectable for tests
of the replay window. Each answers an outage of the database or broker with 503 + Retry-After
(``backend.outages``, in the webhooks' error shape)."""

from __future__ import annotations

from starlette.routing import Route

from backend.webhooks.crm import crm_route
from backend.webhooks.email_events import email_events_route
from backend.webhooks.receiver import Clock


def webhook_routes(*, clock: Clock | None = None) -> list[Route]:
    return [email_events_route(clock=clock), crm_route(clock=clock)]
