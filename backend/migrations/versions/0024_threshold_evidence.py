"""threshold evidence: what each policy's thresholds have gathered from matured outcomes since
they last moved (their dead bands), apart from the policy so that evidence makes no version;
organisations' policy targets renamed for the dead band (``max_step`` -> ``step``, the
``hysteresis`` a dead band replaces dropped); the policies' copy of the recalibration map
dropped (the map in force is the calibration verdict's)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 20:32:49.018167
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.database

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_organizations = sa.table("organizations", sa.column("id"), sa.column("config", sa.JSON()))


def _rename_target_keys(renamed: dict[str, str], *, drop: tuple[str, ...]) -> None:
    """Rewrite ``config["policy"][type]["target"]`` of every organisation that has one. Printed
    as SQL (offline), it cannot read the rows: the script says what to do by hand."""
    if op.get_context().as_sql:
        op.execute(
            f"-- organisations' config.policy.<type>.target: rename {renamed}, drop {drop} "
            "(by hand: this step reads rows)"
        )
        return
    bind = op.get_bind()
    for id_, config in bind.execute(sa.select(_organizations.c.id, _organizations.c.config)):
        policy = (config or {}).get("policy") or {}
        changed = False
        for override in policy.values():
            target = override.get("target") if isinstance(override, dict) else None
            if not isinstance(target, dict):
                continue
            for old, new in renamed.items():
                if old in target:
                    target[new] = target.pop(old)
                    changed = True
            for key in drop:
                changed = target.pop(key, None) is not None or changed
        if changed:
            bind.execute(
                _organizations.update().where(_organizations.c.id == id_).values(config=config)
            )


def upgrade() -> None:
    op.create_table(
        "threshold_evidence",
        sa.Column(
            "policy_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("action_type", sa.String(length=40), nullable=False),
        sa.Column("through", sa.Date(), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", backend.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_threshold_evidence_version")),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_threshold_evidence_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_threshold_evidence_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["agent_policies.id"],
            name=op.f("fk_threshold_evidence_policy_id_agent_policies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_threshold_evidence")),
        sa.UniqueConstraint("policy_id", name=op.f("uq_threshold_evidence_policy_id")),
    )
    with op.batch_alter_table("threshold_evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_threshold_evidence_organization_id"), ["organization_id"], unique=False
        )

    _rename_target_keys({"max_step": "step"}, drop=("hysteresis",))
    with op.batch_alter_table("agent_policies", schema=None) as batch_op:
        batch_op.drop_column("recalibration")


def downgrade() -> None:
    _rename_target_keys({"step": "max_step"}, drop=("margin", "width", "alpha"))
    with op.batch_alter_table("agent_policies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recalibration", sa.JSON(), nullable=False, server_default="{}")
        )
    with op.batch_alter_table("threshold_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_threshold_evidence_organization_id"))

    op.drop_table("threshold_evidence")
