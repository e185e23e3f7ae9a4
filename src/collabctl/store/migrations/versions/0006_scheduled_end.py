"""scheduled ends (end --at, schedule run)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _text(length: int | None = None) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "scheduled_end",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collaboration_id", sa.Integer(), nullable=False),
        sa.Column("customer_number", _text(10), nullable=False),
        sa.Column("service", _text(40), nullable=False),
        sa.Column("office_org_number", _text(11), nullable=False),
        sa.Column("outcome", _text(20), nullable=False),
        sa.Column("ended_by", _text(10), nullable=False),
        sa.Column("confirm", sa.JSON(), nullable=False),
        sa.Column("force", sa.Boolean(), nullable=False),
        sa.Column("reason", _text(), nullable=True),
        sa.Column("ends_on", _text(10), nullable=False),
        sa.Column("due_at", _text(32), nullable=False),
        sa.Column("state", _text(10), nullable=False),
        sa.Column("scheduled_by", _text(), nullable=False),
        sa.Column("scope", _text(40), nullable=False),
        sa.Column("created_at", _text(32), nullable=False),
        sa.Column("error", _text(), nullable=True),
        sa.Column("claimed_by", _text(200), nullable=True),
        sa.Column("claimed_at", _text(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["collaboration_id"],
            ["collaboration.id"],
            name=op.f("fk_scheduled_end_collaboration_id_collaboration"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_number"],
            ["company.customer_number"],
            name=op.f("fk_scheduled_end_customer_number_company"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_end")),
    )
    with op.batch_alter_table("scheduled_end", schema=None) as batch_op:
        batch_op.create_index("ix_scheduled_end_due", ["state", "due_at", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_scheduled_end_customer_number"), ["customer_number"], unique=False
        )
        # at most one scheduled end per collaboration, also when two agents race
        batch_op.create_index(
            "uq_scheduled_end_collaboration",
            ["collaboration_id"],
            unique=True,
            sqlite_where=sa.text("state = 'scheduled'"),
            postgresql_where=sa.text("state = 'scheduled'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("scheduled_end", schema=None) as batch_op:
        batch_op.drop_index("uq_scheduled_end_collaboration")
        batch_op.drop_index(batch_op.f("ix_scheduled_end_customer_number"))
        batch_op.drop_index("ix_scheduled_end_due")
    op.drop_table("scheduled_end")
