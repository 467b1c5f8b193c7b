"""Who may receive a live event, decided again for every event, not only at subscribe time.

A WebSocket lives for hours: the user may be deactivated, the key revoked, the token expire, the
rep moved to another team meanwhile. So each delivery re-reads the viewer from the credential of
`connection_init` (at most every `RECHECK_SECONDS`, shared by the operations of one connection)
and checks the event's organisation, agent and the scope it needs against that fresh viewer.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from backend.auth.service import authenticate
from backend.auth.viewer import Viewer, ViewerRole
from backend.errors import DomainError, ErrorCode
from graphql_schema.context import Context

RECHECK_SECONDS = 30.0
_GUARD_KEY = "live.credential_guard"


class CredentialGuard:
    """The viewer of one WebSocket connection, re-authenticated at most every RECHECK_SECONDS."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self._checked_at = -math.inf  # the first event re-checks what `connection_init` proved
        self._lock = asyncio.Lock()

    @classmethod
    def of(cls, context: Context) -> CredentialGuard:
        guard = context.extensions.get(_GUARD_KEY)
        if guard is None:
            guard = context.extensions[_GUARD_KEY] = cls(context)
        return guard

    async def viewer(self) -> Viewer:
        """The current viewer; raises `unauthenticated` once the credential stopped working."""
        if time.monotonic() - self._checked_at < RECHECK_SECONDS:
            return self._context.require_viewer()
        async with self._lock:  # one check at a time for all the connection's operations
            if time.monotonic() - self._checked_at < RECHECK_SECONDS:
                return self._context.require_viewer()
            params = self._context.connection_params or {}
            credential = params.get("Authorization") or params.get("authorization") or ""
            state = self._context.state
            try:
                async with state.sessions() as session:
                    viewer = await authenticate(session, state.settings, str(credential))
                    await session.commit()  # last_used_at of API keys
            except DomainError as exc:
                self._context.viewer = None
                message = f"credentials no longer valid: {exc.message}"
                raise DomainError(ErrorCode.UNAUTHENTICATED, message) from None
            self._context.viewer = viewer
            self._checked_at = time.monotonic()
            return viewer


ScopeCheck = Callable[[Viewer], None]


def calibration_scope(viewer: Viewer) -> None:
    """read:calibration; the agent's own key may also follow its calibration with read:policy."""
    if viewer.role is ViewerRole.AGENT and viewer.has_scope("read:policy"):
        return
    viewer.require_scope("read:calibration")


def policy_scope(viewer: Viewer) -> None:
    """As the `policy` query: the agent's own key with read:policy, other keys read:calibration."""
    calibration_scope(viewer)


def outcome_scope(viewer: Viewer) -> None:
    """As the `outcomes` query: the agent's own key reads its outcomes; other keys need
    read:outcomes."""
    if viewer.role is ViewerRole.AGENT:
        return
    viewer.require_scope("read:outcomes")


def prompt_scope(viewer: Viewer) -> None:
    """As the `feedbackPrompts` query: people; API keys with read:feedback; not the agent."""
    if viewer.role is ViewerRole.AGENT:
        raise DomainError(ErrorCode.FORBIDDEN, "prompts ask people; the agent has none")
    viewer.require_scope("read:feedback")


def sees_event_agent(viewer: Viewer, agent_id: int | None) -> bool:
    """An event of one agent goes to who may see that agent; an organisation-wide event (no
    agent) only to organisation-wide viewers."""
    if agent_id is None:
        return viewer.sees_whole_organization
    return viewer.can_see_agent(agent_id)
