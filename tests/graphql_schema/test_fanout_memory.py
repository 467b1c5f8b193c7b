"""Subscriptions that close give back every object they made, through the real WebSocket route
(the TestClient, the app's graphql-transport-ws handler, the hub, in-process broker, SQLite):
the live objects of the whole interpreter, counted by type, do not grow with open/close cycles.

What is counted is objects, not resident memory: whether freed memory goes back to the system is
the allocator's business (see "Fan-out" in docs/performance.md), whether nothing is retained per
connection is ours.
"""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from contextlib import ExitStack

import pytest

import graphql_schema.live.hub as hub_module
from graphql_schema.live import release
from graphql_schema.live.hub import LiveHub
from tests.graphql_schema.test_fanout_hub import OTHER_DOCUMENT, _wait_until_all_left
from tests.graphql_schema.test_subscriptions import (
    NEEDS_LABEL,
    connect,
    needs_label,
    on_app_loop,
    state_of,
    wait_for_subscribers,
)

on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

CONNECTIONS = 12  # per cycle: a type retained once per connection grows by this much a cycle


# What a connection is made of: the app's, Strawberry's, Starlette's and graphql-core's objects,
# asyncio's tasks and futures, coroutines and generators, context copies. (Not every type in the
# interpreter: caches that fill up to a bound, such as SQLAlchemy's compiled statements, and the
# drivers' weak references, change from one cycle to the next without being kept per connection.)
_OURS = (
    "graphql_schema.",
    "backend.",
    "strawberry.",
    "starlette.",
    "graphql.",
    "anyio.",
    "asyncio.",
)
_RUNTIME = {
    "_asyncio.Task",
    "_asyncio.Future",
    "builtins.coroutine",
    "builtins.async_generator",
    "builtins.generator",
    "builtins.frame",
    "_contextvars.Context",
}


def _objects_by_type() -> Counter[str]:
    gc.collect()
    kinds: Counter[str] = Counter()
    for o in gc.get_objects():
        kind = f"{type(o).__module__}.{type(o).__qualname__}"
        if kind in _RUNTIME or kind.startswith(_OURS):
            kinds[kind] += 1
    return kinds


def _cycle(api, hub: LiveHub, key: str) -> None:
    """Open CONNECTIONS subscriptions (two documents), deliver one event to all, close them."""
    with ExitStack() as stack:
        lives = [stack.enter_context(connect(api, "manager_a")) for _ in range(CONNECTIONS)]
        for n, live in enumerate(lives):
            live.subscribe(OTHER_DOCUMENT if n % 2 else NEEDS_LABEL)
        wait_for_subscribers(api, "outcome.needs_label", CONNECTIONS)
        needs_label(api, "agent_a1", key)
        for live in lives:
            assert live.next_event("outcomeNeedsLabel")["version"] >= 1
    _wait_until_all_left(hub)


def _retained(api, hub: LiveHub) -> dict[str, int]:
    """The kinds of objects that grew by at least one per connection over three cycles, after
    two cycles that fill the caches (parsed documents, prepared statements)."""
    _cycle(api, hub, "warm-1")
    _cycle(api, hub, "warm-2")
    before = _objects_by_type()
    for n in range(3):
        _cycle(api, hub, f"cycle-{n}")
    after = _objects_by_type()
    # Anything kept per connection grows by 3 * CONNECTIONS; a few objects come and go.
    return {k: after[k] - before[k] for k in after if after[k] - before[k] >= CONNECTIONS}


@on_sqlite
def test_open_close_cycles_retain_no_object_per_connection(api) -> None:
    hub = LiveHub.of(state_of(api))
    assert _retained(api, hub) == {}
    assert hub.channels == {} and hub.subscriber_count() == 0
    assert state_of(api).broker.subscriber_count() == 0


@on_sqlite
def test_the_check_sees_a_retained_connection(api, monkeypatch) -> None:
    """The check above can fail: keep each subscription's context alive and it does."""
    kept: list[object] = []
    real_join = LiveHub.join

    def keeping_join(self, context, **kwargs):  # type: ignore[no-untyped-def]
        kept.append(context)
        return real_join(self, context, **kwargs)

    monkeypatch.setattr(LiveHub, "join", keeping_join)
    retained = _retained(api, LiveHub.of(state_of(api)))
    assert retained["graphql_schema.context.Context"] == 3 * CONNECTIONS


@on_sqlite
@pytest.mark.parametrize("release_after, releases", [(CONNECTIONS, 3), (CONNECTIONS + 1, 0)])
def test_freed_memory_is_released_after_a_large_fall(
    api, monkeypatch, release_after: int, releases: int
) -> None:
    """Once per cycle when RELEASE_AFTER subscribers or more left (half of the peak or more);
    never for a smaller fall."""
    released: list[bool] = []
    monkeypatch.setattr(hub_module, "RELEASE_AFTER", release_after)
    monkeypatch.setattr(hub_module, "RELEASE_DELAY_SECONDS", 0.0)
    monkeypatch.setattr(release, "release_freed_memory", lambda: released.append(True) or True)
    hub = LiveHub.of(state_of(api))
    for n in range(3):
        _cycle(api, hub, f"release-{n}")
        on_app_loop(api, _next_loop_turn)
    assert len(released) == releases


async def _next_loop_turn() -> None:
    await asyncio.sleep(0)  # a timer due now has run once this returns


def test_release_freed_memory_calls_the_c_library() -> None:
    assert release.release_freed_memory() is (release._malloc_trim() is not None)
