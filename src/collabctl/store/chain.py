"""The audit chain in the database: reading and locking the head a new event links to.

The hash format (canonical encoding, event hash, the digest of the chain
heads) is pure code in :mod:`collabctl.domain.audit_chain`; this module reads
who is writing, when, and the head of an event's chain, under the lock that
every writer of the chain takes.

The next link of a chain is read under a lock that every writer of the chain
takes, in the transaction that inserts the event, so two writers never link to
the same predecessor: on PostgreSQL the company's row lock (``SELECT ... FOR
UPDATE``, :func:`collabctl.store.locks.lock_companies`, which every change of a
company already takes), and an advisory
transaction lock for the chain without a company (and for a company without a
row); on SQLite the database's single write lock. Writers on different
companies therefore never wait for each other.

**On PostgreSQL the database owns an event's order and time** (schema 0004):
a trigger on insert takes an advisory lock of the chain (its own, taken also
when the client holds the company's row lock or the lock below), refuses an
event whose ``prev_hash`` is not the head of its chain (SQLSTATE 40001, so an
honest writer that lost a race runs again), then sets ``id`` from the table's
sequence (whatever the client sent: ids of a chain ascend in the order its
events were committed), ``at`` to the transaction's start by the server's
clock (:data:`PG_AT`) and ``db_user`` to ``session_user`` (the login, which
``SET ROLE`` does not change). An ``at`` or ``db_user`` the client sends that
differs from those is refused (SQLSTATE 23514), so an event never lands with a
hash taken over other values. The hash is computed here, so the client reads
``session_user`` and :data:`PG_AT` in the same statement as the chain head
and hashes exactly what the trigger stores. On SQLite ``db_user`` is the
operating system account of the process's real uid and ``at`` the client's.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from collabctl.domain.audit_chain import NO_COMPANY, chain_key, event_hash
from collabctl.store.locks import lock_companies

if TYPE_CHECKING:
    from collabctl.store.statements import Statements

#: First key of PostgreSQL's two-key advisory locks (pg_advisory_xact_lock(int, int))
#: that serialise a chain without a company row: "aud" in ASCII.
_LOCK_CLASS = 0x617564


# -- linking a new event ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    """Where a new event joins its chain: who the database says is writing, and the head.

    ``at``: the event's time as the database sets it (PostgreSQL), None when the
    writer's own time stands (SQLite).
    """

    db_user: str
    prev_hash: str | None
    at: str | None = None


#: An event's time on PostgreSQL: the start of the writing transaction by the server's
#: clock, written as collabctl writes every time (the trigger of schema 0004 uses the
#: same expression; one value for the whole transaction, so the client can read it first)
PG_AT = "to_char(transaction_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"


_HEAD_SQL = "SELECT hash FROM audit_event WHERE customer_number = :number ORDER BY id DESC LIMIT 1"
_HEAD_NO_COMPANY_SQL = (
    "SELECT hash FROM audit_event WHERE customer_number IS NULL ORDER BY id DESC LIMIT 1"
)
_PG_HEAD_SQL = f"SELECT session_user, {PG_AT}, ({_HEAD_SQL})"
_PG_HEAD_NO_COMPANY_SQL = f"SELECT session_user, {PG_AT}, ({_HEAD_NO_COMPANY_SQL})"
#: who is writing and when, as the trigger will set it (asked once per transaction)
PG_WHO_SQL = f"SELECT session_user, {PG_AT}"
_PG_ADVISORY_LOCK_SQL = "SELECT pg_advisory_xact_lock(:lock_class, :lock_key)"


def transaction_time(sql: Statements) -> str | None:
    """The time the database gives the events of this transaction (PostgreSQL), so that
    the other times a change stores (``ended_at``, ``records_changed_at``) are the same
    as its event's; None on SQLite, where the writer's clock stands."""
    if not sql.postgres:
        return None
    return str(sql.execute(PG_WHO_SQL).fetchone()[1])


def lock_key(key: str) -> int:
    """A chain's second advisory lock key: a signed 32-bit number derived from its key."""
    return int(struct.unpack(">i", hashlib.sha256(key.encode()).digest()[:4])[0])


