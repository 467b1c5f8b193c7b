"""signals: idempotent per writer, so no principal can squat another's event ids

A signal was unique per (organisation, source, external id): an agent key that recorded
`source: "email_provider", externalId: "esp-1"` first made the provider's own event with that id
a duplicate. Each signal now names its writer (`webhook`, `key:<api client id>`, `user:<id>`)
and is unique per (organisation, writer, source, external id). Signals stored before this
revision are counted as the webhooks' (a provider's late retry of one stays a duplicate).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 15:02:38.658510
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("writer", sa.String(length=64), nullable=False, server_default="webhook")
        )
        batch_op.drop_constraint(
            batch_op.f("uq_signals_organization_id_source_external_id"), type_="unique"
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_signals_organization_id_writer_source_external_id"),
            ["organization_id", "writer", "source", "external_id"],
        )
    # The default only filled the rows already there: every writer names itself from now on.
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.alter_column("writer", server_default=None)


def downgrade() -> None:
    # The older key holds one signal per (organisation, source, external id): keep the first.
    op.execute(
        "DELETE FROM signals WHERE id NOT IN "
        "(SELECT MIN(id) FROM signals GROUP BY organization_id, source, external_id)"
    )
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_signals_organization_id_writer_source_external_id"), type_="unique"
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_signals_organization_id_source_external_id"),
            ["organization_id", "source", "external_id"],
        )
        batch_op.drop_column("writer")
