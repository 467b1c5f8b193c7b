"""Alerts in Slack: where each alert's message is (per channel or person) and the outbox of its
changes to show (post, update, reminder in the thread).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 07:03:17.258635
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.database

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_alert_messages",
        sa.Column("alert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("target", sa.String(length=80), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("channel", sa.String(length=80), nullable=True),
        sa.Column("ts", sa.String(length=40), nullable=True),
        sa.Column("posted_at", backend.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", backend.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", backend.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.CheckConstraint(
            "(channel IS NULL) = (ts IS NULL)", name=op.f("ck_slack_alert_messages_posted")
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_slack_alert_messages_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_slack_alert_messages_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_slack_alert_messages_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_alert_messages")),
        sa.UniqueConstraint(
            "alert_id", "target", name=op.f("uq_slack_alert_messages_alert_id_target")
        ),
    )
    with op.batch_alter_table("slack_alert_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_slack_alert_messages_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "slack_alert_deliveries",
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", backend.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("sent_at", backend.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", backend.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.CheckConstraint(
            "(status = 'sent') = (sent_at IS NOT NULL)",
            name=op.f("ck_slack_alert_deliveries_sent_at"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_slack_alert_deliveries_status")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_slack_alert_deliveries_attempts")),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["slack_alert_messages.id"],
            name=op.f("fk_slack_alert_deliveries_message_id_slack_alert_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_slack_alert_deliveries_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_alert_deliveries")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_slack_alert_deliveries_idempotency_key")
        ),
    )
    with op.batch_alter_table("slack_alert_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_slack_alert_deliveries_message_id"), ["message_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_slack_alert_deliveries_organization_id"),
            ["organization_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_slack_alert_deliveries_status_next_attempt_at"),
            ["status", "next_attempt_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("slack_alert_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_alert_deliveries_status_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_slack_alert_deliveries_organization_id"))
        batch_op.drop_index(batch_op.f("ix_slack_alert_deliveries_message_id"))

    op.drop_table("slack_alert_deliveries")
    with op.batch_alter_table("slack_alert_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_alert_messages_organization_id"))

    op.drop_table("slack_alert_messages")
