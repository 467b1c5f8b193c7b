"""Who may receive a live event, decided again for every event, not only at subscribe time.

A WebSocket lives for hours: the user may be deactivated, the key revoked, the token expire, the
rep moved to another team meanwhile. So each delivery re-reads the viewer from the credential of
`connection_init` (at most every `RECHECK_SECONDS`; one check per credential and process, shared
by every connection that presented it) and checks the event's organisation, agent and the scope
it needs against that fresh viewer, once per event and principal (`graphql_schema.live.hub`).
A revocation announced on the broker (`backend.auth.events.AccessRevoked`) has the credentials
it may concern checked again at once, without waiting for an event.

`connection_init` itself is checked here too, by a check that started after the connection asked
(`CredentialChecks.connect`): a thousand dashboards connecting at once on one credential share a
few database reads, and the first event needs no new check (the connection's is fresh).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backend.alerts.service import require_alert_reader, sees_alert
from backend.auth.service import authenticate
from backend.errors import DomainError, ErrorCode
from backend.state import AppState
from backend.viewer import Viewer, ViewerRole
from graphql_schema.context import Context

RECHECK_SECONDS = 30.0
_CHECKS_KEY = "live.credential_checks"
CHECKED_AT_KEY = "live.checked_at"  # in a connection's context: when its credential was checked


@dataclass
class _Check:
    """The latest check of one credential in this process, shared by every connection that
    presented it (a thousand dashboards on one key re-authenticate once, not a thousand times)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    viewer: Viewer | None = None
    refused: str | None = None  # why the credential stopped working
    checked_at: float = -math.inf


class CredentialChecks:
    """Per process (one per `AppState`): credential digest -> its latest check."""

    def __init__(self) -> None:
        self._checks: dict[str, _Check] = {}
        self._swept_at = time.monotonic()

    @classmethod
    def of(cls, state: AppState) -> CredentialChecks:
        checks = state.caches.get(_CHECKS_KEY)
        if checks is None:
            checks = state.caches[_CHECKS_KEY] = cls()
        return checks

    async def viewer(self, state: AppState, credential: str, *, not_before: float) -> Viewer:
        """The viewer of ``credential`` as checked at ``not_before`` or later (re-checked here
        when older than RECHECK_SECONDS); raises `unauthenticated` when it stopped working."""
        check = await self._latest(state, credential, not_before)
        if check.viewer is None:
            raise DomainError(
                ErrorCode.UNAUTHENTICATED, f"credentials no longer valid: {check.refused}"
            )
        return check.viewer

    async def connect(self, context: Context, credential: str) -> Viewer:
        """The viewer of a WebSocket's `connection_init` credential, by a check that started
        after this call (connections arriving while one runs share the next); its start is
        kept in the connection's context, where the hub finds its first ``not_before``."""
        check = await self._latest(context.state, credential, time.monotonic())
        if check.viewer is None:
            raise DomainError(ErrorCode.UNAUTHENTICATED, check.refused or "invalid credentials")
        context.extensions[CHECKED_AT_KEY] = check.checked_at
        return check.viewer

    async def _latest(self, state: AppState, credential: str, not_before: float) -> _Check:
        key = credential_digest(credential)
        check = self._checks.get(key)
        if check is None:
            self._sweep()
            check = self._checks[key] = _Check()
        if not self._fresh(check, not_before):
            async with check.lock:  # one check at a time per credential
                if not self._fresh(check, not_before):
                    await self._authenticate(state, credential, check)
        return check

    def last_viewer(self, key: str) -> Viewer | None:
        """The viewer of the latest check of the credential of digest ``key`` (None: never
        checked here, or refused), however old."""
        check = self._checks.get(key)
        return None if check is None else check.viewer

    def refusal(self, key: str) -> str | None:
        """Why the credential of digest ``key`` was refused at its latest check (None: it was
        not, or it was never checked here)."""
        check = self._checks.get(key)
        if check is None or check.viewer is not None or check.refused is None:
            return None
        return check.refused

    @staticmethod
    def _fresh(check: _Check, not_before: float) -> bool:
        return check.checked_at >= not_before and (
            time.monotonic() - check.checked_at < RECHECK_SECONDS
        )

    @staticmethod
    async def _authenticate(state: AppState, credential: str, check: _Check) -> None:
        started = time.monotonic()  # what it reads is at least as new as this
        try:
            async with state.sessions() as session:
                # By the process's clock: the expiry of a session or a user token too.
                check.viewer = await authenticate(
                    session, state.settings, credential, now=state.now()
                )
                await session.commit()  # last_used_at of API keys
            check.refused = None
        except DomainError as exc:
            check.viewer, check.refused = None, exc.message
        check.checked_at = started

    def _sweep(self) -> None:
        """Forget checks nobody renewed for a while (at most once per RECHECK_SECONDS)."""
        now = time.monotonic()
        if now - self._swept_at < RECHECK_SECONDS:
            return
        self._swept_at = now
        stale = [
            k
            for k, c in self._checks.items()
            if now - c.checked_at > 10 * RECHECK_SECONDS and not c.lock.locked()
        ]
        for key in stale:
            del self._checks[key]


def credential_digest(credential: str) -> str:
    """What a credential is known by in this process (never the credential itself)."""
    return hashlib.sha256(credential.encode()).hexdigest()


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


def alert_scope(viewer: Viewer) -> None:
    """As the `alerts` query: people read alerts; API keys none (partners have webhooks)."""
    require_alert_reader(viewer)


EventCheck = Callable[[Viewer, dict[str, Any]], bool]  # may this viewer receive this event's data


def sees_event_agent(viewer: Viewer, agent_id: int | None) -> bool:
    """An event of one agent goes to who may see that agent; an organisation-wide event (no
    agent) only to organisation-wide viewers."""
    if agent_id is None:
        return viewer.sees_whole_organization
    return viewer.can_see_agent(agent_id)


def sees_agent_event(viewer: Viewer, data: dict[str, Any]) -> bool:
    """The check of events about one agent (or the whole organisation): calibration, policy,
    outcomes, prompts."""
    return sees_event_agent(viewer, data.get("agentId"))


def sees_alert_event(viewer: Viewer, data: dict[str, Any]) -> bool:
    """An alert's event goes to who sees the alert (`backend.alerts.service.sees_alert`): a
    team's alert to that team's managers, an agent's to its rep and its team's managers, both to
    organisation-wide viewers."""
    return sees_alert(viewer, team_id=data.get("teamId"), agent_id=data.get("agentId"))
