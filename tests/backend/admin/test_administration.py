"""Administration as use cases, on both databases: each change is audited in its unit of work,
scoped to the administrator's organisation (a foreign id is unknown), refused to anyone but an
administrator; a deactivated person's and a revoked or rotated key's credentials stop working,
each with one `AccessRevoked` after commit."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from backend import administration
from backend.auth.events import AccessRevoked
from backend.auth.models import ApiClient, ApiClientKind
from backend.auth.service import authenticate
from backend.auth.tokens import issue_user_token
from backend.errors import DomainError, NotFoundError, PermissionDeniedError
from backend.orgs.models import AdminAuditEntry, Role, User
from backend.settings import load_settings
from backend.unit_of_work import transaction
from backend.viewer import Viewer, ViewerRole
from tests.backend.notifications.conftest import SmtpServer, smtp_server  # noqa: F401
from tests.factories import NOW, World, build_world

SETTINGS = load_settings()


@pytest.fixture
async def world(sessions) -> World:
    async with transaction(sessions) as session:
        world = await build_world(session, actions_per_agent=0)
        admin = User(
            organization_id=world.orgs["north"].id,
            email="admin@north.example",
            name="Ada Admin",
            role=Role.ADMIN.value,
        )
        session.add(admin)
        await session.flush()
        world.users["admin_n"] = admin
        return world


def admin_of(world: World) -> Viewer:
    admin = world.users["admin_n"]
    return Viewer(
        admin.organization_id, ViewerRole.ADMIN, user_id=admin.id, team_ids=None, agent_ids=None
    )


def executive_of(world: World) -> Viewer:
    executive = world.users["exec_n"]
    return Viewer(
        executive.organization_id,
        ViewerRole.EXECUTIVE,
        user_id=executive.id,
        team_ids=None,
        agent_ids=None,
    )


async def audit(sessions, world: World) -> list[tuple[str, int | None, str, dict]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AdminAuditEntry)
            .where(AdminAuditEntry.organization_id == world.orgs["north"].id)
            .order_by(AdminAuditEntry.id)
        )
        return [(r.change, r.actor_user_id, r.target_type, r.details) for r in rows]


async def test_create_organization_validates_and_audits(sessions) -> None:
    async with transaction(sessions) as session:
        org = await administration.create_organization(
            session, slug="west", name="West Ltd", timezone="Europe/Paris", now=NOW
        )
    assert (org.slug, org.timezone) == ("west", "Europe/Paris")
    for slug, timezone, field in (
        ("West", "UTC", None),  # taken once lower-cased
        ("-bad-", "UTC", "slug"),
        ("east", "Mars/Olympus", "timezone"),
    ):
        with pytest.raises(DomainError) as refused:
            async with transaction(sessions) as session:
                await administration.create_organization(
                    session, slug=slug, name="x", timezone=timezone, now=NOW
                )
        assert refused.value.field == (field or "slug")
    async with sessions() as session:
        [entry] = await session.scalars(select(AdminAuditEntry))
    assert (entry.organization_id, entry.change, entry.actor_user_id, entry.at) == (
        org.id,
        "organization.created",
        None,
        NOW,
    )


async def test_team_user_agent_created_and_audited(sessions, world: World) -> None:
    admin = admin_of(world)
    async with transaction(sessions) as session:
        team = await administration.create_team(session, admin, name=" Gamma North ", now=NOW)
        invitation = await administration.invite_user(
            session,
            admin,
            email=" New.Rep@North.Example ",
            name="Nora",
            role=Role.REP,
            team_id=team.id,
            now=NOW,
        )
        agent = await administration.create_agent(
            session,
            admin,
            name="agent_nora",
            owner_id=invitation.user.id,
            team_id=team.id,
            now=NOW,
        )
    assert team.name == "Gamma North" and invitation.user.email == "new.rep@north.example"
    assert invitation.link is not None and invitation.link.address == "new.rep@north.example"
    assert (agent.owner_id, agent.team_id, agent.active) == (invitation.user.id, team.id, True)
    assert [(c, actor, target) for c, actor, target, _ in await audit(sessions, world)] == [
        ("team.created", admin.user_id, "team"),
        ("user.invited", admin.user_id, "user"),
        ("agent.created", admin.user_id, "agent"),
    ]


@pytest.mark.parametrize(
    ("given", "code", "field"),
    [
        ({"email": "not-an-address"}, "invalid", "email"),
        ({"email": "rep_a1@north.example"}, "conflict", "email"),
        ({"email": "rep_s1@south.example"}, "conflict", "email"),  # addresses are global
        ({"name": "  "}, "required", "name"),
        ({"team": None}, "required", "teamId"),  # a rep needs a team
        ({"team": "gamma"}, "not_found", "teamId"),  # south's: unknown here
    ],
)
async def test_invite_refusals_name_their_field(
    sessions, world: World, given: dict, code: str, field: str
) -> None:
    team = given.get("team", "alpha")
    with pytest.raises(DomainError) as refused:
        async with transaction(sessions) as session:
            await administration.invite_user(
                session,
                admin_of(world),
                email=given.get("email", "someone@north.example"),
                name=given.get("name", "Someone"),
                role=Role.REP,
                team_id=world.teams[team].id if team else None,
                now=NOW,
            )
    assert (refused.value.code.value, refused.value.field) == (code, field)
    assert await audit(sessions, world) == []


async def test_foreign_ids_are_unknown_and_non_admins_forbidden(sessions, world: World) -> None:
    admin = admin_of(world)
    south_rep = world.users["rep_s1"].id
    south_agent = world.agents["rep_s1"].id
    for attempt in (
        lambda s: administration.deactivate_user(s, admin, user_id=south_rep, now=NOW),
        lambda s: administration.deactivate_agent(s, admin, agent_id=south_agent, now=NOW),
        lambda s: administration.create_agent(
            s, admin, name="x", owner_id=south_rep, team_id=world.teams["alpha"].id, now=NOW
        ),
    ):
        with pytest.raises(NotFoundError):
            async with transaction(sessions) as session:
                await attempt(session)
    executive = executive_of(world)
    for attempt in (
        lambda s: administration.create_team(s, executive, name="x", now=NOW),
        lambda s: administration.deactivate_user(
            s, executive, user_id=world.users["rep_a1"].id, now=NOW
        ),
        lambda s: administration.list_api_keys(s, executive),
    ):
        with pytest.raises(PermissionDeniedError):
            async with transaction(sessions) as session:
                await attempt(session)
    assert await audit(sessions, world) == []


async def test_a_deactivated_person_is_refused_and_revoked_once(sessions, world: World) -> None:
    rep = world.users["rep_a1"]
    token = issue_user_token(
        user_id=rep.id,
        organization_id=rep.organization_id,
        secret_key=SETTINGS.secret_key,
        ttl=dt.timedelta(hours=1),
        now=NOW,
    )
    async with sessions() as session:
        assert (await authenticate(session, SETTINGS, token, now=NOW)).user_id == rep.id
    held: list = []
    async with transaction(sessions, hold=held) as session:
        user = await administration.deactivate_user(
            session, admin_of(world), user_id=rep.id, now=NOW
        )
        assert held == []  # nothing before commit
    assert not user.active
    assert held == [AccessRevoked(organization_id=rep.organization_id, user_id=rep.id)]
    async with sessions() as session:
        with pytest.raises(DomainError) as refused:
            await authenticate(session, SETTINGS, token, now=NOW)
    assert refused.value.code.value == "unauthenticated"
    async with transaction(sessions, hold=held) as session:  # again: nothing changes
        await administration.deactivate_user(session, admin_of(world), user_id=rep.id, now=NOW)
    assert len(held) == 1
    assert [c for c, *_ in await audit(sessions, world)] == ["user.deactivated"]
    with pytest.raises(DomainError) as itself:
        async with transaction(sessions) as session:
            admin = admin_of(world)
            await administration.deactivate_user(session, admin, user_id=admin.user_id, now=NOW)
    assert itself.value.field == "userId"


async def test_rotate_gives_a_working_key_and_revokes_the_old(sessions, world: World) -> None:
    admin = admin_of(world)
    async with transaction(sessions) as session:
        created = await administration.create_api_key(
            session,
            admin,
            kind=ApiClientKind.AGENT,
            name="a1",
            scopes=["write:actions", "read:policy"],
            agent_id=world.agents["rep_a1"].id,
            now=NOW,
        )
    held: list = []
    async with transaction(sessions, hold=held) as session:
        rotated = await administration.rotate_api_key(
            session, admin, api_client_id=created.client.id, now=NOW
        )
    assert held == [
        AccessRevoked(organization_id=admin.organization_id, api_client_id=created.client.id)
    ]
    new = rotated.created.client
    assert (new.name, new.kind, new.agent_id, new.scopes) == (
        "a1",
        "agent",
        world.agents["rep_a1"].id,
        ["read:policy", "write:actions"],
    )
    async with transaction(sessions) as session:
        viewer = await authenticate(session, SETTINGS, rotated.created.key, now=NOW)
        assert viewer.api_client_id == new.id
        with pytest.raises(DomainError):
            await authenticate(session, SETTINGS, created.key, now=NOW)
    async with sessions() as session:
        keys = await administration.list_api_keys(session, admin)
    assert [(k.id, k.revoked_at is None, k.last_used_at is not None) for k in keys] == [
        (new.id, True, True),
        (created.client.id, False, False),
    ]
    with pytest.raises(DomainError) as again:  # a revoked key is not rotated
        async with transaction(sessions) as session:
            await administration.rotate_api_key(
                session, admin, api_client_id=created.client.id, now=NOW
            )
    assert (again.value.code.value, again.value.field) == ("invalid", "id")
    async with transaction(sessions) as session:
        await administration.revoke_api_key(session, admin, api_client_id=new.id, now=NOW)
        await administration.revoke_api_key(session, admin, api_client_id=new.id, now=NOW)
    assert [(c, target) for c, _, target, _ in await audit(sessions, world)] == [
        ("api_key.created", "api_key"),
        ("api_key.rotated", "api_key"),
        ("api_key.revoked", "api_key"),
    ]


async def test_deactivating_an_agent_revokes_its_keys(sessions, world: World) -> None:
    admin = admin_of(world)
    agent_id = world.agents["rep_a1"].id
    async with transaction(sessions) as session:
        created = await administration.create_api_key(
            session,
            admin,
            kind=ApiClientKind.AGENT,
            name="a1",
            scopes=None,
            agent_id=agent_id,
            now=NOW,
        )
    held: list = []
    async with transaction(sessions, hold=held) as session:
        done = await administration.deactivate_agent(session, admin, agent_id=agent_id, now=NOW)
    assert not done.agent.active
    assert [k.id for k in done.revoked_keys] == [created.client.id]
    assert held == [
        AccessRevoked(organization_id=admin.organization_id, api_client_id=created.client.id)
    ]
    async with sessions() as session:
        with pytest.raises(DomainError):
            await authenticate(session, SETTINGS, created.key, now=NOW)
    # and no new key is made for it: it would act as the deactivated agent
    with pytest.raises(DomainError, match="deactivated") as refused:
        async with transaction(sessions) as session:
            await administration.create_api_key(
                session,
                admin,
                kind=ApiClientKind.AGENT,
                name="a1 again",
                scopes=None,
                agent_id=agent_id,
                now=NOW,
            )
    assert refused.value.field == "agent"
    async with sessions() as session:
        names = list(await session.scalars(select(ApiClient.name)))
    assert names == ["a1"]


async def test_the_invitation_is_mailed_with_a_sign_in_link(
    sessions,
    world: World,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    smtp_server.start()
    settings = SETTINGS.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_server.port,
            "smtp_starttls": False,
            "smtp_sender": "Sales Agent <noreply@sales.example>",
            "smtp_timeout_seconds": 5.0,
        }
    )
    async with transaction(sessions) as session:
        invitation = await administration.invite_user(
            session,
            admin_of(world),
            email="boss@north.example",
            name="Bo Boss",
            role=Role.EXECUTIVE,
            team_id=None,
            now=NOW,
        )
    assert await administration.send_invitation(settings, invitation, now=NOW)
    [mail] = smtp_server.sink.messages
    assert mail.recipients == ["boss@north.example"]
    assert mail.message["Subject"] == "You are invited to the Sales Agent dashboard"
    assert "/auth/link?token=" in mail.message.as_string()
    assert not await administration.send_invitation(SETTINGS, invitation, now=NOW)  # no SMTP
