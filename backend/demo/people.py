"""The demo organisations' people: teams, users with predictable logins, managers and agents."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from backend.agents.models import Agent
from backend.demo.phrases import FIRST_NAMES, LAST_NAMES
from backend.demo.writer import BulkWriter
from backend.orgs.models import Organization, Role, Team, TeamManager, User


@dataclass(frozen=True, slots=True)
class TeamPlan:
    """A team and the traits its agents' simulated activity inherits."""

    name: str
    reps: int
    median_deal: float  # USD, median of the lognormal deal amount
    hourly_cost: int  # USD, loaded cost of an hour of a human rep
    reply_lift: float  # logit shift of the reply probability of the team's e-mails


@dataclass(frozen=True, slots=True)
class OrgPlan:
    slug: str
    name: str
    teams: tuple[TeamPlan, ...]
    actions_per_agent: tuple[int, int]  # inclusive range at scale 1
    with_admin: bool
    name_offset: int  # where the organisation's people start in the name banks


DEMO = OrgPlan(
    slug="demo",
    name="Demo Corp",
    teams=(
        TeamPlan("Enterprise", 4, median_deal=95_000, hourly_cost=95, reply_lift=-0.15),
        TeamPlan("Mid-Market", 4, median_deal=28_000, hourly_cost=75, reply_lift=0.0),
        TeamPlan("SMB", 4, median_deal=7_500, hourly_cost=55, reply_lift=0.15),
    ),
    actions_per_agent=(2500, 3500),
    with_admin=True,
    name_offset=0,
)
ACME = OrgPlan(
    slug="acme",
    name="Acme Industries",
    teams=(TeamPlan("Sales", 2, median_deal=20_000, hourly_cost=70, reply_lift=0.0),),
    actions_per_agent=(130, 170),
    with_admin=False,
    name_offset=22,
)


@dataclass(frozen=True, slots=True)
class DemoLogin:
    """A person of the demo data who can sign in (the CLI prints a token for each)."""

    email: str
    role: str
    organization_slug: str
    name: str
    team_name: str | None


@dataclass(frozen=True, slots=True)
class Rep:
    """One rep and their agent, with everything the activity simulation needs to know."""

    number: int  # 1-based within the organisation: rep{number}@{slug}.example
    user_id: int
    manager_id: int
    agent_id: int
    agent_name: str
    team_id: int
    team: TeamPlan


@dataclass(frozen=True, slots=True)
class OrgPeople:
    organization_id: int
    plan: OrgPlan
    team_ids: tuple[int, ...]
    manager_ids: tuple[int, ...]  # one per team, in team order
    executive_id: int
    reps: tuple[Rep, ...]
    logins: tuple[DemoLogin, ...]


def _person(index: int) -> tuple[str, str]:
    """A deterministic (first, full) name; distinct first names for the first 26 indices."""
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    last = LAST_NAMES[(index * 7 + 3) % len(LAST_NAMES)]
    return first, f"{first} {last}"


async def insert_people(writer: BulkWriter, plan: OrgPlan, *, created_at: dt.datetime) -> OrgPeople:
    """Insert the organisation, its teams, users, team managers and one agent per rep."""
    [org_id] = await writer.insert_returning_ids(
        Organization,
        [
            {
                "slug": plan.slug,
                "name": plan.name,
                "timezone": "UTC",
                "config": {},
                "created_at": created_at,
            }
        ],
        key=("slug",),
    )
    team_ids = await writer.insert_returning_ids(
        Team,
        [{"organization_id": org_id, "name": t.name, "created_at": created_at} for t in plan.teams],
        key=("name",),
    )
    domain = f"{plan.slug}.example"

    def person(index: int) -> tuple[str, str]:
        return _person(plan.name_offset + index)

    # (email, name, role, team index or None, slack id). Demo's Slack ids are the documented
    # UEXEC01, UMGR01.., UREP01..; another organisation's carry its own prefix (its workspace).
    u = "U" if plan.slug == "demo" else f"U{plan.slug.upper()}"
    people: list[tuple[str, str, Role, int | None, str | None]] = [
        (f"exec@{domain}", person(20)[1], Role.EXECUTIVE, None, f"{u}EXEC01")
    ]
    if plan.with_admin:
        people.append((f"admin@{domain}", person(21)[1], Role.ADMIN, None, f"{u}ADMIN01"))
    for i in range(len(plan.teams)):
        people.append(
            (f"manager{i + 1}@{domain}", person(14 + i)[1], Role.MANAGER, i, f"{u}MGR{i + 1:02d}")
        )
    rep_teams = [i for i, t in enumerate(plan.teams) for _ in range(t.reps)]
    for n, team_index in enumerate(rep_teams, start=1):
        people.append(
            (f"rep{n}@{domain}", person(n - 1)[1], Role.REP, team_index, f"{u}REP{n:02d}")
        )
    user_ids = await writer.insert_returning_ids(
        User,
        [
            {
                "organization_id": org_id,
                "email": email,
                "name": name,
                "role": role.value,
                "team_id": None if t is None else team_ids[t],
                "slack_user_id": slack,
                "active": True,
                "created_at": created_at,
            }
            for email, name, role, t, slack in people
        ],
        key=("email",),
    )
    user_by_email = dict(zip((p[0] for p in people), user_ids, strict=True))
    manager_ids = tuple(user_by_email[f"manager{i + 1}@{domain}"] for i in range(len(team_ids)))
    await writer.insert(
        TeamManager,
        [
            {"organization_id": org_id, "team_id": team_id, "user_id": manager_id}
            for team_id, manager_id in zip(team_ids, manager_ids, strict=True)
        ],
    )
    agent_names = [f"{person(n - 1)[0]}'s Sales Agent" for n in range(1, len(rep_teams) + 1)]
    agent_ids = await writer.insert_returning_ids(
        Agent,
        [
            {
                "organization_id": org_id,
                "name": name,
                "owner_id": user_by_email[f"rep{n}@{domain}"],
                "team_id": team_ids[t],
                "active": True,
                "created_at": created_at,
            }
            for n, (name, t) in enumerate(zip(agent_names, rep_teams, strict=True), start=1)
        ],
        key=("name",),
    )
    reps = tuple(
        Rep(
            number=n,
            user_id=user_by_email[f"rep{n}@{domain}"],
            manager_id=manager_ids[t],
            agent_id=agent_ids[n - 1],
            agent_name=agent_names[n - 1],
            team_id=team_ids[t],
            team=plan.teams[t],
        )
        for n, t in enumerate(rep_teams, start=1)
    )
    logins = tuple(
        DemoLogin(email, role.value, plan.slug, name, None if t is None else plan.teams[t].name)
        for email, name, role, t, _ in people
    )
    return OrgPeople(
        org_id, plan, tuple(team_ids), manager_ids, user_by_email[f"exec@{domain}"], reps, logins
    )
