"""Tables: agent policies and their audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, FedState, OrganizationRow, between, utcnow


class AgentPolicy(OrganizationRow, Base):
    """The behaviour thresholds of one agent for one action type, in raw confidence units."""

    __tablename__ = "agent_policies"
    __scope__ = "agent"
    __table_args__ = (
        between("escalate_below", 0, 1),
        between("autonomous_above", 0, 1),
        CheckConstraint("escalate_below <= autonomous_above", name="autonomous_above__order"),
        CheckConstraint("version >= 1", name="version"),
        UniqueConstraint("agent_id", "action_type"),
    )

    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    action_type: Mapped[str] = mapped_column(String(40))
    escalate_below: Mapped[float] = mapped_column(Float)
    autonomous_above: Mapped[float] = mapped_column(Float)
    # A frozen policy is never moved automatically (a human pinned it).
    frozen: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  optimistic locking


class PolicyChange(OrganizationRow, Base):
    """Audit trail: every change of a policy, automatic or by a person, with its reason."""

    __tablename__ = "policy_changes"
    __scope__ = "agent"
    __table_args__ = (
        CheckConstraint("changed_by IN ('system', 'user')", name="changed_by"),
        CheckConstraint(
            "changed_by = 'system' OR changed_by_user_id IS NOT NULL", name="changed_by_user_id"
        ),
    )

    policy_id: Mapped[int] = mapped_column(
        ForeignKey("agent_policies.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    action_type: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    previous_escalate_below: Mapped[float | None] = mapped_column(Float)
    previous_autonomous_above: Mapped[float | None] = mapped_column(Float)
    escalate_below: Mapped[float] = mapped_column(Float)
    autonomous_above: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(1000))
    # The calibration verdict and evidence that drove an automatic change.
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    changed_by: Mapped[str] = mapped_column(String(16))
    changed_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ThresholdEvidence(FedState, OrganizationRow, Base):
    """What a policy's thresholds have gathered from outcomes since each last moved (their
    dead bands' bettors: ``analytics_engine.policy.PolicyEvidence.to_dict()``), and the last
    day whose actions' outcomes were fed (days are fed once matured, in the actions' order).
    Kept apart from the policy so that gathering evidence does not make a policy version."""

    __tablename__ = "threshold_evidence"
    __scope__ = "agent"
    __table_args__ = (CheckConstraint("version >= 1", name="version"),)

    policy_id: Mapped[int] = mapped_column(
        ForeignKey("agent_policies.id", ondelete="CASCADE"), unique=True
    )
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    action_type: Mapped[str] = mapped_column(String(40))
