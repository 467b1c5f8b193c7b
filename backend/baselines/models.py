"""Table: human baselines per team (response rates, minutes per task, loaded hourly cost)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base, OrganizationRow, between, utcnow


class HumanBaseline(OrganizationRow, Base):
    __tablename__ = "human_baselines"
    __scope__ = "team"
    __table_args__ = (
        between("response_rate", 0, 1),
        between("conversion_rate", 0, 1),
        CheckConstraint("minutes_per_task > 0", name="minutes_per_task"),
        CheckConstraint("loaded_hourly_cost >= 0", name="loaded_hourly_cost"),
        CheckConstraint("sample_size >= 0", name="sample_size"),
        UniqueConstraint("team_id", "action_type", "valid_from"),
    )

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    action_type: Mapped[str] = mapped_column(String(40))
    response_rate: Mapped[float] = mapped_column(Float)
    conversion_rate: Mapped[float] = mapped_column(Float)
    minutes_per_task: Mapped[float] = mapped_column(Float)
    loaded_hourly_cost: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    sample_size: Mapped[int] = mapped_column(Integer, default=0)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
