"""The Viewer: who is asking, and the one helper that scopes a query to what they may see."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Select, false, or_

from backend.errors import PermissionDeniedError

# Bare `Select`: a select of any columns (SQLAlchemy 2.1 types Select by its column types).
S = TypeVar("S", bound=Select)


class ViewerRole(StrEnum):
    REP = "rep"
    MANAGER = "manager"
    EXECUTIVE = "executive"
    ADMIN = "admin"
    AGENT = "agent"  # the Sales Agent, through its API key
    PARTNER = "partner"  # an integration partner, through its API key


ORGANIZATION_WIDE_ROLES = frozenset({ViewerRole.EXECUTIVE, ViewerRole.ADMIN, ViewerRole.PARTNER})


@dataclass(frozen=True, slots=True)
class Viewer:
    """An authenticated caller. ``agent_ids``/``team_ids`` of None mean the whole organisation."""

    organization_id: int
    role: ViewerRole
    user_id: int | None = None
    api_client_id: int | None = None
    team_ids: frozenset[int] | None = frozenset()
    agent_ids: frozenset[int] | None = frozenset()
    scopes: frozenset[str] = frozenset()

    @classmethod
    def system(cls, organization_id: int) -> Viewer:
        """The service itself (CLI, worker): an administrator of one organisation."""
        return cls(organization_id, ViewerRole.ADMIN, team_ids=None, agent_ids=None)

    @property
    def sees_whole_organization(self) -> bool:
        return self.agent_ids is None

    @property
    def is_person(self) -> bool:
        return self.user_id is not None

    def can_see_agent(self, agent_id: int | None) -> bool:
        return self.agent_ids is None or (agent_id is not None and agent_id in self.agent_ids)

    def has_scope(self, scope: str) -> bool:
        """Only API keys are limited by scopes; people act by role, the service itself freely."""
        return self.api_client_id is None or scope in self.scopes

    def require_role(self, *roles: ViewerRole) -> None:
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise PermissionDeniedError(f"this needs one of the roles: {allowed}")

    def require_scope(self, scope: str) -> None:
        if not self.has_scope(scope):
            raise PermissionDeniedError(f"this API key lacks the scope {scope!r}")


def scoped(statement: S, model: Any, viewer: Viewer) -> S:
    """Restrict ``statement`` over ``model`` to the rows ``viewer`` may see.

    Every model declares ``__scope__``: "self" (the organisation row), "org" (any member of the
    organisation), "agent" (rows of one agent: the viewer's agents), "team" (rows of a team, or of
    one of its agents) or "user" (a person's own rows; organisation-wide viewers see all).
    Another organisation's rows are never returned, whatever the role.
    """
    kind = getattr(model, "__scope__", None)
    if kind is None:
        raise TypeError(f"{model.__name__} declares no __scope__")
    if kind == "self":
        return statement.where(model.id == viewer.organization_id)
    statement = statement.where(model.organization_id == viewer.organization_id)
    if kind == "org" or viewer.sees_whole_organization:
        return statement
    column_name = getattr(model, "__scope_column__", f"{kind}_id")
    if kind == "agent":
        return statement.where(getattr(model, column_name).in_(sorted(viewer.agent_ids or ())))
    if kind == "team":
        column = getattr(model, column_name)
        conditions = [column.in_(sorted(viewer.team_ids or ()))]
        if hasattr(model, "agent_id") and column is not model.agent_id:
            conditions.append(model.agent_id.in_(sorted(viewer.agent_ids or ())))
        return statement.where(or_(*conditions))
    if kind == "user":
        if viewer.user_id is None:
            return statement.where(false())
        return statement.where(model.user_id == viewer.user_id)
    raise TypeError(f"{model.__name__} has an unknown __scope__ {kind!r}")
