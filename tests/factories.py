"""Small, explicit test worlds built with the real models (no mocks)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.agents.models import Agent
from backend.orgs.models import Organization, Team, TeamManager, User
from backend.rollups import rebuild_all

# The tests' "now": a fixed instant, never the calendar's. What a test builds is placed relative
# to it, and the state or app under test reads it through a `TestClock`, so the suite gives the
# same answers on any date (tests that must run on the real clock, like a server in another
# process, build their data relative to one reading of it instead).
NOW = dt.datetime(2026, 11, 2, 15, 30, tzinfo=dt.UTC)


class TestClock:
    """A clock for `open_state(settings, clock=...)`: it reads `start` when made and then moves
    with real elapsed (monotonic) time, so that timestamps taken one after another stay ordered;
    `advance` jumps it forward (an expiry, a reminder, the next day)."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, start: dt.datetime = NOW) -> None:
        self._start = start
        self._made = time.monotonic()

    def __call__(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=time.monotonic() - self._made)

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        self._start += delta
        return self()


@dataclass
class World:
    orgs: dict[str, Organization] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    actions: dict[str, list[AgentAction]] = field(default_factory=dict)


async def build_world(
    session: AsyncSession, *, actions_per_agent: int = 3, now: dt.datetime = NOW
) -> World:
    """Two organisations. north: teams alpha (rep_a1, rep_a2, managed by manager_a) and beta
    (rep_b1), an executive; south: one team with rep_s1. One agent per rep, named after it, with
    ``actions_per_agent`` e-mails that occurred at ``now`` (rows only: no outcome windows)."""
    world = World()
    for slug in ("north", "south"):
        org = Organization(slug=slug, name=slug.title())
        session.add(org)
        world.orgs[slug] = org
    await session.flush()
    for key, slug in (("alpha", "north"), ("beta", "north"), ("gamma", "south")):
        team = Team(organization_id=world.orgs[slug].id, name=key)
        session.add(team)
        world.teams[key] = team
    await session.flush()
    people = [
        ("exec_n", "north", "executive", None),
        ("manager_a", "north", "manager", "alpha"),
        ("rep_a1", "north", "rep", "alpha"),
        ("rep_a2", "north", "rep", "alpha"),
        ("rep_b1", "north", "rep", "beta"),
        ("rep_s1", "south", "rep", "gamma"),
        ("exec_s", "south", "executive", None),
    ]
    for key, slug, role, team in people:
        user = User(
            organization_id=world.orgs[slug].id,
            email=f"{key}@{slug}.example",
            name=key,
            role=role,
            team_id=world.teams[team].id if team else None,
        )
        session.add(user)
        world.users[key] = user
    await session.flush()
    session.add(
        TeamManager(
            organization_id=world.orgs["north"].id,
            team_id=world.teams["alpha"].id,
            user_id=world.users["manager_a"].id,
        )
    )
    for key in ("rep_a1", "rep_a2", "rep_b1", "rep_s1"):
        rep = world.users[key]
        agent = Agent(
            organization_id=rep.organization_id,
            name=f"agent_{key}",
            owner_id=rep.id,
            team_id=rep.team_id,
        )
        session.add(agent)
        world.agents[key] = agent
    await session.flush()
    for key, agent in world.agents.items():
        world.actions[key] = []
        for i in range(actions_per_agent):
            action = AgentAction(
                organization_id=agent.organization_id,
                agent_id=agent.id,
                action_type="email",
                confidence=0.5,
                idempotency_key=f"{key}-{i}",
                occurred_at=now,
            )
            session.add(action)
            world.actions[key].append(action)
    await session.flush()
    # Rows written directly, as the demo seed writes them: the dashboards' rollups summed anew.
    for statement in rebuild_all(session.get_bind().dialect.name):
        await session.execute(statement)
    return world
