"""What the auth domain tells the rest after commit: a credential stopped working before its
time (an API key revoked, a session signed out, a person deactivated), so that whoever holds it
open (live subscriptions) lets go at once rather than at its next periodic check."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from backend.pubsub import Broker

log = logging.getLogger(__name__)

# The broker channel the revocations are announced on, to every process of the deployment.
ACCESS_REVOKED_CHANNEL = "access.revoked"


@dataclass(frozen=True)
class AccessRevoked:
    """Credentials of one organisation were revoked: an API key's (``api_client_id``), one
    session of a person (``user_id`` and ``session_id``), or all of a person's (``user_id``
    alone: deactivated). A hint to check again, never a verdict: listeners re-authenticate the
    credentials it may concern, and the database decides."""

    organization_id: int
    api_client_id: int | None = None
    user_id: int | None = None
    session_id: int | None = None

    def message(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of_message(cls, message: dict[str, Any]) -> AccessRevoked:
        """From a broker's message (what `message` gave); ValueError for anything else."""
        try:
            return cls(
                organization_id=int(message["organization_id"]),
                api_client_id=_id(message.get("api_client_id")),
                user_id=_id(message.get("user_id")),
                session_id=_id(message.get("session_id")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not an access revocation: {message!r}") from exc

    def concerns(
        self, *, organization_id: int, user_id: int | None, api_client_id: int | None
    ) -> bool:
        """Whether a credential of that organisation, person or key may be one revoked."""
        if organization_id != self.organization_id:
            return False
        if self.api_client_id is not None and api_client_id == self.api_client_id:
            return True
        return self.user_id is not None and user_id == self.user_id


async def announce_revocations(broker: Broker, events: Sequence[AccessRevoked]) -> None:
    """Publish committed revocations to every process; a broker that is down is logged (the
    live subscriptions' periodic re-check still ends them, later)."""
    for event in events:
        try:
            await broker.publish(ACCESS_REVOKED_CHANNEL, event.message())
        except Exception as exc:
            log.warning(
                "access revocation unannounced: %s (%s: %s)", event, type(exc).__name__, exc
            )


def _id(value: Any) -> int | None:
    return None if value is None else int(value)
