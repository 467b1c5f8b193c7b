"""Indexes for two alert metrics: the organisation's labelling queue (outcomes by status) and
the prompts due in a window for a team or agent (prompts by agent and expiry).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 07:13:49.151356
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feedback_prompts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_prompts_agent_id_expires_at"),
            ["agent_id", "expires_at"],
            unique=False,
        )
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outcomes_organization_id_status"),
            ["organization_id", "status"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outcomes_organization_id_status"))
    with op.batch_alter_table("feedback_prompts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_prompts_agent_id_expires_at"))
