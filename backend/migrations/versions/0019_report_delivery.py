"""Report delivery: subscriptions get an agent (rep digests), a Slack channel, who changed them
and when they were unsubscribed; runs get their kind, due time, attempts and a lease (a run a
crashed worker left is taken over), and the statuses queued and skipped; report_deliveries is
the outbox of each run's e-mail and Slack post.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 12:16:53.705942
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.database

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD_STATUSES = "status IN ('pending', 'running', 'sent', 'failed')"
NEW_STATUSES = "status IN ('pending', 'running', 'queued', 'sent', 'failed', 'skipped')"


def upgrade() -> None:
    op.create_table(
        "report_deliveries",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", backend.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("slack_message", sa.JSON(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("sent_at", backend.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.String(length=300), nullable=True),
        sa.Column("created_at", backend.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("organization_id", ID, nullable=False),
        sa.CheckConstraint(
            "(status = 'sent') = (sent_at IS NOT NULL)", name=op.f("ck_report_deliveries_sent_at")
        ),
        sa.CheckConstraint(
            "channel IN ('email', 'slack')", name=op.f("ck_report_deliveries_channel")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_report_deliveries_status")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_report_deliveries_attempts")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_report_deliveries_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["report_runs.id"],
            name=op.f("fk_report_deliveries_run_id_report_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_report_deliveries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_deliveries")),
        sa.UniqueConstraint("run_id", "channel", name=op.f("uq_report_deliveries_run_id_channel")),
    )
    with op.batch_alter_table("report_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_deliveries_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_report_deliveries_run_id"), ["run_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_report_deliveries_status_next_attempt_at"),
            ["status", "next_attempt_at"],
            unique=False,
        )

    with op.batch_alter_table("report_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("due_at", backend.database.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.add_column(
            sa.Column("leased_until", backend.database.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_constraint(batch_op.f("ck_report_runs_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_report_runs_status"), NEW_STATUSES)
        batch_op.create_check_constraint(batch_op.f("ck_report_runs_attempts"), "attempts >= 0")
        batch_op.create_index(
            batch_op.f("ix_report_runs_status_leased_until"),
            ["status", "leased_until"],
            unique=False,
        )
    with op.batch_alter_table("report_runs", schema=None) as batch_op:
        # The default only filled the rows already there; the models give every new row one.
        batch_op.alter_column("attempts", server_default=None)

    with op.batch_alter_table("report_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_id", ID, nullable=True))
        batch_op.add_column(sa.Column("slack_channel", sa.String(length=80), nullable=True))
        batch_op.add_column(
            sa.Column("unsubscribed_at", backend.database.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("created_by_id", ID, nullable=True))
        batch_op.add_column(sa.Column("updated_by_id", ID, nullable=True))
        batch_op.add_column(
            sa.Column("updated_at", backend.database.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_report_subscriptions_agent_id_agents"),
            "agents",
            ["agent_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_report_subscriptions_created_by_id_users"),
            "users",
            ["created_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_report_subscriptions_updated_by_id_users"),
            "users",
            ["updated_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("report_subscriptions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_report_subscriptions_updated_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_report_subscriptions_created_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_report_subscriptions_agent_id_agents"), type_="foreignkey"
        )
        batch_op.drop_column("updated_at")
        batch_op.drop_column("updated_by_id")
        batch_op.drop_column("created_by_id")
        batch_op.drop_column("unsubscribed_at")
        batch_op.drop_column("slack_channel")
        batch_op.drop_column("agent_id")

    # Runs in the statuses this revision added cannot stay: they end as failed, with the reason.
    op.execute("UPDATE report_runs SET error = COALESCE(error, 'skipped') WHERE status = 'skipped'")
    op.execute("UPDATE report_runs SET status = 'failed' WHERE status = 'skipped'")
    op.execute("UPDATE report_runs SET status = 'running' WHERE status = 'queued'")
    with op.batch_alter_table("report_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_runs_status_leased_until"))
        batch_op.drop_constraint(batch_op.f("ck_report_runs_attempts"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_report_runs_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_report_runs_status"), OLD_STATUSES)
        batch_op.drop_column("leased_until")
        batch_op.drop_column("attempts")
        batch_op.drop_column("due_at")
        batch_op.drop_column("kind")

    with op.batch_alter_table("report_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_deliveries_status_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_report_deliveries_run_id"))
        batch_op.drop_index(batch_op.f("ix_report_deliveries_organization_id"))

    op.drop_table("report_deliveries")
