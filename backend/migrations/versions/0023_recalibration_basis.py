"""recalibration basis: why each stored recalibration map is the one in use (pooled with the
agent's siblings or its own, the pooled weight, the leave-one-out evidence of each candidate)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 15:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calibration_verdicts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recalibration_basis", sa.JSON(), nullable=False, server_default="{}")
        )


def downgrade() -> None:
    with op.batch_alter_table("calibration_verdicts", schema=None) as batch_op:
        batch_op.drop_column("recalibration_basis")
