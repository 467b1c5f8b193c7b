"""Use cases of the ROI assumptions: a change (a new version, audited: who, when, why, from
which day) and the history. Executives and admins change them (people, or API keys with
``write:analytics``); what holds on a day is read through ``backend.roi.assumptions``."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import ACTION_TYPE_PATTERN
from backend.errors import DomainError, ErrorCode, PermissionDeniedError
from backend.roi.assumptions import Assumption, to_assumption
from backend.roi.models import EVERY_ACTION_TYPE, AssumptionName, RoiAssumption
from backend.viewer import Viewer, ViewerRole, scoped

PER_ACTION_TYPE = frozenset({AssumptionName.MINUTES_PER_TASK, AssumptionName.VALUE_PER_SUCCESS})
EDITORS = (ViewerRole.EXECUTIVE, ViewerRole.ADMIN)
MAX_CHANGES = 100


@dataclass(frozen=True)
class AssumptionChange:
    """One assumption to set: its name, the action type it is for (None: every type), and its
    low / expected / high values."""

    name: str
    low: float
    expected: float
    high: float
    action_type: str | None = None


def _problems(change: AssumptionChange, index: int) -> list[tuple[str, str]]:
    at = f"changes[{index}]"
    names = ", ".join(n.value for n in AssumptionName)
    try:
        name = AssumptionName(change.name)
    except ValueError:
        return [(f"{at}.name", f"unknown assumption {change.name!r}; known: {names}")]
    problems = []
    if change.action_type is not None:
        if name not in PER_ACTION_TYPE:
            problems.append(
                (f"{at}.actionType", f"{name.value} holds for every action type; leave it out")
            )
        elif not ACTION_TYPE_PATTERN.fullmatch(change.action_type):
            problems.append((f"{at}.actionType", f"{change.action_type!r} is not an action type"))
    values = (change.low, change.expected, change.high)
    for key, value in zip(("low", "expected", "high"), values, strict=True):
        if not math.isfinite(value) or value < 0:
            problems.append((f"{at}.{key}", f"must be a finite number >= 0, got {value!r}"))
    if not problems and not change.low <= change.expected <= change.high:
        problems.append((f"{at}.expected", "needs low <= expected <= high"))
    if name is AssumptionName.WORKING_HOURS_PER_WEEK and change.high > 168:
        problems.append((f"{at}.high", "a week has 168 hours"))
    return problems


async def set_assumptions(
    session: AsyncSession,
    viewer: Viewer,
    changes: Sequence[AssumptionChange],
    *,
    effective_from: dt.date,
    reason: str,
    now: dt.datetime,
) -> list[Assumption]:
    """Set assumptions from ``effective_from`` on, as one new version (audited: the viewer,
    ``now`` and ``reason``). Everything is checked first: one bad change refuses them all."""
    viewer.require_scope("write:analytics")
    if viewer.role not in EDITORS:
        raise PermissionDeniedError("only executives and admins change the ROI assumptions")
    reason = reason.strip()
    if not reason:
        raise DomainError(ErrorCode.REQUIRED, "say why the assumptions change", field="reason")
    if len(reason) > 500:
        raise DomainError(ErrorCode.INVALID, "at most 500 characters", field="reason")
    if not changes:
        raise DomainError(ErrorCode.REQUIRED, "name at least one assumption", field="changes")
    if len(changes) > MAX_CHANGES:
        raise DomainError(
            ErrorCode.INVALID, f"at most {MAX_CHANGES} changes at once", field="changes"
        )
    seen: set[tuple[str, str]] = set()
    for i, change in enumerate(changes):
        problems = _problems(change, i)
        if problems:
            field, message = problems[0]
            raise DomainError(ErrorCode.INVALID, message, field=field)
        key = (change.name, change.action_type or EVERY_ACTION_TYPE)
        if key in seen:
            raise DomainError(
                ErrorCode.INVALID, f"{key[0]} for {key[1]} is named twice", field=f"changes[{i}]"
            )
        seen.add(key)
    # The next version of the organisation's assumptions; a concurrent change taking the same
    # number fails on the unique key (a conflict to retry), never overwrites.
    latest = await session.scalar(
        select(func.max(RoiAssumption.version)).where(
            RoiAssumption.organization_id == viewer.organization_id
        )
    )
    version = (latest or 0) + 1
    rows = [
        RoiAssumption(
            organization_id=viewer.organization_id,
            name=c.name,
            action_type=c.action_type or EVERY_ACTION_TYPE,
            low=float(c.low),
            expected=float(c.expected),
            high=float(c.high),
            effective_from=effective_from,
            version=version,
            reason=reason,
            changed_by_id=viewer.user_id,
            api_client_id=viewer.api_client_id,
            created_at=now,
        )
        for c in changes
    ]
    session.add_all(rows)
    await session.flush()
    return [to_assumption(r) for r in rows]


async def assumption_history(
    session: AsyncSession, viewer: Viewer, *, limit: int = 200
) -> list[Assumption]:
    """Every change, newest version first: the audit trail (dashboard readers)."""
    viewer.require_scope("read:analytics")
    if viewer.role in (ViewerRole.AGENT, ViewerRole.REP):
        raise PermissionDeniedError("the ROI assumptions are for managers and above")
    statement = scoped(select(RoiAssumption), RoiAssumption, viewer).order_by(
        RoiAssumption.version.desc(), RoiAssumption.name, RoiAssumption.action_type
    )
    return [to_assumption(r) for r in await session.scalars(statement.limit(limit))]
