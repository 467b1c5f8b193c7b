"""Row scoping: a rep never reads another rep's agent's rows; nobody reads another org's rows."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.actions.models import AgentAction
from backend.agents.models import Agent
from backend.auth.models import ApiClientKind
from backend.auth.service import create_api_key, viewer_for_api_client, viewer_for_user
from backend.orgs.models import Organization, Team, User
from backend.viewer import Viewer, scoped
from tests.factories import build_world


async def _visible_action_agents(session, viewer: Viewer) -> set[int]:
    rows = await session.scalars(scoped(select(AgentAction.agent_id), AgentAction, viewer))
    return set(rows)


@pytest.fixture
async def world_and_session(sessions):
    async with sessions() as session:
        world = await build_world(session)
        await session.commit()
        yield world, session


async def test_rep_sees_only_own_agent(world_and_session) -> None:
    world, session = world_and_session
    viewer = await viewer_for_user(session, world.users["rep_a1"])
    assert await _visible_action_agents(session, viewer) == {world.agents["rep_a1"].id}
    agents = set(await session.scalars(scoped(select(Agent.id), Agent, viewer)))
    assert agents == {world.agents["rep_a1"].id}


async def test_manager_sees_managed_teams_only(world_and_session) -> None:
    world, session = world_and_session
    viewer = await viewer_for_user(session, world.users["manager_a"])
    expected = {world.agents["rep_a1"].id, world.agents["rep_a2"].id}
    assert await _visible_action_agents(session, viewer) == expected
    teams = set(await session.scalars(scoped(select(Team.name), Team, viewer)))
    assert teams == {"alpha"}


async def test_executive_sees_whole_organization_and_nothing_else(world_and_session) -> None:
    world, session = world_and_session
    viewer = await viewer_for_user(session, world.users["exec_n"])
    expected = {world.agents[k].id for k in ("rep_a1", "rep_a2", "rep_b1")}
    assert await _visible_action_agents(session, viewer) == expected
    users = set(await session.scalars(scoped(select(User.email), User, viewer)))
    assert "rep_s1@south.example" not in users and "rep_a1@north.example" in users
    orgs = set(await session.scalars(scoped(select(Organization.slug), Organization, viewer)))
    assert orgs == {"north"}


async def test_foreign_id_behaves_as_unknown(world_and_session) -> None:
    world, session = world_and_session
    viewer = await viewer_for_user(session, world.users["exec_n"])
    foreign = world.actions["rep_s1"][0].id
    statement = scoped(select(AgentAction).where(AgentAction.id == foreign), AgentAction, viewer)
    assert await session.scalar(statement) is None
    own = world.actions["rep_a1"][0].id
    statement = scoped(select(AgentAction).where(AgentAction.id == own), AgentAction, viewer)
    assert (await session.scalar(statement)).id == own


async def test_agent_key_sees_its_agent_partner_its_org(world_and_session) -> None:
    world, session = world_and_session
    system = Viewer.system(world.orgs["north"].id)
    agent_key = await create_api_key(
        session,
        viewer=system,
        kind=ApiClientKind.AGENT,
        name="a",
        agent_id=world.agents["rep_b1"].id,
    )
    partner_key = await create_api_key(session, viewer=system, kind=ApiClientKind.PARTNER, name="p")
    agent_viewer = await viewer_for_api_client(session, agent_key.client)
    partner_viewer = await viewer_for_api_client(session, partner_key.client)
    assert await _visible_action_agents(session, agent_viewer) == {world.agents["rep_b1"].id}
    assert await _visible_action_agents(session, partner_viewer) == {
        world.agents[k].id for k in ("rep_a1", "rep_a2", "rep_b1")
    }
    assert not partner_viewer.has_scope("write:feedback")
    assert agent_viewer.has_scope("write:actions")


async def test_rep_in_other_org_never_sees_north(world_and_session) -> None:
    world, session = world_and_session
    viewer = await viewer_for_user(session, world.users["rep_s1"])
    assert await _visible_action_agents(session, viewer) == {world.agents["rep_s1"].id}


async def test_people_are_seen_by_keys_only_with_the_scopes_asked_for(world_and_session) -> None:
    """`read:users` and `read:users:email` may be granted, never by default."""
    world, session = world_and_session
    system = Viewer.system(world.orgs["north"].id)
    default = await create_api_key(session, viewer=system, kind=ApiClientKind.PARTNER, name="d")
    assert not {"read:users", "read:users:email"} & set(default.client.scopes)
    assert "read:analytics" in default.client.scopes
    granted = await create_api_key(
        session,
        viewer=system,
        kind=ApiClientKind.PARTNER,
        name="g",
        scopes=["read:users", "read:users:email"],
    )
    viewer = await viewer_for_api_client(session, granted.client)
    assert viewer.has_scope("read:users") and viewer.has_scope("read:users:email")
