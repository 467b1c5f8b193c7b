"""Tables: organisations, teams, users, which managers manage which teams, and the audit of
administrative changes."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, BigId, OrganizationRow, one_of, utcnow


class Role(StrEnum):
    REP = "rep"
    MANAGER = "manager"
    EXECUTIVE = "executive"
    ADMIN = "admin"


class Organization(Base):
    __tablename__ = "organizations"
    __scope__ = "self"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Per-organisation configuration (outcome windows, rules); defaults live in code.
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Team(OrganizationRow, Base):
    __tablename__ = "teams"
    __scope__ = "team"
    __scope_column__ = "id"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class User(OrganizationRow, Base):
    __tablename__ = "users"
    __scope__ = "org"
    __table_args__ = (one_of("role", Role),)

    # Logins are by e-mail, so an address belongs to one organisation only.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    # A rep's (or a manager's own) team; managers manage teams through team_managers.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    slack_user_id: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TeamManager(Base):
    """A manager manages one or more teams."""

    __tablename__ = "team_managers"
    __scope__ = "team"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class AdminChange(StrEnum):
    """What an administrator (or the operator, from the CLI) did."""

    ORGANIZATION_CREATED = "organization.created"
    TEAM_CREATED = "team.created"
    USER_INVITED = "user.invited"
    USER_DEACTIVATED = "user.deactivated"
    AGENT_CREATED = "agent.created"
    AGENT_DEACTIVATED = "agent.deactivated"
    API_KEY_CREATED = "api_key.created"
    API_KEY_ROTATED = "api_key.rotated"
    API_KEY_REVOKED = "api_key.revoked"


class AdminAuditEntry(OrganizationRow, Base):
    """One administrative change: who (a person, an API key, or the operator at the command
    line when both are empty), when, what, and to which row. Never updated or deleted."""

    __tablename__ = "admin_audit"
    __scope__ = "org"
    __table_args__ = (one_of("change", AdminChange), Index(None, "organization_id", "at"))

    change: Mapped[str] = mapped_column(String(32))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_api_client_id: Mapped[int | None] = mapped_column(BigId)
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int] = mapped_column(BigId)
    # What was set (names, roles, scopes); never a secret.
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[dt.datetime]
