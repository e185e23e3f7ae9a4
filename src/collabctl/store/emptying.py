"""Emptying a database for ``demo --reset``: every row of every collabctl table goes,
the audit log's included; the schema (tables, triggers, revision) stays as it is.

The audit log refuses DELETE and TRUNCATE by trigger, on purpose. Only the owner of the
tables can set that aside: on PostgreSQL the user triggers are disabled around one
TRUNCATE in the same transaction (an agent's role gets permission-denied); on SQLite
(no TRUNCATE) the triggers are dropped for the DELETE and created again from their own
text, in the same transaction. Either way a failure leaves everything as it was.
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

#: Kept: the schema revision is what the tables are, not data.
_KEEP = {"alembic_version"}


def empty_database(session: Session) -> list[str]:
    """Delete every row of every table but the schema revision, in the session's
    transaction (the caller commits); the tables emptied, in name order."""
    connection = session.connection()
    tables = sorted(name for name in inspect(connection).get_table_names() if name not in _KEEP)
    if not tables:
        return []
    if connection.dialect.name == "postgresql":
        quoted = [connection.dialect.identifier_preparer.quote(t) for t in tables]
        # the triggers that refuse a TRUNCATE of the audit log, off for this transaction
        # only (ALTER TABLE: the owner alone may, and every other session waits)
        for table in quoted:
            session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        session.execute(text(f"TRUNCATE TABLE {', '.join(quoted)} RESTART IDENTITY CASCADE"))
        for table in quoted:
            session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        return tables
    triggers = session.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql IS NOT NULL")
    ).all()
    quote = connection.dialect.identifier_preparer.quote
    # the rows reference each other: checked at commit, when none is left
    session.execute(text("PRAGMA defer_foreign_keys = ON"))
    for name, _sql in triggers:
        session.execute(text(f"DROP TRIGGER {quote(name)}"))
    for table in tables:
        session.execute(text(f"DELETE FROM {quote(table)}"))
    has_sequence = session.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'")
    ).first()
    if has_sequence:
        session.execute(text("DELETE FROM sqlite_sequence"))
    for _name, sql in triggers:
        connection.exec_driver_sql(sql)  # as written: no bind parameters in it
    return tables
