"""Table: event streams and their last version (monotonic per organisation and stream)."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.database import Base


class EventStream(Base):
    __tablename__ = "event_streams"
    __scope__ = "org"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    # e.g. "calibration:agent:12:email", "policy:agent:12:email", "labels".
    stream: Mapped[str] = mapped_column(String(120), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
