"""coaching insights reshaped: a team's insight with its outcome type, audience, advice,
test, evidence (n, candidates tested, FDR, example actions), expiry, the manager's decision
(acted on or dismissed: who, when, a note) and the effect measured after acting on it; a rerun
over the same period finds the same row. Nothing wrote the old table, so it is rebuilt.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 04:25:02.970521
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.database import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _drop_old() -> None:
    with op.batch_alter_table("coaching_insights", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coaching_insights_organization_id"))
    op.drop_table("coaching_insights")


def upgrade() -> None:
    _drop_old()
    op.create_table(
        "coaching_insights",
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("outcome_type", sa.String(length=40), nullable=False),
        sa.Column("feature", sa.String(length=64), nullable=False),
        sa.Column("feature_value", sa.String(length=200), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("audience", sa.String(length=8), nullable=False),
        sa.Column("statement", sa.String(length=1000), nullable=False),
        sa.Column("advice", sa.String(length=1000), nullable=False),
        sa.Column("measure", sa.String(length=16), nullable=False),
        sa.Column("support", sa.Integer(), nullable=False),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("baseline_rate", sa.Float(), nullable=False),
        sa.Column("difference", sa.Float(), nullable=False),
        sa.Column("ci_low", sa.Float(), nullable=False),
        sa.Column("ci_high", sa.Float(), nullable=False),
        sa.Column("confidence_level", sa.Float(), nullable=False),
        sa.Column("lift", sa.Float(), nullable=True),
        sa.Column("p_value", sa.Float(), nullable=False),
        sa.Column("q_value", sa.Float(), nullable=False),
        sa.Column("test", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "decided_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("decision_note", sa.String(length=1000), nullable=True),
        sa.Column("follow_up_n", sa.Integer(), nullable=True),
        sa.Column("follow_up_rate", sa.Float(), nullable=True),
        sa.Column("follow_up_before_rate", sa.Float(), nullable=True),
        sa.Column("follow_up_difference", sa.Float(), nullable=True),
        sa.Column("follow_up_ci_low", sa.Float(), nullable=True),
        sa.Column("follow_up_ci_high", sa.Float(), nullable=True),
        sa.Column("follow_up_p_value", sa.Float(), nullable=True),
        sa.Column("follow_up_share", sa.Float(), nullable=True),
        sa.Column("follow_up_before_share", sa.Float(), nullable=True),
        sa.Column("follow_up_period_end", sa.Date(), nullable=True),
        sa.Column("follow_up_measured_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.CheckConstraint(
            "(status IN ('acted_on', 'dismissed') AND decided_at IS NOT NULL) OR (status IN ('new', 'expired') AND decided_at IS NULL)",
            name=op.f("ck_coaching_insights_decided_at__decided"),
        ),
        sa.CheckConstraint(
            "audience IN ('manager', 'rep')", name=op.f("ck_coaching_insights_audience")
        ),
        sa.CheckConstraint(
            "direction IN ('higher', 'lower')", name=op.f("ck_coaching_insights_direction")
        ),
        sa.CheckConstraint(
            "measure IN ('success_rate', 'mean_outcome')", name=op.f("ck_coaching_insights_measure")
        ),
        sa.CheckConstraint(
            "status IN ('new', 'acted_on', 'dismissed', 'expired')",
            name=op.f("ck_coaching_insights_status"),
        ),
        sa.CheckConstraint(
            "baseline_rate >= 0 AND baseline_rate <= 1",
            name=op.f("ck_coaching_insights_baseline_rate"),
        ),
        sa.CheckConstraint("ci_low <= ci_high", name=op.f("ck_coaching_insights_ci_high")),
        sa.CheckConstraint(
            "confidence_level >= 0 AND confidence_level <= 1",
            name=op.f("ck_coaching_insights_confidence_level"),
        ),
        sa.CheckConstraint(
            "decision_note IS NULL OR length(decision_note) <= 1000",
            name=op.f("ck_coaching_insights_decision_note"),
        ),
        sa.CheckConstraint(
            "follow_up_before_rate IS NULL OR (follow_up_before_rate >= 0 AND follow_up_before_rate <= 1)",
            name=op.f("ck_coaching_insights_follow_up_before_rate"),
        ),
        sa.CheckConstraint(
            "follow_up_rate IS NULL OR (follow_up_rate >= 0 AND follow_up_rate <= 1)",
            name=op.f("ck_coaching_insights_follow_up_rate"),
        ),
        sa.CheckConstraint(
            "p_value >= 0 AND p_value <= 1", name=op.f("ck_coaching_insights_p_value")
        ),
        sa.CheckConstraint(
            "period_end >= period_start", name=op.f("ck_coaching_insights_period_end")
        ),
        sa.CheckConstraint(
            "q_value >= 0 AND q_value <= 1", name=op.f("ck_coaching_insights_q_value")
        ),
        sa.CheckConstraint("rate >= 0 AND rate <= 1", name=op.f("ck_coaching_insights_rate")),
        sa.CheckConstraint("sample_size > support", name=op.f("ck_coaching_insights_sample_size")),
        sa.CheckConstraint("support > 0", name=op.f("ck_coaching_insights_support")),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_coaching_insights_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_coaching_insights_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_coaching_insights_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coaching_insights")),
        sa.UniqueConstraint(
            "team_id",
            "outcome_type",
            "feature",
            "feature_value",
            "period_end",
            name="uq_coaching_insights_period",
        ),
    )
    with op.batch_alter_table("coaching_insights", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coaching_insights_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            "ix_coaching_insights_team_list",
            ["organization_id", "team_id", "status", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("coaching_insights", schema=None) as batch_op:
        batch_op.drop_index("ix_coaching_insights_team_list")
        batch_op.drop_index(batch_op.f("ix_coaching_insights_organization_id"))
    op.drop_table("coaching_insights")
    op.create_table(
        "coaching_insights",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("action_type", sa.String(length=40), nullable=True),
        sa.Column("feature", sa.String(length=64), nullable=False),
        sa.Column("feature_value", sa.String(length=200), nullable=False),
        sa.Column("statement", sa.String(length=1000), nullable=False),
        sa.Column("support", sa.Integer(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("baseline_rate", sa.Float(), nullable=False),
        sa.Column("difference", sa.Float(), nullable=False),
        sa.Column("ci_low", sa.Float(), nullable=False),
        sa.Column("ci_high", sa.Float(), nullable=False),
        sa.Column("lift", sa.Float(), nullable=True),
        sa.Column("p_value", sa.Float(), nullable=False),
        sa.Column("q_value", sa.Float(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('new', 'acknowledged', 'dismissed')",
            name=op.f("ck_coaching_insights_status"),
        ),
        sa.CheckConstraint(
            "baseline_rate >= 0 AND baseline_rate <= 1",
            name=op.f("ck_coaching_insights_baseline_rate"),
        ),
        sa.CheckConstraint("ci_low <= ci_high", name=op.f("ck_coaching_insights_ci_high")),
        sa.CheckConstraint(
            "p_value >= 0 AND p_value <= 1", name=op.f("ck_coaching_insights_p_value")
        ),
        sa.CheckConstraint(
            "period_end >= period_start", name=op.f("ck_coaching_insights_period_end")
        ),
        sa.CheckConstraint(
            "q_value >= 0 AND q_value <= 1", name=op.f("ck_coaching_insights_q_value")
        ),
        sa.CheckConstraint("rate >= 0 AND rate <= 1", name=op.f("ck_coaching_insights_rate")),
        sa.CheckConstraint("support > 0", name=op.f("ck_coaching_insights_support")),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_coaching_insights_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_coaching_insights_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_coaching_insights_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coaching_insights")),
    )
    with op.batch_alter_table("coaching_insights", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coaching_insights_organization_id"), ["organization_id"], unique=False
        )
