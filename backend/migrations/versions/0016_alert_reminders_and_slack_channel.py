"""Alert reminders (the rule's period, the alert's count and last time) and the rule's Slack
channel.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 07:00:44.819495
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.database

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slack_channel", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("remind_after_minutes", sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            "remind_after_minutes",
            "remind_after_minutes IS NULL OR remind_after_minutes BETWEEN 5 AND 10080",
        )

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reminders", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("reminded_at", backend.database.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.alter_column("reminders", existing_type=sa.Integer(), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("reminded_at")
        batch_op.drop_column("reminders")

    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.drop_constraint("remind_after_minutes", type_="check")
        batch_op.drop_column("remind_after_minutes")
        batch_op.drop_column("slack_channel")
