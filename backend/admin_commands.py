"""The administration commands of the CLI (`python -m backend <command>`): the operator's
hand on organisations, teams, people, agents and API keys. Each acts as an administrator of
the organisation named by `--org` and is audited like the same change made over GraphQL
(`backend.administration`). No command takes a secret as an argument; a key made or rotated is
printed once, last, on standard output (everything else goes to standard error)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from backend import administration
from backend.orgs.models import Role
from backend.orgs.service import (
    agent_by_reference,
    organization_by_slug,
    team_by_reference,
    user_by_email,
)
from backend.state import AppState
from backend.unit_of_work import transaction
from backend.viewer import Viewer

Command = Callable[[AppState, argparse.Namespace], Awaitable[int]]
ORG_HELP = "the organisation's slug"


def add_admin_commands(commands: Any) -> None:
    """Register the administration subcommands on ``commands`` (argparse's subparsers)."""

    def command(name: str, summary: str, details: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, description=f"{summary}. {details}")

    org = command(
        "create-org",
        "create an organisation",
        "Only the operator can: no one signed in may create one.",
    )
    org.add_argument("--slug", required=True, help="short unique name: a-z, 0-9, inner hyphens")
    org.add_argument("--name", required=True, help="display name")
    org.add_argument("--timezone", default="UTC", help="IANA time zone its days are counted in")

    team = command("create-team", "create a team", "Names are unique in an organisation.")
    team.add_argument("--org", required=True, help=ORG_HELP)
    team.add_argument("--name", required=True, help="the team's name")

    invite = command(
        "invite-user",
        "add a person and e-mail them a sign-in link",
        "The link is mailed through SMTP_HOST; without it, they ask for one at /auth/sign-in.",
    )
    invite.add_argument("--org", required=True, help=ORG_HELP)
    invite.add_argument("--email", required=True, help="their login address")
    invite.add_argument("--name", required=True, help="their display name")
    invite.add_argument("--role", required=True, choices=[r.value for r in Role])
    invite.add_argument("--team", help="team id or name (required for a rep; a manager manages it)")

    deactivate = command(
        "deactivate-user",
        "deactivate a person",
        "Their tokens and sessions are refused from their next request, and their live "
        "subscriptions end.",
    )
    deactivate.add_argument("--org", required=True, help=ORG_HELP)
    deactivate.add_argument("--email", required=True, help="their login address")

    agent = command("create-agent", "create an agent", "Owned by a person, working in a team.")
    agent.add_argument("--org", required=True, help=ORG_HELP)
    agent.add_argument("--name", required=True, help="the agent's name")
    agent.add_argument("--owner", required=True, metavar="EMAIL", help="the person who owns it")
    agent.add_argument("--team", required=True, help="team id or name")

    gone = command(
        "deactivate-agent", "deactivate an agent", "Its live API keys are revoked with it."
    )
    gone.add_argument("--org", required=True, help=ORG_HELP)
    gone.add_argument("--agent", required=True, help="agent id or name")

    keys = command(
        "list-api-keys",
        "list an organisation's API keys",
        "One line each: id, kind, name, prefix, scopes, created, last used, revoked. "
        "Secrets are never stored, so never shown.",
    )
    keys.add_argument("--org", required=True, help=ORG_HELP)

    rotate = command(
        "rotate-api-key",
        "replace an API key with a new one",
        "Same name, kind, agent and scopes; the old key is refused at once. The new key is "
        "printed once, last.",
    )
    rotate.add_argument("--org", required=True, help=ORG_HELP)
    rotate.add_argument("--id", required=True, type=int, help="the key's id (list-api-keys)")

    revoke = command(
        "revoke-api-key",
        "revoke an API key",
        "Refused at once; its live subscriptions end. Revoking a revoked key changes nothing.",
    )
    revoke.add_argument("--org", required=True, help=ORG_HELP)
    revoke.add_argument("--id", required=True, type=int, help="the key's id (list-api-keys)")


def _done(text: str) -> None:
    print(text, file=sys.stderr)


async def _create_org(state: AppState, args: argparse.Namespace) -> int:
    async with transaction(state.sessions) as session:
        org = await administration.create_organization(
            session, slug=args.slug, name=args.name, timezone=args.timezone, now=state.now()
        )
    print(f"created organisation {org.slug} (#{org.id})")
    return 0


async def _create_team(state: AppState, args: argparse.Namespace) -> int:
    async with transaction(state.sessions) as session:
        org = await organization_by_slug(session, args.org)
        team = await administration.create_team(
            session, Viewer.system(org.id), name=args.name, now=state.now()
        )
    print(f"created team {team.name!r} (#{team.id}) in {org.slug}")
    return 0


async def _invite_user(state: AppState, args: argparse.Namespace) -> int:
    async with transaction(state.sessions) as session:
        org = await organization_by_slug(session, args.org)
        team_id = None
        if args.team is not None:
            team = await team_by_reference(session, organization_id=org.id, reference=args.team)
            team_id = team.id
        invitation = await administration.invite_user(
            session,
            Viewer.system(org.id),
            email=args.email,
            name=args.name,
            role=Role(args.role),
            team_id=team_id,
            now=state.now(),
        )
    user = invitation.user
    print(f"added {user.email} (#{user.id}) to {org.slug} as {user.role}")
    if await administration.send_invitation(state.settings, invitation, now=state.now()):
        _done(f"a sign-in link was mailed to {user.email}")
    else:
        _done(f"no invitation mailed; {user.email} can ask for a link at /auth/sign-in")
    return 0


async def _deactivate_user(state: AppState, args: argparse.Namespace) -> int:
    async with transaction(state.sessions) as session:
        org = await organization_by_slug(session, args.org)
        user = await user_by_email(session, organization_id=org.id, email=args.email)
        await administration.deactivate_user(
            session, Viewer.system(org.id), user_id=user.id, now=state.now()
        )
    print(f"deactivated {user.email} (#{user.id}) in {org.slug}")
    return 0


async def _create_agent(state: AppState, args: argparse.Namespace) -> int:
    async with transaction(state.sessions) as session:
        org = await organization_by_slug(session, args.org)
        owner = await user_by_email(session, organization_id=org.id, email=args.owner)
        team = await team_by_reference(session, organization_id=org.id, reference=args.team)
        agent = await administration.create_agent(
            session,
            Viewer.system(org.id),
            name=args.name,
            owner_id=owner.id,
            team_id=team.id,
            now=state.now(),
        )
    print(f"created agent {agent.name!r} (#{agent.id}) of {owner.email} in team {team.name!r}")
    return 0


async def _deactivate_agent(state: AppState, args: argparse.Namespace) -> int:
    async with transaction(state.sessions) as session:
        org = await organization_by_slug(session, args.org)
        agent = await agent_by_reference(session, organization_id=org.id, reference=args.agent)
        done = await administration.deactivate_agent(
            session, Viewer.system(org.id), agent_id=agent.id, now=state.now()
        )
    revoked = ", ".join(f"#{k.id}" for k in done.revoked_keys) or "none"
    print(f"deactivated agent {agent.name!r} (#{agent.id}); keys revoked: {revoked}")
    return 0


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


async def _list_api_keys(state: AppState, args: argparse.Namespace) -> int:
    async with transaction(state.sessions) as session:
        org = await organization_by_slug(session, args.org)
        keys = await administration.list_api_keys(session, Viewer.system(org.id))
    print("id\tkind\tname\tprefix\tscopes\tcreated\tlast_used\trevoked")
    for key in keys:
        print(
            f"{key.id}\t{key.kind}\t{key.name}\t{key.key_prefix}\t{','.join(key.scopes)}\t"
            f"{_when(key.created_at)}\t{_when(key.last_used_at)}\t{_when(key.revoked_at)}"
        )
    return 0


async def _rotate_api_key(state: AppState, args: argparse.Namespace) -> int:
    async with transaction(state.sessions) as session:
        org = await organization_by_slug(session, args.org)
        rotated = await administration.rotate_api_key(
            session, Viewer.system(org.id), api_client_id=args.id, now=state.now()
        )
    new = rotated.created.client
    _done(f"key #{args.id} revoked; its replacement is #{new.id} ({new.kind}, {new.name!r})")
    print(rotated.created.key)
    return 0


async def _revoke_api_key(state: AppState, args: argparse.Namespace) -> int:
    async with transaction(state.sessions) as session:
        org = await organization_by_slug(session, args.org)
        key = await administration.revoke_api_key(
            session, Viewer.system(org.id), api_client_id=args.id, now=state.now()
        )
    print(f"key #{key.id} ({key.name!r}) revoked at {_when(key.revoked_at)}")
    return 0


ADMIN_COMMANDS: dict[str, Command] = {
    "create-org": _create_org,
    "create-team": _create_team,
    "invite-user": _invite_user,
    "deactivate-user": _deactivate_user,
    "create-agent": _create_agent,
    "deactivate-agent": _deactivate_agent,
    "list-api-keys": _list_api_keys,
    "rotate-api-key": _rotate_api_key,
    "revoke-api-key": _revoke_api_key,
}
