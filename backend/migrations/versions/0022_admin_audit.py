"""admin audit: every administrative change (organisations, teams, people invited or
deactivated, agents, API keys created, rotated or revoked): who, when, what, to which row

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 15:10:33.315001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.database

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_audit",
        sa.Column("change", sa.String(length=32), nullable=False),
        sa.Column(
            "actor_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "actor_api_client_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column(
            "target_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("at", backend.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.CheckConstraint(
            "change IN ('organization.created', 'team.created', 'user.invited', 'user.deactivated', 'agent.created', 'agent.deactivated', 'api_key.created', 'api_key.rotated', 'api_key.revoked')",
            name=op.f("ck_admin_audit_change"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_admin_audit_actor_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_admin_audit_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_audit")),
    )
    with op.batch_alter_table("admin_audit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_admin_audit_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_admin_audit_organization_id_at"), ["organization_id", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("admin_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_audit_organization_id_at"))
        batch_op.drop_index(batch_op.f("ix_admin_audit_organization_id"))

    op.drop_table("admin_audit")
