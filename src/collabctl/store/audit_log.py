"""Reading the audit log for ``log --verify``: every chain in order, and what the walk
needs from the database around it (collabctl.operations.verify judges what it reads).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from collabctl.domain.audit_chain import FIELDS

_COLUMNS = "id, " + ", ".join(FIELDS) + ", prev_hash, hash"
_NO_COMPANY_SQL = f"SELECT {_COLUMNS} FROM audit_event WHERE customer_number IS NULL ORDER BY id"
_COMPANIES_SQL = (
    f"SELECT {_COLUMNS} FROM audit_event WHERE customer_number IS NOT NULL "
    "ORDER BY customer_number, id"
)
_MAX_ID_SQL = "SELECT max(id) FROM audit_event"
#: the transactions (other than this one) that hold a lock on the audit table of this
#: database in a mode that writes to it: every INSERT holds one until its transaction ends
_PG_WRITERS = (
    "SELECT l.virtualtransaction FROM pg_locks l"
    " WHERE l.locktype = 'relation' AND l.relation = CAST('audit_event' AS regclass)"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND l.mode <> 'AccessShareLock' AND l.pid <> pg_backend_pid()"
)
_PG_OPEN_WRITERS_SQL = (
    f"SELECT (SELECT max(id) FROM audit_event), ARRAY(SELECT DISTINCT w.virtualtransaction"
    f" FROM ({_PG_WRITERS}) AS w(virtualtransaction))"
)
_PG_STILL_OPEN_SQL = (
    f"SELECT count(DISTINCT w.virtualtransaction) FROM ({_PG_WRITERS}) AS w(virtualtransaction)"
    " WHERE w.virtualtransaction = ANY(CAST(:xids AS text[]))"
)
_BY_HASH_SQL = "SELECT id, customer_number FROM audit_event WHERE hash = :hash ORDER BY id LIMIT 1"


def open_writers(session: Session) -> tuple[int | None, list[str]]:
    """PostgreSQL: the newest event id, and the transactions writing to the audit table
    of this database now (which may hold a lower id and commit it later)."""
    through, xids = session.execute(text(_PG_OPEN_WRITERS_SQL)).one()
    return through, list(xids or [])


def still_open(session: Session, xids: list[str]) -> int:
    """PostgreSQL: how many of the transactions ``xids`` still write to the audit table."""
    return int(session.execute(text(_PG_STILL_OPEN_SQL), {"xids": xids}).scalar_one())


def one_snapshot(session: Session) -> None:
    """PostgreSQL: every later query of the session's transaction reads one snapshot."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )


def max_event_id(session: Session) -> int:
    return int(session.execute(text(_MAX_ID_SQL)).scalar() or 0)


def chain_events(session: Session, rows_per_fetch: int) -> Iterator[Any]:
    """Every event as (id, the fields of the canonical encoding in order, prev_hash, hash):
    the chain without a company first, then each company's chain in customer-number
    order, each in id order; streamed ``rows_per_fetch`` rows at a time."""
    for sql in (_NO_COMPANY_SQL, _COMPANIES_SQL):
        yield from session.execute(text(sql), execution_options={"yield_per": rows_per_fetch})


def event_by_hash(session: Session, hash_: str) -> tuple[int, str | None] | None:
    """The first event whose hash is ``hash_``: its id and customer number."""
    found = session.execute(text(_BY_HASH_SQL), {"hash": hash_}).first()
    return None if found is None else (found[0], found[1])
