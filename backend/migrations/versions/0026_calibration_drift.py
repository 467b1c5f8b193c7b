"""calibration monitors follow drift: each agent's change detector, the first day of its new
self after a change, the day that revealed it, and its map before the change (the prior its
refit leans on)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 23:07:55.610037
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calibration_monitors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("drift", sa.JSON(), server_default="{}", nullable=False))
        batch_op.add_column(sa.Column("changed_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("change_found_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("change_prior", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("changes", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("calibration_monitors", schema=None) as batch_op:
        batch_op.drop_column("changes")
        batch_op.drop_column("change_prior")
        batch_op.drop_column("change_found_on")
        batch_op.drop_column("changed_on")
        batch_op.drop_column("drift")
