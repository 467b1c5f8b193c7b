"""prompts: feedback_prompts (a person asked to judge an action) and prompt_budgets (per day)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 23:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:

    op.create_table(
        "prompt_budgets",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("organization_id", ID, nullable=False),
        sa.CheckConstraint("used >= 0", name=op.f("ck_prompt_budgets_used")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_prompt_budgets_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_prompt_budgets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_budgets")),
        sa.UniqueConstraint("user_id", "day", name=op.f("uq_prompt_budgets_user_id_day")),
    )
    with op.batch_alter_table("prompt_budgets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_prompt_budgets_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "feedback_prompts",
        sa.Column("agent_id", ID, nullable=False),
        sa.Column("action_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_channel", sa.String(length=16), nullable=True),
        sa.Column("feedback_id", ID, nullable=True),
        sa.Column("id", ID, nullable=False),
        sa.Column("organization_id", ID, nullable=False),
        sa.CheckConstraint(
            "(state = 'answered') = (answered_at IS NOT NULL)",
            name=op.f("ck_feedback_prompts_answered_at"),
        ),
        sa.CheckConstraint(
            "answered_channel IN ('slack', 'gmail', 'dashboard', 'api')",
            name=op.f("ck_feedback_prompts_answered_channel"),
        ),
        sa.CheckConstraint(
            "reason IN ('critical_action', 'uncertain_confidence', 'outcome_disagreement')",
            name=op.f("ck_feedback_prompts_reason"),
        ),
        sa.CheckConstraint(
            "state IN ('open', 'answered', 'expired')", name=op.f("ck_feedback_prompts_state")
        ),
        sa.CheckConstraint("expires_at > created_at", name=op.f("ck_feedback_prompts_expires_at")),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["agent_actions.id"],
            name=op.f("fk_feedback_prompts_action_id_agent_actions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_feedback_prompts_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["feedback.id"],
            name=op.f("fk_feedback_prompts_feedback_id_feedback"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_feedback_prompts_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_feedback_prompts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_prompts")),
        sa.UniqueConstraint(
            "action_id", "user_id", name=op.f("uq_feedback_prompts_action_id_user_id")
        ),
    )
    with op.batch_alter_table("feedback_prompts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_prompts_agent_id"), ["agent_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_feedback_prompts_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_feedback_prompts_state_expires_at"),
            ["state", "expires_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_feedback_prompts_user_id_state_created_at"),
            ["user_id", "state", "created_at"],
            unique=False,
        )


def downgrade() -> None:

    with op.batch_alter_table("feedback_prompts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_prompts_user_id_state_created_at"))
        batch_op.drop_index(batch_op.f("ix_feedback_prompts_state_expires_at"))
        batch_op.drop_index(batch_op.f("ix_feedback_prompts_organization_id"))
        batch_op.drop_index(batch_op.f("ix_feedback_prompts_agent_id"))

    op.drop_table("feedback_prompts")
    with op.batch_alter_table("prompt_budgets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prompt_budgets_organization_id"))

    op.drop_table("prompt_budgets")
