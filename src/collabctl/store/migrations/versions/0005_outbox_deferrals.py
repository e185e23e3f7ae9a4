"""outbox deferrals: temporary failures wait with backoff instead of counting attempts

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-07 05:00:00.000000

``deferrals`` counts the temporary failures of a message (server unreachable,
connection dropped, a 4xx reply) and ``next_attempt_at`` says when it is due
again (1 minute, doubling, at most 1 hour). A message is ``failed`` only after
a permanent refusal or once it expired (``notify_expire_hours`` after it was
queued, or put back by ``notify retry``: ``queued_at``); ``cancelled`` messages are never sent.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deferrals", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("next_attempt_at", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column("queued_at", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("queued_at")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("deferrals")