def next_link(sql: Statements, customer_number: str | None, *, locked: bool = False) -> Link:
    """Lock the event's chain (PostgreSQL) and read its head, in the caller's transaction.

    ``locked`` says that the caller already holds the company's row lock
    (``SELECT ... FOR UPDATE`` on ``company``), as the end path does; the
    chain without a company is always locked here. On SQLite the transaction
    already holds the database's write lock.
    """
    if not sql.postgres:
        if customer_number is None:
            row = sql.execute(_HEAD_NO_COMPANY_SQL).fetchone()
        else:
            row = sql.execute(_HEAD_SQL, {"number": customer_number}).fetchone()
        return Link(sql.os_login, row[0] if row else None)
    if customer_number is None:
        _advisory_lock(sql, NO_COMPANY)
        row = sql.execute(_PG_HEAD_NO_COMPANY_SQL).fetchone()
    else:
        params = {"number": customer_number}
        if not locked and not lock_companies(sql, [customer_number]):
            _advisory_lock(sql, customer_number)
        # a statement of its own after the lock: under READ COMMITTED it sees the
        # head that whoever held the lock before committed
        row = sql.execute(_PG_HEAD_SQL, params).fetchone()
    return Link(row[0], row[2], row[1])


# one backward probe of ix_audit_event_chain per company, whatever the statistics say
# (a table just filled by an import may have none: see store/end_queries.py)
_PG_HEADS_SQL = """
SELECT k.number, h.hash
FROM unnest(CAST(:numbers AS text[])) AS k(number)
CROSS JOIN LATERAL (
    SELECT hash FROM audit_event WHERE customer_number = k.number ORDER BY id DESC LIMIT 1
) AS h
"""
_SQLITE_HEADS_SQL = (
    "SELECT customer_number, hash FROM audit_event WHERE id IN (SELECT max(id) FROM audit_event"
    " WHERE customer_number IN :numbers GROUP BY customer_number)"
)
#: customer numbers per query (SQLite's oldest limit is 999 parameters a statement)
_HEADS_CHUNK = 500


def next_links(
    sql: Statements, customer_numbers: Iterable[str | None], *, locked: bool = False
) -> dict[str, Link]:
    """:func:`next_link` for many chains at once (a batch of events), by chain key.

    The heads are read in one query per few hundred chains instead of one each;
    the locks are the same (``locked``: the caller holds the row locks of all
    these companies). The caller links each event it adds to the head it is
    given, and that event's hash is the next event's head in the same chain.
    """
    keys = sorted({chain_key(number) for number in customer_numbers})
    numbers = [key for key in keys if key != NO_COMPANY]
    links: dict[str, Link] = {}
    if not sql.postgres:
        user = sql.os_login
        if NO_COMPANY in keys:
            row = sql.execute(_HEAD_NO_COMPANY_SQL).fetchone()
            links[NO_COMPANY] = Link(user, row[0] if row else None)
        heads: dict[str, str] = {}
        for start in range(0, len(numbers), _HEADS_CHUNK):
            chunk = numbers[start : start + _HEADS_CHUNK]
            rows = sql.execute_in(_SQLITE_HEADS_SQL, {"numbers": chunk}, keys="numbers")
            heads.update((number, head) for number, head in rows)
        links.update((number, Link(user, heads.get(number))) for number in numbers)
        return links
    if numbers and not locked:
        with_row = set(lock_companies(sql, numbers))
        for number in numbers:
            if number not in with_row:
                _advisory_lock(sql, number)
    if NO_COMPANY in keys:
        _advisory_lock(sql, NO_COMPANY)
        user, at, head = sql.execute(_PG_HEAD_NO_COMPANY_SQL).fetchone()
        links[NO_COMPANY] = Link(user, head, at)
    user, at = sql.execute(PG_WHO_SQL).fetchone()
    heads = dict(sql.execute(_PG_HEADS_SQL, {"numbers": numbers}).fetchall()) if numbers else {}
    links.update((number, Link(user, heads.get(number), at)) for number in numbers)
    return links


def _advisory_lock(sql: Statements, key: str) -> None:
    sql.execute(_PG_ADVISORY_LOCK_SQL, {"lock_class": _LOCK_CLASS, "lock_key": lock_key(key)})


def seal(
    sql: Statements,
    *,
    at: str,
    actor: str,
    scope: str,
    action: str,
    customer_number: str | None,
    service: str | None,
    details: Any,
    locked: bool = False,
) -> dict[str, Any]:
    """The columns of a new event that its chain decides: ``at`` (the database's
    time on PostgreSQL, else the given one), ``db_user``, ``prev_hash``, ``hash``.

    Call it right before inserting the event, in the same transaction; the
    values go into the INSERT beside the event's own fields.
    """
    link = next_link(sql, customer_number, locked=locked)
    at = link.at or at
    event = {
        "at": at,
        "actor": actor,
        "db_user": link.db_user,
        "scope": scope,
        "action": action,
        "customer_number": customer_number,
        "service": service,
        "details": details,
    }
    return {
        "at": at,
        "db_user": link.db_user,
        "prev_hash": link.prev_hash,
        "hash": event_hash(event, link.prev_hash),
    }
