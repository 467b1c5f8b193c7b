"""calibration monitors: each scope's anytime-valid calibration e-process (an agent, or the
organisation, and action type), fed the matured days' outcomes in the actions' order; a stored
verdict acts only once it confirms it

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 21:02:32.237506
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.database

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calibration_monitors",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("scope_key", sa.String(length=40), nullable=False),
        sa.Column("action_type", sa.String(length=40), nullable=False),
        sa.Column("through", sa.Date(), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", backend.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.CheckConstraint(
            "(scope = 'agent' AND agent_id IS NOT NULL) OR (scope = 'organization' AND agent_id IS NULL)",
            name=op.f("ck_calibration_monitors_agent_id"),
        ),
        sa.CheckConstraint(
            "scope IN ('agent', 'organization')", name=op.f("ck_calibration_monitors_scope")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_calibration_monitors_version")),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_calibration_monitors_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_calibration_monitors_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_monitors")),
        sa.UniqueConstraint(
            "organization_id",
            "scope_key",
            "action_type",
            name=op.f("uq_calibration_monitors_organization_id_scope_key_action_type"),
        ),
    )
    with op.batch_alter_table("calibration_monitors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_calibration_monitors_organization_id"), ["organization_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("calibration_monitors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calibration_monitors_organization_id"))

    op.drop_table("calibration_monitors")
