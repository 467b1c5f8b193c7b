"""calibration bins: calibration_stats rebuilt with scikit-learn's bins (each holds its upper edge)

The engine's bins moved from ``floor(p · 20)`` (each bin holding its lower edge) to
scikit-learn's ``calibration_curve`` edges (each holding its upper edge): a confidence on an edge,
such as 0.7 or 0.85, now counts one bin lower. The per-bin sums cannot be moved from bin to bin,
so the table is rebuilt from what it sums: every resolved outcome that calibrates its action
(the outcome type the action type's confidence is about), with the action's confidence and the
UTC day the action was taken, as ``backend.outcomes.resolution.ResolvedPrediction`` and
``backend.calibration.rollup`` count them. Read in batches by outcome id; downgrade rebuilds it
with the old bins.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 00:40:00.000000
"""

import datetime as dt
from collections.abc import Callable, Iterator, Sequence

import sqlalchemy as sa
from alembic import op

from analytics_engine.calibration import STAT_FIELDS, bin_index, contribution
from backend.database import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BINS = 20  # backend.calibration.models.CALIBRATION_BINS
BATCH = 10_000
KEY_FIELDS = ("organization_id", "agent_id", "action_type", "day", "bin")
# The outcome type each action type's confidence is about, at this revision
# (backend.outcomes.rules: the plans with calibrates=True; organisations cannot change them).
CALIBRATING = {
    "email": "email_reply",
    "follow_up": "email_reply",
    "meeting": "meeting_attendance",
    "escalation": "escalation_quality",
    "stage_progression": "deal_progression",
}
FALLBACK = "task_success"  # any other action type

outcomes = sa.table(
    "outcomes",
    sa.column("id", sa.BigInteger()),
    sa.column("organization_id", sa.BigInteger()),
    sa.column("agent_id", sa.BigInteger()),
    sa.column("action_id", sa.BigInteger()),
    sa.column("action_type", sa.String()),
    sa.column("outcome_type", sa.String()),
    sa.column("status", sa.String()),
    sa.column("value", sa.Float()),
)
actions = sa.table(
    "agent_actions",
    sa.column("id", sa.BigInteger()),
    sa.column("confidence", sa.Float()),
    sa.column("occurred_at", UTCDateTime()),
)
calibration_stats = sa.table(
    "calibration_stats",
    *(sa.column(name) for name in KEY_FIELDS),
    *(sa.column(name) for name in STAT_FIELDS),
)

Key = tuple[int, int, str, dt.date, int]


def _calibrating_outcomes() -> sa.ColumnElement[bool]:
    by_outcome: dict[str, list[str]] = {}
    for action_type, outcome_type in CALIBRATING.items():
        by_outcome.setdefault(outcome_type, []).append(action_type)
    return sa.or_(
        *(
            sa.and_(outcomes.c.outcome_type == o, outcomes.c.action_type.in_(a))
            for o, a in by_outcome.items()
        ),
        sa.and_(
            outcomes.c.outcome_type == FALLBACK, outcomes.c.action_type.not_in(list(CALIBRATING))
        ),
    )


def _predictions(
    connection: sa.Connection,
) -> Iterator[tuple[int, int, str, dt.date, float, float]]:
    """(organisation, agent, action type, day, p, y) of every calibrating resolved outcome."""
    last_id = None
    while True:
        statement = (
            sa.select(
                outcomes.c.id,
                outcomes.c.organization_id,
                outcomes.c.agent_id,
                outcomes.c.action_type,
                actions.c.occurred_at,
                actions.c.confidence,
                outcomes.c.value,
            )
            .join(actions, actions.c.id == outcomes.c.action_id)
            .where(outcomes.c.status == "resolved", _calibrating_outcomes())
            .order_by(outcomes.c.id)
            .limit(BATCH)
        )
        if last_id is not None:
            statement = statement.where(outcomes.c.id > last_id)
        rows = connection.execute(statement).all()
        for _, org, agent, action_type, occurred_at, p, y in rows:
            yield org, agent, action_type, occurred_at.date(), float(p), float(y)
        if len(rows) < BATCH:
            return
        last_id = rows[-1][0]


def _rebuild(bin_of: Callable[[float], int]) -> None:
    connection = op.get_bind()
    sums: dict[Key, list[float]] = {}
    for org, agent, action_type, day, p, y in _predictions(connection):
        terms = contribution(p, y, n_bins=BINS).as_dict()
        key = (org, agent, action_type, day, bin_of(p))
        total = sums.get(key)
        if total is None:
            sums[key] = [terms[name] for name in STAT_FIELDS]
        else:
            for i, name in enumerate(STAT_FIELDS):
                total[i] += terms[name]
    connection.execute(sa.delete(calibration_stats))
    rows = []
    for key in sorted(sums):
        row: dict[str, object] = dict(zip(KEY_FIELDS, key, strict=True))
        row.update(zip(STAT_FIELDS, sums[key], strict=True))
        row["count"] = round(sums[key][0])
        rows.append(row)
    for start in range(0, len(rows), BATCH):
        connection.execute(sa.insert(calibration_stats), rows[start : start + BATCH])


def _scikit_learn_bin(p: float) -> int:
    return int(bin_index(p, n_bins=BINS))


def _floor_bin(p: float) -> int:
    return min(int(p * BINS), BINS - 1)


def upgrade() -> None:
    _rebuild(_scikit_learn_bin)


def downgrade() -> None:
    _rebuild(_floor_bin)
