"""audit trust: db_user, hash chains, append-only triggers

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 09:00:00.000000

Every audit event gets ``db_user`` (who the database says wrote it),
``prev_hash`` and ``hash`` (collabctl.store.chain). The events already in the
log are chained here, in id order, company by company, before the triggers
that make the table append-only exist; their ``db_user`` stays unknown (NULL).

On SQLite a migration that rebuilds ``audit_event`` (batch mode copies the
table) drops its triggers with the old table and must create them again.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from collabctl.domain.audit_chain import chain_key, event_hash

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BATCH = 5000

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused');
END""",
    """CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused');
END""",
)

_POSTGRES_TRIGGERS = (
    # db_user is the database's own account of who connected; a client cannot set it
    """CREATE FUNCTION audit_event_set_db_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.db_user := session_user;
    RETURN NEW;
END
$$""",
    """CREATE TRIGGER audit_event_db_user BEFORE INSERT ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_set_db_user()""",
    """CREATE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$""",
    """CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()""",
    """CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change()""",
)


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("db_user", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(
            sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    _chain_existing_events(op.get_bind())
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column(
            "hash", existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        )
        batch_op.create_index("ix_audit_event_chain", ["customer_number", "id"], unique=False)
    triggers = _POSTGRES_TRIGGERS if _postgres() else _SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if _postgres():
        op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER audit_event_append_only ON audit_event")
        op.execute("DROP TRIGGER audit_event_db_user ON audit_event")
        op.execute("DROP FUNCTION audit_event_refuse_change()")
        op.execute("DROP FUNCTION audit_event_set_db_user()")
    else:
        op.execute("DROP TRIGGER audit_event_no_update")
        op.execute("DROP TRIGGER audit_event_no_delete")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_chain")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("db_user")


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _chain_existing_events(bind: sa.Connection) -> None:
    """Chain the events already recorded, in id order: a few thousand at a time."""
    select = sa.text(
        "SELECT id, at, actor, db_user, scope, action, customer_number, service, details "
        "FROM audit_event WHERE id > :last ORDER BY id LIMIT :batch"
    )
    update = sa.text("UPDATE audit_event SET prev_hash = :prev_hash, hash = :hash WHERE id = :id")
    heads: dict[str, str] = {}
    last = 0
    while True:
        rows = bind.execute(select, {"last": last, "batch": _BATCH}).all()
        if not rows:
            return
        updates: list[dict[str, Any]] = []
        for row in rows:
            event = dict(row._mapping)
            if isinstance(event["details"], str | bytes):  # SQLite returns the JSON text
                event["details"] = json.loads(event["details"])
            key = chain_key(event["customer_number"])
            prev = heads.get(key)
            heads[key] = event_hash(event, prev)
            updates.append({"id": event["id"], "prev_hash": prev, "hash": heads[key]})
        bind.execute(update, updates)
        last = rows[-1].id
