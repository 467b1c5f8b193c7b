"""Fixtures shared by the backend tests: the learning loop (a state with every handler) on each
database, with agent keys and people of the factories' world."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key, viewer_for_api_client, viewer_for_user
from backend.handlers import open_state
from backend.settings import load_settings
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.factories import build_world

T0 = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)


@dataclass
class Loop:
    state: AppState
    world: object
    agent: Viewer  # the key of rep_a1's agent
    other_agent: Viewer  # the key of rep_a2's agent
    rep: Viewer  # rep_a1
    manager: Viewer  # manager_a
    admin: Viewer  # the service itself in org north


@pytest.fixture
async def loop(database_url: str) -> AsyncIterator[Loop]:
    state = open_state(load_settings(database_url=database_url))
    try:
        async with transaction(state.sessions) as session:
            world = await build_world(session, actions_per_agent=0)
            system = Viewer.system(world.orgs["north"].id)
            keys = [
                await create_api_key(
                    session,
                    viewer=system,
                    kind=ApiClientKind.AGENT,
                    name=k,
                    agent_id=world.agents[k].id,
                )
                for k in ("rep_a1", "rep_a2")
            ]
            viewers = [await viewer_for_api_client(session, k.client) for k in keys]
            rep = await viewer_for_user(session, world.users["rep_a1"])
            manager = await viewer_for_user(session, world.users["manager_a"])
        yield Loop(state, world, viewers[0], viewers[1], rep, manager, system)
    finally:
        from tests.conftest import empty_database

        await empty_database(state.engine)
        await state.close()
