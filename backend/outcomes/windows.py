"""Closing outcome windows that expired without a decisive signal, by the organisation's rules.

Rows are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers never resolve
the same outcome; each claimed batch is one transaction, so a worker killed halfway leaves no
half-resolved outcome and the next run finishes the job.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.actions.models import AgentAction
from backend.database import is_postgresql
from backend.orgs.models import Organization
from backend.outcomes.models import Detection, Outcome, OutcomeStatus
from backend.outcomes.resolution import Resolutions, outcome_columns, states_from_rows
from backend.outcomes.rules import OutcomeRules, rules_for


async def close_expired_batch(
    session: AsyncSession, *, now: dt.datetime, batch_size: int = 500
) -> Resolutions:
    """Claim up to ``batch_size`` expired open outcomes and resolve or label each by its rule."""
    statement = (
        select(*outcome_columns())
        .join(AgentAction, AgentAction.id == Outcome.action_id)
        .where(Outcome.status == OutcomeStatus.OPEN, Outcome.due_at <= now)
        .order_by(Outcome.due_at, Outcome.id)
        .limit(batch_size)
    )
    if is_postgresql(session):
        statement = statement.with_for_update(of=Outcome.__table__, skip_locked=True)
    rows = (await session.execute(statement)).all()
    resolutions = Resolutions(now)
    if not rows:
        return resolutions
    rules_by_org: dict[int, OutcomeRules] = {}
    for org_id in {row.organization_id for row in rows}:
        config = await session.scalar(select(Organization.config).where(Organization.id == org_id))
        rules_by_org[org_id] = rules_for(config)
    for row, state in zip(rows, states_from_rows(rows, lambda t: ""), strict=True):
        rules = rules_by_org[state.organization_id]
        state.calibrates = (
            rules.calibrating_plan(state.action_type).outcome_type == state.outcome_type
        )
        plan = rules.plan(state.action_type, state.outcome_type)
        expiry = plan.expiry if plan is not None else None
        if expiry is None:
            resolutions.needs_label(state, "the window expired; a person decides", signal_id=None)
        elif any(state.evidence.get(key) for key in expiry.ambiguous_if) or expiry.level is None:
            reason = expiry.label_reason or "the window expired; a person decides"
            resolutions.needs_label(state, reason, signal_id=None)
        else:
            resolutions.resolve(state, expiry.level, when=row.due_at, detection=Detection.AUTOMATIC)
    await resolutions.apply(session)
    return resolutions
