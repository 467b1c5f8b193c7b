"""The live hub's metrics: a subscriber dropped for falling behind is counted once, and the
`live_subscribers` gauge of `/metrics` is the hub's count when scraped."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import HTTPConnection

from backend.handlers import open_state
from backend.observability.metrics import LIVE_DROPPED
from backend.pubsub import SubscriberTooSlow
from backend.settings import load_settings
from graphql_schema.context import Context
from graphql_schema.live.hub import Delivery, LiveHub, Topic
from tests.backend.observability.conftest import scrape, value
from tests.factories import TestClock
from tests.graphql_schema.conftest import Api
from tests.graphql_schema.test_subscriptions import NEEDS_LABEL, connect, wait_for_subscribers


def _context(state: object) -> Context:
    connection = HTTPConnection({"type": "websocket", "headers": [], "path": "/graphql"})
    return Context(
        connection=connection,
        state=state,  # type: ignore[arg-type]
        connection_params={"Authorization": "Bearer not-checked-here"},
    )


def test_a_subscriber_dropped_for_a_full_queue_is_counted_once(sqlite_database_url: str) -> None:
    settings = load_settings(database_url=sqlite_database_url, worker_in_process=False)

    async def scenario() -> tuple[float, bool]:
        state = open_state(settings, clock=TestClock())
        try:
            hub = LiveHub(state, queue_size=1)
            member = hub.join(
                _context(state),
                channel="test:live-metrics",
                topic=Topic(scope=lambda viewer: None, to_type=lambda message: message),  # type: ignore[arg-type]
                wanted=lambda data: True,
                info=None,
                frames=None,
            )
            before = LIVE_DROPPED._value.get()
            for n in range(3):  # the second overflows the queue of one; the third finds it ended
                member.receive(Delivery(event=n, payload=None))
            dropped = LIVE_DROPPED._value.get() - before
            ended_too_slow = False
            try:
                async for _ in member.queue:
                    pass
            except SubscriberTooSlow:
                ended_too_slow = True
            await member.leave()
            return dropped, ended_too_slow
        finally:
            await state.close()

    dropped, ended_too_slow = asyncio.run(scenario())
    assert ended_too_slow
    assert dropped == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_live_subscribers_gauge_counts_the_subscriptions_served(api: Api) -> None:
    page = scrape(api.client)
    assert value(page, "live_subscribers") == 0
    with connect(api, "manager_a") as first, connect(api, "exec_n") as second:
        first.subscribe(NEEDS_LABEL)
        second.subscribe(NEEDS_LABEL)
        wait_for_subscribers(api, "outcome.needs_label", 2)
        assert value(scrape(api.client), "live_subscribers") == 2
