"""The Slack webhook routes the app mounts; ``clock`` (the app's by default) is injectable for
tests of the 5-minute window. An outage of the database or broker is answered 503 with
Retry-After (Slack retries events; a person clicks again)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend.slack import events, interactions
from backend.slack.receiver import Clock


def slack_routes(*, clock: Clock | None = None) -> list[Route]:
    async def interaction_endpoint(request: Request) -> Response:
        return await interactions.receive_interaction(request, clock=clock)

    async def event_endpoint(request: Request) -> Response:
        return await events.receive_event(request, clock=clock)

    return [
        Route(
            interactions.PATH,
            interaction_endpoint,
            methods=["POST"],
            name="slack_interactions",
        ),
        Route(events.PATH, event_endpoint, methods=["POST"], name="slack_events"),
    ]
