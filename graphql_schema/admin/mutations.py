"""GraphQL: administration of the viewer's organisation (administrators; anyone else gets
`forbidden`): teams, people invited and deactivated, agents created and deactivated, API keys
created, rotated and revoked. Each change is audited (`adminAuditTrail`). Ids of another
organisation are `not_found`, like unknown ones."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from backend import administration
from backend.auth.models import ApiClientKind
from backend.errors import DomainError
from backend.unit_of_work import transaction
from backend.viewer import Viewer
from graphql_schema.admin.types import API_KEY, ApiKey, ApiKeyKind
from graphql_schema.agents.types import AgentType
from graphql_schema.errors import UserError
from graphql_schema.inputs import attempt, decode_id, with_error_paths
from graphql_schema.orgs.types import Role, TeamType, UserType

ERRORS = "What to fix; empty when it was done."


def _payload_errors() -> Any:
    return strawberry.field(default_factory=list, description=ERRORS)


@strawberry.input(description=with_error_paths("A new team of the organisation.", "name"))
class CreateTeamInput:
    name: str = strawberry.field(description="Its name, unique in the organisation.")


@strawberry.type(description="The team created, or what to fix.")
class CreateTeamPayload:
    team: TeamType | None = strawberry.field(default=None, description="The team created.")
    errors: list[UserError] = _payload_errors()


@strawberry.input(
    description=with_error_paths(
        "A person to add to the organisation; they are e-mailed a sign-in link.", "email"
    )
)
class InviteUserInput:
    email: str = strawberry.field(description="Their login address (unique across the service).")
    name: str = strawberry.field(description="Their display name.")
    role: Role = strawberry.field(description="What they do, and so what they may see.")
    team_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Their team (required for a rep; a manager given one manages it).",
    )


@strawberry.type(description="The person invited, or what to fix.")
class InviteUserPayload:
    user: UserType | None = strawberry.field(default=None, description="The person added.")
    invitation_sent: bool = strawberry.field(
        default=False,
        description="Whether the sign-in link was mailed (false: no mail server configured, "
        "or it refused; they can ask for a link at sign-in).",
    )
    errors: list[UserError] = _payload_errors()


@strawberry.input(description=with_error_paths("A person to deactivate.", "userId"))
class DeactivateUserInput:
    user_id: strawberry.ID = strawberry.field(description="The person (not yourself).")


@strawberry.type(description="The person deactivated, or what to fix.")
class DeactivateUserPayload:
    user: UserType | None = strawberry.field(default=None, description="The person, inactive.")
    errors: list[UserError] = _payload_errors()


@strawberry.input(description=with_error_paths("A new agent.", "ownerId"))
class CreateAgentInput:
    name: str = strawberry.field(description="Its name, unique in the organisation.")
    owner_id: strawberry.ID = strawberry.field(description="The active person who owns it.")
    team_id: strawberry.ID = strawberry.field(description="The team it works in.")


@strawberry.type(description="The agent created, or what to fix.")
class CreateAgentPayload:
    agent: AgentType | None = strawberry.field(default=None, description="The agent created.")
    errors: list[UserError] = _payload_errors()


@strawberry.input(description=with_error_paths("An agent to deactivate.", "agentId"))
class DeactivateAgentInput:
    agent_id: strawberry.ID = strawberry.field(description="The agent.")


@strawberry.type(description="The agent deactivated and its keys revoked, or what to fix.")
class DeactivateAgentPayload:
    agent: AgentType | None = strawberry.field(default=None, description="The agent, inactive.")
    revoked_api_keys: list[ApiKey] = strawberry.field(
        default_factory=list, description="Its keys that were live, now revoked."
    )
    errors: list[UserError] = _payload_errors()


@strawberry.input(description=with_error_paths("A new API key.", "scopes"))
class CreateApiKeyInput:
    name: str = strawberry.field(description="A label for it.")
    kind: ApiKeyKind = strawberry.field(description="Agent or partner key.")
    scopes: list[str] | None = strawberry.field(
        default=None, description="What it may do (default: the kind's defaults)."
    )
    agent_id: strawberry.ID | None = strawberry.field(
        default=None, description="The agent an agent key acts for (required for agent keys)."
    )


@strawberry.type(description="The key and its secret (shown this once), or what to fix.")
class CreateApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(default=None, description="The key created.")
    secret: str | None = strawberry.field(
        default=None, description="The key to send as `Authorization: Bearer ...`; shown once."
    )
    errors: list[UserError] = _payload_errors()


@strawberry.input(description=with_error_paths("An API key to rotate or revoke.", "id"))
class ApiKeyInput:
    id: strawberry.ID = strawberry.field(description="The key's global id.")


@strawberry.type(description="The new key and its secret (shown this once), or what to fix.")
class RotateApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(default=None, description="The new key.")
    secret: str | None = strawberry.field(default=None, description="The new key; shown once.")
    revoked_api_key: ApiKey | None = strawberry.field(
        default=None, description="The old key, revoked."
    )
    errors: list[UserError] = _payload_errors()


@strawberry.type(description="The key revoked, or what to fix.")
class RevokeApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(default=None, description="The key, revoked.")
    errors: list[UserError] = _payload_errors()


def _id(value: strawberry.ID | None, type_name: str, field: str) -> int | None:
    return None if value is None else decode_id(str(value), type_name, field)


@strawberry.type
class AdminMutation:
    @strawberry.mutation(description="Create a team (a repeated name is a `conflict`).")
    async def create_team(
        self,
        info: Info,
        input: Annotated[CreateTeamInput, strawberry.argument(description="What to change.")],
    ) -> CreateTeamPayload:
        async def run(viewer: Viewer) -> TeamType:
            async with transaction(info.context.state.sessions) as session:
                team = await administration.create_team(
                    session, viewer, name=input.name, now=info.context.now()
                )
            return TeamType.of(team)

        team, errors = await attempt(info, input, run)
        return CreateTeamPayload(team=team, errors=errors)

    @strawberry.mutation(
        description="Add a person and e-mail them a sign-in link (an address already used is "
        "a `conflict`, so a retry adds no one twice)."
    )
    async def invite_user(
        self,
        info: Info,
        input: Annotated[InviteUserInput, strawberry.argument(description="What to change.")],
    ) -> InviteUserPayload:
        async def run(viewer: Viewer) -> administration.Invitation:
            team_id = _id(input.team_id, "Team", "teamId")
            async with transaction(info.context.state.sessions) as session:
                return await administration.invite_user(
                    session,
                    viewer,
                    email=input.email,
                    name=input.name,
                    role=input.role,
                    team_id=team_id,
                    now=info.context.now(),
                )

        invitation, errors = await attempt(info, input, run)
        if invitation is None:
            return InviteUserPayload(errors=errors)
        sent = await administration.send_invitation(
            info.context.state.settings, invitation, now=info.context.now()
        )
        return InviteUserPayload(user=UserType.of(invitation.user), invitation_sent=sent)

    @strawberry.mutation(
        description="Deactivate a person: their tokens and sessions are refused from their "
        "next request and their live subscriptions end. Deactivating them again changes nothing."
    )
    async def deactivate_user(
        self,
        info: Info,
        input: Annotated[DeactivateUserInput, strawberry.argument(description="What to change.")],
    ) -> DeactivateUserPayload:
        async def run(viewer: Viewer) -> UserType:
            user_id = decode_id(str(input.user_id), "User", "userId")
            async with transaction(info.context.state.sessions) as session:
                user = await administration.deactivate_user(
                    session, viewer, user_id=user_id, now=info.context.now()
                )
            return UserType.of(user)

        user, errors = await attempt(info, input, run)
        return DeactivateUserPayload(user=user, errors=errors)

    @strawberry.mutation(description="Create an agent (a repeated name is a `conflict`).")
    async def create_agent(
        self,
        info: Info,
        input: Annotated[CreateAgentInput, strawberry.argument(description="What to change.")],
    ) -> CreateAgentPayload:
        async def run(viewer: Viewer) -> AgentType:
            owner_id = decode_id(str(input.owner_id), "User", "ownerId")
            team_id = decode_id(str(input.team_id), "Team", "teamId")
            async with transaction(info.context.state.sessions) as session:
                agent = await administration.create_agent(
                    session,
                    viewer,
                    name=input.name,
                    owner_id=owner_id,
                    team_id=team_id,
                    now=info.context.now(),
                )
            return AgentType.of(agent)

        agent, errors = await attempt(info, input, run)
        return CreateAgentPayload(agent=agent, errors=errors)

    @strawberry.mutation(
        description="Deactivate an agent and revoke its live API keys. Again: nothing changes."
    )
    async def deactivate_agent(
        self,
        info: Info,
        input: Annotated[DeactivateAgentInput, strawberry.argument(description="What to change.")],
    ) -> DeactivateAgentPayload:
        async def run(viewer: Viewer) -> DeactivateAgentPayload:
            agent_id = decode_id(str(input.agent_id), "Agent", "agentId")
            async with transaction(info.context.state.sessions) as session:
                done = await administration.deactivate_agent(
                    session, viewer, agent_id=agent_id, now=info.context.now()
                )
            return DeactivateAgentPayload(
                agent=AgentType.of(done.agent),
                revoked_api_keys=[ApiKey.of(k) for k in done.revoked_keys],
            )

        done, errors = await attempt(info, input, run)
        return done or DeactivateAgentPayload(errors=errors)

    @strawberry.mutation(description="Create an API key; its secret is in the payload, once.")
    async def create_api_key(
        self,
        info: Info,
        input: Annotated[CreateApiKeyInput, strawberry.argument(description="What to change.")],
    ) -> CreateApiKeyPayload:
        async def run(viewer: Viewer) -> CreateApiKeyPayload:
            agent_id = _id(input.agent_id, "Agent", "agentId")
            try:
                async with transaction(info.context.state.sessions) as session:
                    created = await administration.create_api_key(
                        session,
                        viewer,
                        kind=ApiClientKind(input.kind.value),
                        name=input.name,
                        scopes=input.scopes,
                        agent_id=agent_id,
                        now=info.context.now(),
                    )
            except DomainError as error:
                if error.field == "agent":  # the service's name for it
                    error.field = "agentId"
                raise
            return CreateApiKeyPayload(api_key=ApiKey.of(created.client), secret=created.key)

        done, errors = await attempt(info, input, run)
        return done or CreateApiKeyPayload(errors=errors)

    @strawberry.mutation(
        description="Replace a live API key with a new one of the same name, kind, agent and "
        "scopes: the old one is refused at once (its live subscriptions end) and the new "
        "secret is in the payload, once. A revoked key cannot be rotated (`invalid`)."
    )
    async def rotate_api_key(
        self,
        info: Info,
        input: Annotated[ApiKeyInput, strawberry.argument(description="What to change.")],
    ) -> RotateApiKeyPayload:
        async def run(viewer: Viewer) -> RotateApiKeyPayload:
            key_id = decode_id(str(input.id), API_KEY, "id")
            async with transaction(info.context.state.sessions) as session:
                rotated = await administration.rotate_api_key(
                    session, viewer, api_client_id=key_id, now=info.context.now()
                )
            return RotateApiKeyPayload(
                api_key=ApiKey.of(rotated.created.client),
                secret=rotated.created.key,
                revoked_api_key=ApiKey.of(rotated.revoked),
            )

        done, errors = await attempt(info, input, run)
        return done or RotateApiKeyPayload(errors=errors)

    @strawberry.mutation(
        description="Revoke an API key: refused at once, its live subscriptions end. Revoking "
        "a revoked key changes nothing."
    )
    async def revoke_api_key(
        self,
        info: Info,
        input: Annotated[ApiKeyInput, strawberry.argument(description="What to change.")],
    ) -> RevokeApiKeyPayload:
        async def run(viewer: Viewer) -> ApiKey:
            key_id = decode_id(str(input.id), API_KEY, "id")
            async with transaction(info.context.state.sessions) as session:
                client = await administration.revoke_api_key(
                    session, viewer, api_client_id=key_id, now=info.context.now()
                )
            return ApiKey.of(client)

        key, errors = await attempt(info, input, run)
        return RevokeApiKeyPayload(api_key=key, errors=errors)
