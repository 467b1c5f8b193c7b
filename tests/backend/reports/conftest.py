"""Fixtures of the report tests: the learning loop's world with an administrator, its clock at
the factories' NOW (nothing here reads the wall clock)."""

from __future__ import annotations

from typing import Any

import pytest

from backend.auth.service import viewer_for_user
from backend.orgs.models import User
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from tests.backend.conftest import Loop
from tests.factories import NOW


@pytest.fixture(autouse=True)
def loop_at_now(request: pytest.FixtureRequest) -> None:
    """Tests on the learning loop's state run at NOW (the pure ones need no database)."""
    if "loop" in request.fixturenames:
        loop: Loop = request.getfixturevalue("loop")
        loop.state.clock = lambda: NOW


async def person(loop: Loop, key: str) -> Viewer:
    world: Any = loop.world
    async with loop.state.sessions() as session:
        return await viewer_for_user(session, world.users[key])


@pytest.fixture
async def admin(loop: Loop) -> Viewer:
    """An administrator of north (a person, not the service)."""
    world: Any = loop.world
    async with transaction(loop.state.sessions) as session:
        user = User(
            organization_id=world.orgs["north"].id,
            email="admin_n@north.example",
            name="admin_n",
            role="admin",
        )
        session.add(user)
        await session.flush()
        world.users["admin_n"] = user
        return await viewer_for_user(session, user)
