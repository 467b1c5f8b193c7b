"""The event bus: what runs after a unit of work commits. Live events (versioned, for
subscribers) go to the broker; then each handler registered for an event's type runs with all
the events of that type the unit of work raised, in the order they were raised.

Handlers are registered in the composition root (backend/handlers.py), never by the code that
raises the event. A handler that fails is logged with its events and stops nothing: the commit
stands and the other handlers run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from backend.events.service import Event, publish
from backend.pubsub import Broker

log = logging.getLogger(__name__)
Handler = Callable[[Sequence[Any]], Awaitable[None]]


class EventBus:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._handlers: dict[type, list[Handler]] = {}

    def subscribe(self, event_type: type, handler: Handler) -> None:
        self._handlers.setdefault(event_type, []).append(handler)

    def handlers_of(self, event_type: type) -> list[Handler]:
        return list(self._handlers.get(event_type, ()))

    async def dispatch(self, events: Sequence[Any]) -> None:
        await publish(self.broker, [e for e in events if isinstance(e, Event)])
        by_type: dict[type, list[Any]] = {}
        for event in events:
            by_type.setdefault(type(event), []).append(event)
        for event_type, batch in by_type.items():
            for handler in self._handlers.get(event_type, ()):
                try:
                    await handler(batch)
                except Exception:
                    log.exception(
                        "handler %s failed on %s",
                        getattr(handler, "__qualname__", handler),
                        batch,
                    )
