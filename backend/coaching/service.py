"""Use cases of coaching insights, for people: a team's insights (its managers, executives and
admins see all; its reps the advice meant for reps), a manager's decision on one (acted on or
dismissed, with a note: who and when are kept), and a run on demand for a team. The mining
itself is `backend.coaching.mining` (`refresh_team_insights`, also what the worker runs)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.coaching.events import CoachingInsightDecided
from backend.coaching.mining import refresh_team_insights
from backend.coaching.models import (
    NOTE_MAX_LENGTH,
    CoachingInsight,
    InsightAudience,
    InsightStatus,
)
from backend.database import is_postgresql
from backend.errors import (
    DomainError,
    ErrorCode,
    NotFoundError,
    PermissionDeniedError,
    Problems,
    flush,
)
from backend.pagination import Page, paginate
from backend.scope import team_in_scope
from backend.unit_of_work import raise_event
from backend.viewer import Viewer, ViewerRole, scoped

__all__ = [
    "Decision",
    "decide_insight",
    "insights_page",
    "refresh_insights",
    "refresh_team_insights",
    "visible_to",
]

READERS = (ViewerRole.REP, ViewerRole.MANAGER, ViewerRole.EXECUTIVE, ViewerRole.ADMIN)
DECIDERS = (ViewerRole.MANAGER, ViewerRole.ADMIN)
LIST_ORDER = (CoachingInsight.created_at, CoachingInsight.id)


class Decision(StrEnum):
    ACTED_ON = InsightStatus.ACTED_ON.value
    DISMISSED = InsightStatus.DISMISSED.value


def _require_person(viewer: Viewer, roles: tuple[ViewerRole, ...], what: str) -> None:
    if viewer.api_client_id is not None:
        raise PermissionDeniedError(f"{what} is for people, not API keys")
    viewer.require_role(*roles)


def visible_to(viewer: Viewer, insight: CoachingInsight) -> bool:
    """Whether a row already in the viewer's scope is theirs to read: people only, and a rep
    only the advice meant for reps (what `insights_page` lists; `node(id:)` agrees)."""
    if viewer.api_client_id is not None or viewer.role not in READERS:
        return False
    return viewer.role is not ViewerRole.REP or insight.audience == InsightAudience.REP.value


async def insights_page(
    session: AsyncSession,
    viewer: Viewer,
    *,
    team_id: int,
    status: InsightStatus | None = None,
    audience: InsightAudience | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page[CoachingInsight]:
    """A team's insights, newest first. A team out of the viewer's scope is not found (as an
    unknown or foreign one); a rep sees only the advice meant for reps, of their own team."""
    _require_person(viewer, READERS, "coaching")
    if await team_in_scope(session, viewer, team_id) is None:
        raise NotFoundError("team", field="teamId")
    if viewer.role is ViewerRole.REP:
        if audience is InsightAudience.MANAGER:
            raise PermissionDeniedError(
                "reps see the advice meant for reps (audience REP)", field="audience"
            )
        audience = InsightAudience.REP
    statement = scoped(select(CoachingInsight), CoachingInsight, viewer).where(
        CoachingInsight.team_id == team_id
    )
    if status is not None:
        statement = statement.where(CoachingInsight.status == status.value)
    if audience is not None:
        statement = statement.where(CoachingInsight.audience == audience.value)
    return await paginate(session, statement, order=LIST_ORDER, first=first, after=after)


def _checked_note(note: str | None, problems: Problems) -> str | None:
    text = (note or "").strip()
    problems.require(
        len(text) <= NOTE_MAX_LENGTH,
        "note",
        f"must be at most {NOTE_MAX_LENGTH} characters, got {len(text)}",
    )
    return text or None


async def decide_insight(
    session: AsyncSession,
    viewer: Viewer,
    *,
    insight_id: int,
    decision: str,
    note: str | None,
    now: dt.datetime,
) -> CoachingInsight:
    """Mark an insight acted on or dismissed (managers of its team, admins). The same decision
    again changes nothing (a retried request counts once); another decision after one was made
    is a conflict. Raises `CoachingInsightDecided`."""
    _require_person(viewer, DECIDERS, "deciding on coaching")
    problems = Problems()
    chosen = next((d for d in Decision if d.value == decision), None)
    problems.require(
        chosen is not None,
        "decision",
        f"must be one of {', '.join(d.value for d in Decision)}, got {decision!r}",
    )
    note = _checked_note(note, problems)
    problems.raise_if_any()
    assert chosen is not None
    statement = scoped(select(CoachingInsight), CoachingInsight, viewer).where(
        CoachingInsight.id == insight_id
    )
    if is_postgresql(session):
        statement = statement.with_for_update()
    insight = await session.scalar(statement)
    if insight is None:
        raise NotFoundError("coaching insight")
    if insight.status == chosen.value:
        return insight  # the same decision again: already done
    if insight.decided_at is not None:
        raise DomainError(
            ErrorCode.CONFLICT,
            f"it was already marked {insight.status} on {insight.decided_at:%Y-%m-%d}",
            field="decision",
        )
    insight.status = chosen.value
    insight.decided_at = now
    insight.decided_by_id = viewer.user_id
    insight.decision_note = note
    insight.updated_at = now
    await flush(session)
    raise_event(
        session,
        CoachingInsightDecided(
            insight.organization_id, insight.team_id, insight.id, insight.status, viewer.user_id
        ),
    )
    return insight


async def refresh_insights(
    session: AsyncSession, viewer: Viewer, *, team_id: int, now: dt.datetime
) -> int:
    """Mine a team now, on demand (its managers, admins); how many insights it raised."""
    _require_person(viewer, DECIDERS, "running coaching")
    if await team_in_scope(session, viewer, team_id) is None:
        raise NotFoundError("team", field="teamId")
    return await refresh_team_insights(
        session, organization_id=viewer.organization_id, team_id=team_id, now=now
    )
