"""The unit of work: events raised inside it are dispatched after commit and only after commit;
on rollback nothing is published and no handler runs; a failing handler stops nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.events.bus import EventBus
from backend.events.service import record_event
from backend.orgs.models import Organization
from backend.pubsub import InProcessBroker
from backend.settings import load_settings
from backend.state import AppState
from backend.unit_of_work import raise_event, transaction


@dataclass(frozen=True)
class Happened:
    what: str


@dataclass(frozen=True)
class Other:
    what: str


@pytest.fixture
async def state(sqlite_database_url: str) -> AsyncIterator[AppState]:
    settings = load_settings(database_url=sqlite_database_url)
    state = AppState.open(settings)
    try:
        yield state
    finally:
        async with transaction(state.sessions) as session:
            await session.execute(Organization.__table__.delete())
        await state.close()


class Recorder:
    """A handler that records what it saw, and whether the row was committed by then."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.batches: list[tuple[list[Any], int]] = []

    async def __call__(self, events: Sequence[Any]) -> None:
        async with self.state.sessions() as session:  # another connection: sees committed rows
            committed = await session.scalar(select(func.count()).select_from(Organization))
        self.batches.append((list(events), int(committed or 0)))


async def _add_organization(session: Any, slug: str) -> None:
    session.add(Organization(slug=slug, name=slug))
    await session.flush()


async def test_events_are_handled_after_commit_in_order_by_type(state: AppState) -> None:
    seen, others = Recorder(state), Recorder(state)
    state.bus.subscribe(Happened, seen)
    state.bus.subscribe(Other, others)
    async with transaction(state.sessions) as session:
        await _add_organization(session, "one")
        raise_event(session, Happened("a"))
        raise_event(session, Other("x"))
        raise_event(session, Happened("b"))
        assert seen.batches == []  # nothing runs inside the unit of work
    # One call per handler with every event of its type, after the row was committed.
    assert seen.batches == [([Happened("a"), Happened("b")], 1)]
    assert others.batches == [([Other("x")], 1)]


async def test_a_rollback_publishes_nothing_and_runs_no_handler(state: AppState) -> None:
    seen = Recorder(state)
    state.bus.subscribe(Happened, seen)
    async with transaction(state.sessions) as session:
        await _add_organization(session, "two")
        org = await session.scalar(select(Organization.id))
    assert org is not None
    seen.batches.clear()
    subscription = state.broker.subscribe(f"org:{org}:thing.changed")
    with pytest.raises(RuntimeError):
        async with transaction(state.sessions) as session:
            await _add_organization(session, "two-bis")
            raise_event(session, Happened("never"))
            await record_event(
                session, name="thing.changed", organization_id=org, stream="s", data={}
            )
            raise RuntimeError("the request failed")
    assert seen.batches == []
    assert isinstance(state.broker, InProcessBroker)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(subscription), timeout=0.05)
    async with state.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Organization)) == 1
    # The next unit of work starts clean: the dropped events do not leak into it.
    async with transaction(state.sessions) as session:
        raise_event(session, Happened("next"))
    assert seen.batches == [([Happened("next")], 1)]
    await subscription.aclose()


async def test_live_events_are_published_after_commit(state: AppState) -> None:
    async with transaction(state.sessions) as session:
        await _add_organization(session, "three")
        org = await session.scalar(select(Organization.id))
    assert org is not None
    subscription = state.broker.subscribe(f"org:{org}:thing.changed")
    received = asyncio.ensure_future(anext(subscription))
    async with transaction(state.sessions) as session:
        event = await record_event(
            session, name="thing.changed", organization_id=org, stream="s", data={"n": 1}
        )
        await asyncio.sleep(0.01)
        assert not received.done()  # not before the commit
    message = await asyncio.wait_for(received, timeout=1)
    assert message == event.message() and message["version"] == 1
    await subscription.aclose()


async def test_a_failing_handler_is_logged_and_stops_nothing(
    state: AppState, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(events: Sequence[Any]) -> None:
        raise ValueError("the handler broke")

    seen = Recorder(state)
    state.bus.subscribe(Happened, broken)
    state.bus.subscribe(Happened, seen)
    with caplog.at_level(logging.ERROR, logger="backend.events.bus"):
        async with transaction(state.sessions) as session:
            await _add_organization(session, "four")
            raise_event(session, Happened("kept"))
    assert seen.batches == [([Happened("kept")], 1)]  # the commit stands, the next one ran
    [record] = caplog.records
    assert "failed on [Happened(what='kept')]" in record.getMessage()
    assert record.exc_info is not None and "the handler broke" in str(record.exc_info[1])


async def test_held_events_wait_for_the_caller(state: AppState) -> None:
    seen = Recorder(state)
    state.bus.subscribe(Happened, seen)
    held: list[Any] = []
    async with transaction(state.sessions, hold=held) as session:
        raise_event(session, Happened("later"))
    assert seen.batches == [] and held == [Happened("later")]
    await state.bus.dispatch(held)
    assert seen.batches == [([Happened("later")], 0)]


async def test_a_handlers_own_unit_of_work_dispatches_its_events_in_turn(
    state: AppState,
) -> None:
    seen = Recorder(state)

    async def follow_up(events: Sequence[Any]) -> None:
        async with transaction(state.sessions) as session:
            for event in events:
                raise_event(session, Other(event.what))

    state.bus.subscribe(Happened, follow_up)
    state.bus.subscribe(Other, seen)
    async with transaction(state.sessions) as session:
        raise_event(session, Happened("chain"))
    assert seen.batches == [([Other("chain")], 0)]


def test_every_bus_starts_empty() -> None:
    bus = EventBus(InProcessBroker())
    assert bus.handlers_of(Happened) == []
