"""Tables: calibration sufficient statistics and the latest verdict of each scope.

The statistics columns are exactly ``analytics_engine.calibration.STAT_FIELDS``: each resolved
outcome adds its contribution to one row with a single atomic upsert, and any scope or time range
is a ``SUM ... GROUP BY bin`` over this small table.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, DailyRollupRow, FedState, OrganizationRow, utcnow

CALIBRATION_BINS = 20


class CalibrationSums:
    """The calibration rollups' key within a scope and day (action type, bin) and their sums:
    exactly ``analytics_engine.calibration.STAT_FIELDS``."""

    action_type: Mapped[str] = mapped_column(String(40))
    bin: Mapped[int] = mapped_column(SmallInteger)
    count: Mapped[int] = mapped_column(Integer, default=0)
    sum_p: Mapped[float] = mapped_column(Float, default=0.0)
    sum_p2: Mapped[float] = mapped_column(Float, default=0.0)
    sum_y: Mapped[float] = mapped_column(Float, default=0.0)
    sum_y2: Mapped[float] = mapped_column(Float, default=0.0)
    sum_py: Mapped[float] = mapped_column(Float, default=0.0)
    sum_sq_err: Mapped[float] = mapped_column(Float, default=0.0)
    sum_log_loss: Mapped[float] = mapped_column(Float, default=0.0)
    sum_spieg_num: Mapped[float] = mapped_column(Float, default=0.0)
    sum_spieg_var: Mapped[float] = mapped_column(Float, default=0.0)


def _calibration_table(scope_column: str) -> tuple[Any, ...]:
    """A calibration rollup's keys and checks. Scope, then time: one agent's (or team's) or
    the organisation's days are a range of an index."""
    return (
        PrimaryKeyConstraint("organization_id", scope_column, "day", "action_type", "bin"),
        Index(None, "organization_id", "day"),
        CheckConstraint(f"bin >= 0 AND bin < {CALIBRATION_BINS}", name="bin"),
        CheckConstraint("count >= 0", name="count"),
    )


class CalibrationStat(DailyRollupRow, CalibrationSums, Base):
    __tablename__ = "calibration_stats"
    __table_args__ = _calibration_table("agent_id")


class CalibrationTeamStat(CalibrationSums, Base):
    """``calibration_stats`` summed over each team's agents: what organisation-wide reads
    (the executive dashboard, team by team) sum, one row per team where the agent rollup has
    one per agent. Written with it, in the same statement batch; each agent's rows go to the
    team the agent belongs to when they are written (no API moves an agent to another team;
    `backend.calibration.rollup.rebuild_teams` recomputes the table from ``calibration_stats``)."""

    __tablename__ = "calibration_team_stats"
    __scope__ = "team"
    __table_args__ = _calibration_table("team_id")

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), sort_order=-3
    )
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), sort_order=-2)
    day: Mapped[dt.date] = mapped_column(Date, sort_order=-1)


def _scope_checks() -> tuple[CheckConstraint, CheckConstraint]:
    """A row of one agent or of the whole organisation: ``scope`` says which, ``agent_id``
    agrees."""
    return (
        CheckConstraint("scope IN ('agent', 'organization')", name="scope"),
        CheckConstraint(
            "(scope = 'agent' AND agent_id IS NOT NULL) OR (scope = 'organization'"
            " AND agent_id IS NULL)",
            name="agent_id",
        ),
    )


class CalibrationVerdict(OrganizationRow, Base):
    """The latest assessment of one scope (an agent, or the whole organisation) and action type:
    verdict, evidence, recalibration map and why that map. Rewritten when the verdict or the
    map changes. The organisation's map is the one a brand-new agent starts from."""

    __tablename__ = "calibration_verdicts"
    __scope__ = "agent"
    __table_args__ = (
        *_scope_checks(),
        UniqueConstraint("organization_id", "scope_key", "action_type"),
    )

    scope: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    # "agent:<id>" or "organization": one unique key for both scopes (NULLs never collide).
    scope_key: Mapped[str] = mapped_column(String(40))
    action_type: Mapped[str] = mapped_column(String(40))
    verdict: Mapped[str] = mapped_column(String(32))
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    recalibration: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Why this map (backend.calibration.pooling.MapChoice.basis): pooled or own, the pooled
    # weight, each candidate's leave-one-out log loss, a sentence. {} before pooling existed.
    recalibration_basis: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    n: Mapped[float] = mapped_column(Float, default=0.0)
    assessed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CalibrationMonitorState(FedState, OrganizationRow, Base):
    """The calibration e-process of one scope (an agent, or the organisation) and action type
    (``analytics_engine.monitoring.CalibrationMonitor.to_dict()``): fed every decided outcome
    of the matured days, in the order the actions were taken, up to ``through``. The stored
    verdict acts only once it has reached its level (``analytics_engine.verdict.confirm``).

    An agent's row also follows drift (``backend.calibration.drift``): ``drift`` holds the
    change detector on the residuals of the agent's map in force and the days it was fed
    (``{"detector": ChangeDetector.to_dict(), "days": [[day, outcomes by its end], ...]}``);
    after a change, ``changed_on`` is the first day of the agent's new self (its map is
    refitted on the days from it, under ``change_prior``, its map before the change),
    ``change_found_on`` the matured day that revealed it, ``changes`` how many so far."""

    __tablename__ = "calibration_monitors"
    __scope__ = "agent"
    __table_args__ = (
        *_scope_checks(),
        CheckConstraint("version >= 1", name="version"),
        UniqueConstraint("organization_id", "scope_key", "action_type"),
    )

    scope: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    scope_key: Mapped[str] = mapped_column(String(40))  # as calibration_verdicts.scope_key
    action_type: Mapped[str] = mapped_column(String(40))
    drift: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    changed_on: Mapped[dt.date | None] = mapped_column(Date)
    change_found_on: Mapped[dt.date | None] = mapped_column(Date)
    change_prior: Mapped[dict[str, Any] | None]
    changes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
