"""feedback: one rating per person and target

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Unique (author, target) per target type; NULL targets never collide on either database.
TARGETS = ("message_id", "action_id", "conversation_id")


def upgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        for target in TARGETS:
            batch_op.create_index(
                batch_op.f(f"ix_feedback_author_id_{target}"), ["author_id", target], unique=True
            )


def downgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        for target in reversed(TARGETS):
            batch_op.drop_index(batch_op.f(f"ix_feedback_author_id_{target}"))
