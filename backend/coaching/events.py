"""What the coaching domain tells the rest after commit (reports and channels may subscribe)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CoachingInsightsRaised:
    """A run raised new insights for a team (refreshed ones are not new)."""

    organization_id: int
    team_id: int
    insight_ids: tuple[int, ...]


@dataclass(frozen=True)
class CoachingInsightDecided:
    """A manager marked an insight acted on or dismissed."""

    organization_id: int
    team_id: int
    insight_id: int
    status: str
    decided_by_id: int | None
