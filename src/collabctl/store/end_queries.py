"""The SQL of the end path (single, interactive and bulk), as plain statements on
:class:`~collabctl.store.statements.Statements`, with named rows.

Reads come first (the pre-flight), then the change: the collaboration row,
the records (``delete``), the subscription. The audit event is written by
:mod:`collabctl.store.audit`, the messages by :mod:`collabctl.store.outbox`, and
:mod:`collabctl.store.end_writes` applies an end's plan with all of them.

Each read and write an end makes one at a time has its form for many ends beside
it: :class:`ReadAhead` reads the targets of a segment of a bulk end in one query
(``end_target`` then answers from it), and :func:`end_collaboration_rows`,
:func:`set_subscriptions` and :func:`insert_subscriptions` write a segment's rows
in one statement each.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from collabctl.store.locks import lock_companies
from collabctl.store.statements import Statements

# -- reads ----------------------------------------------------------------------------


class EndTarget(NamedTuple):
    """A company with its active collaboration for one service (all None when there is
    none), the subscription and the main contact: everything an end that goes through
    needs, in one round trip."""

    company_name: str
    collaboration_id: int | None
    office_org_number: str | None
    office_name: str | None
    state: str | None
    started_at: str | None
    ended_at: str | None
    ended_by: str | None
    outcome: str | None
    reason: str | None
    subscription_state: str | None
    records_changed_at: str | None
    main_contact: str | None


class CollaborationRow(NamedTuple):
    id: int
    office_org_number: str
    office_name: str
    state: str
    started_at: str
    ended_at: str | None
    ended_by: str | None
    outcome: str | None
    reason: str | None


class UserRow(NamedTuple):
    email: str
    role: str
    main_contact: bool
    services: list[str]


class ExportEvent(NamedTuple):
    at: str
    service: str | None
    details: dict[str, Any]


_END_TARGET_FROM = """
FROM company co
LEFT JOIN collaboration c
       ON c.customer_number = co.customer_number AND c.service = :service AND c.state = 'active'
LEFT JOIN office o ON o.org_number = c.office_org_number
LEFT JOIN subscription s ON s.customer_number = co.customer_number AND s.service = :service
"""
_END_TARGET_COLUMNS = """co.name, c.id, c.office_org_number, o.name, c.state, c.started_at, c.ended_at,
       c.ended_by, c.outcome, c.reason, s.state, s.records_changed_at,
       (SELECT u.email FROM company_user u
         WHERE u.customer_number = co.customer_number AND u.main_contact)"""
#: one company's end target
_END_TARGET_SQL = (
    f"SELECT {_END_TARGET_COLUMNS}{_END_TARGET_FROM}WHERE co.customer_number = :number"
)
# PostgreSQL, many companies: a lookup per company by its full key, driven by the list of
# numbers, whatever the statistics say. Joined the plain way (company = ANY(...), then
# the collaboration by customer and service), a planner without statistics (a table
# just filled by an import, not analysed yet) may read every active collaboration of
# the service for each batch and join them by a filter: quadratic in a bulk end. A
# LATERAL subquery with a LIMIT is not flattened into a join, so it runs once per
# number, and one index probe is always cheaper than reading the table.
_PG_END_TARGETS_SQL = """
SELECT k.number, co.name, c.id, c.office_org_number, o.name, c.state, c.started_at,
       c.ended_at, c.ended_by, c.outcome, c.reason, s.state, s.records_changed_at,
       (SELECT u.email FROM company_user u WHERE u.customer_number = k.number AND u.main_contact)
FROM unnest(CAST(:numbers AS text[])) AS k(number)
CROSS JOIN LATERAL (
    SELECT name FROM company WHERE customer_number = k.number LIMIT 1
) AS co
LEFT JOIN LATERAL (
    SELECT id, office_org_number, state, started_at, ended_at, ended_by, outcome, reason
    FROM collaboration
    WHERE customer_number = k.number AND service = :service AND state = 'active'
    LIMIT 1
) AS c ON true
LEFT JOIN office o ON o.org_number = c.office_org_number
LEFT JOIN LATERAL (
    SELECT state, records_changed_at FROM subscription
    WHERE customer_number = k.number AND service = :service
    LIMIT 1
) AS s ON true
"""
_SQLITE_END_TARGETS_SQL = (
    f"SELECT co.customer_number, {_END_TARGET_COLUMNS}{_END_TARGET_FROM}"
    "WHERE co.customer_number IN :numbers"
)
_LATEST_COLLABORATION_SQL = """
SELECT c.id, c.office_org_number, o.name, c.state, c.started_at, c.ended_at, c.ended_by,
       c.outcome, c.reason
FROM collaboration c JOIN office o ON o.org_number = c.office_org_number
WHERE c.customer_number = :number AND c.service = :service
ORDER BY c.started_at DESC, c.id DESC
LIMIT 1
"""
_ACTIVE_SERVICES_SQL = (
    "SELECT service FROM collaboration WHERE customer_number = :number AND state = 'active' "
    "ORDER BY service"
)
_OFFICE_ACTIVE_SERVICES_SQL = (
    "SELECT service FROM collaboration WHERE customer_number = :number AND state = 'active' "
    "AND office_org_number = :office ORDER BY service"
)
_USERS_SQL = (
    "SELECT email, role, main_contact, services FROM company_user "
    "WHERE customer_number = :number ORDER BY id"
)
_DRAFTS_SQL = (
    "SELECT record_id FROM service_record WHERE customer_number = :number "
    "AND service = :service AND kind = :kind AND status = 'draft' ORDER BY record_id"
)
_EXPORTS_SQL = (
    "SELECT at, service, details FROM audit_event "
    "WHERE customer_number = :number AND action = 'export' ORDER BY at DESC"
)


def end_target(
    sql: Statements,
    number: str,
    service: str,
    *,
    lock: bool = False,
    ahead: ReadAhead | None = None,
) -> EndTarget | None:
    """The company's end target for the service; None when the company does not exist.

    ``lock``: take the company's row lock first (PostgreSQL), so that what is read is
    what the end will change. ``ahead``: what a bulk end read for its segment, which
    answers without a statement (its companies were locked as it read them).
    """
    if ahead is not None:
        found = ahead.target(number, service)
        if found is not _UNREAD:
            return found
    if lock:
        lock_companies(sql, [number])
    row = sql.execute(_END_TARGET_SQL, {"number": number, "service": service}).fetchone()
    return None if row is None else EndTarget._make(row)


def end_targets(sql: Statements, numbers: list[str], service: str) -> dict[str, tuple[Any, ...]]:
    """:func:`end_target`'s rows (as tuples) for many companies and one service, by
    customer number, in one query; a company that does not exist is left out. At most
    a few hundred numbers a call (SQLite's parameter limit)."""
    if sql.postgres:
        rows = sql.execute(_PG_END_TARGETS_SQL, {"numbers": numbers, "service": service})
    else:
        rows = sql.execute_in(
            _SQLITE_END_TARGETS_SQL, {"numbers": numbers, "service": service}, keys="numbers"
        )
    return {row[0]: tuple(row[1:]) for row in rows}


#: what :meth:`ReadAhead.target` answers for a target it did not read
_UNREAD: Any = object()
#: customer numbers per read-ahead query (SQLite's oldest limit is 999 parameters)
_CHUNK = 500


class ReadAhead:
    """The end targets of a segment of a bulk end, read for all its items at once.

    ``lock``: the segment's companies are locked first, in one statement in
    customer-number order (PostgreSQL; a SQLite writer holds the write lock already),
    so what is read is what the ends will change, as :func:`end_target` with ``lock``
    reads it for one. A segment holds each company once: what one item's end writes is
    never what another item of the segment read.
    """

    def __init__(self, sql: Statements, *, lock: bool) -> None:
        self._sql = sql
        self._lock = lock
        self._targets: dict[tuple[str, str], EndTarget | None] = {}

    def read(self, items: Iterable[tuple[str, str]]) -> None:
        """Lock and read for a segment: (customer number, service code) pairs, one per
        company. What was read for an earlier segment is dropped."""
        self._targets.clear()
        by_service: dict[str, list[str]] = {}
        for number, service in items:
            by_service.setdefault(service, []).append(number)
        numbers = sorted({n for group in by_service.values() for n in group})
        if not numbers:
            return
        if self._lock:
            # one statement, in customer-number order: runs over the same customers queue
            # for each other's locks instead of deadlocking
            lock_companies(self._sql, numbers)
        for service, group in by_service.items():
            for start in range(0, len(group), _CHUNK):
                chunk = group[start : start + _CHUNK]
                found = end_targets(self._sql, chunk, service)
                for number in chunk:
                    row = found.get(number)
                    self._targets[number, service] = None if row is None else EndTarget._make(row)

    def target(self, number: str, service: str) -> EndTarget | None:
        """What was read for the company and service (None: no such company), or
        :data:`_UNREAD` when it was not read."""
        return self._targets.get((number, service), _UNREAD)


def latest_collaboration(sql: Statements, number: str, service: str) -> CollaborationRow | None:
    """The company's latest collaboration for the service (ended, when there is no active one)."""
    row = sql.execute(_LATEST_COLLABORATION_SQL, {"number": number, "service": service}).fetchone()
    return None if row is None else CollaborationRow._make(row)


def active_services(sql: Statements, number: str, office: str | None = None) -> list[str]:
    """The services of the company's active collaborations (with ``office`` only, when given)."""
    if office is None:
        rows = sql.execute(_ACTIVE_SERVICES_SQL, {"number": number})
    else:
        rows = sql.execute(_OFFICE_ACTIVE_SERVICES_SQL, {"number": number, "office": office})
    return [service for (service,) in rows.fetchall()]


def company_users(sql: Statements, number: str) -> list[UserRow]:
    return [
        UserRow(email, role, bool(main), sql.from_json(services) or [])
        for email, role, main, services in sql.execute(_USERS_SQL, {"number": number}).fetchall()
    ]


def draft_record_ids(sql: Statements, number: str, service: str, kind: str) -> list[str]:
    params = {"number": number, "service": service, "kind": kind}
    return [record_id for (record_id,) in sql.execute(_DRAFTS_SQL, params).fetchall()]


def export_events(sql: Statements, number: str) -> Iterator[ExportEvent]:
    """The company's exports in the audit log, newest first."""
    for at, service, details in sql.execute(_EXPORTS_SQL, {"number": number}).fetchall():
        yield ExportEvent(str(at), service, sql.from_json(details) or {})


# -- the change -----------------------------------------------------------------------

_END_SQL = (
    "UPDATE collaboration SET state = 'ended', ended_at = :at, ended_by = :ended_by, "
    "ended_actor = :actor, outcome = :outcome, reason = :reason "
    "WHERE id = :id AND state = 'active'"
)
_SAVEPOINT_SQL = "SAVEPOINT end_backup"
_ROLLBACK_TO_SAVEPOINT_SQL = "ROLLBACK TO SAVEPOINT end_backup"
_RELEASE_SAVEPOINT_SQL = "RELEASE SAVEPOINT end_backup"
_COUNT_RECORDS_SQL = (
    "SELECT count(*) FROM service_record WHERE customer_number = :number AND service = :service"
)
_DELETE_RECORDS_SQL = (
    "DELETE FROM service_record WHERE customer_number = :number AND service = :service"
)
_INSERT_SUBSCRIPTION_SQL = (
    "INSERT INTO subscription (customer_number, service, state) VALUES (:number, :service, :state)"
)
_UPDATE_SUBSCRIPTION_SQL = (
    "UPDATE subscription SET state = :state WHERE customer_number = :number AND service = :service"
)
_UPDATE_SUBSCRIPTION_EMPTIED_SQL = (
    "UPDATE subscription SET state = :state, records_changed_at = :at "
    "WHERE customer_number = :number AND service = :service"
)


class EndedRow(NamedTuple):
    """What an end writes into its collaboration's row (:func:`end_collaboration_row`)."""

    id: int
    at: str
    ended_by: str
    actor: str
    outcome: str
    reason: str | None


def end_collaboration_row(sql: Statements, row: EndedRow) -> bool:
    """Mark the collaboration ended; False when it was no longer active (nothing changed)."""
    return bool(sql.execute(_END_SQL, row._asdict()).rowcount == 1)


def end_collaboration_rows(sql: Statements, rows: Sequence[EndedRow]) -> int:
    """:func:`end_collaboration_row` for many collaborations in one statement (PostgreSQL)
    or one prepared statement run for each (SQLite); returns how many rows changed."""
    if not rows:
        return 0
    if sql.postgres:
        params = {"rows": json.dumps([row._asdict() for row in rows])}
        return int(sql.execute(_PG_END_MANY_SQL, params).rowcount)
    return sql.executemany(_END_SQL, [row._asdict() for row in rows])


def savepoint(sql: Statements) -> None:
    sql.execute(_SAVEPOINT_SQL)


def rollback_to_savepoint(sql: Statements) -> None:
    sql.execute(_ROLLBACK_TO_SAVEPOINT_SQL)
    sql.execute(_RELEASE_SAVEPOINT_SQL)


def release_savepoint(sql: Statements) -> None:
    sql.execute(_RELEASE_SAVEPOINT_SQL)


def count_records(sql: Statements, number: str, service: str) -> int:
    """How many records the company has in the service."""
    params = {"number": number, "service": service}
    return int(sql.execute(_COUNT_RECORDS_SQL, params).fetchone()[0])


def delete_records(sql: Statements, number: str, service: str) -> int:
    """Delete the service's records of the company; returns how many."""
    return int(sql.execute(_DELETE_RECORDS_SQL, {"number": number, "service": service}).rowcount)


def insert_subscription(sql: Statements, number: str, service: str, state: str) -> None:
    sql.execute(_INSERT_SUBSCRIPTION_SQL, {"number": number, "service": service, "state": state})


def update_subscription(
    sql: Statements, number: str, service: str, state: str, *, records_changed_at: str | None
) -> None:
    """Set the subscription's state; ``records_changed_at`` when its records just changed."""
    params = {"number": number, "service": service, "state": state}
    if records_changed_at is None:
        sql.execute(_UPDATE_SUBSCRIPTION_SQL, params)
    else:
        sql.execute(_UPDATE_SUBSCRIPTION_EMPTIED_SQL, {**params, "at": records_changed_at})


def set_subscriptions(sql: Statements, rows: Sequence[tuple[str, str, str]]) -> None:
    """:func:`update_subscription` (records unchanged) for many: (customer number, service,
    state) each."""
    if not rows:
        return
    params = [{"number": n, "service": s, "state": state} for n, s, state in rows]
    if sql.postgres:
        sql.execute(_PG_SUBSCRIPTIONS_SQL, {"rows": json.dumps(params)})
    else:
        sql.executemany(_UPDATE_SUBSCRIPTION_SQL, params)


def insert_subscriptions(sql: Statements, rows: Sequence[tuple[str, str, str]]) -> None:
    """:func:`insert_subscription` for many: (customer number, service, state) each."""
    params = [{"number": n, "service": s, "state": state} for n, s, state in rows]
    sql.executemany(_INSERT_SUBSCRIPTION_SQL, params)


# PostgreSQL: the writes of many ends as one statement each, over a JSON array of the
# parameters the single statements take (encoded in C; psycopg builds array parameters
# element by element in Python). The same changes as the single statements, row for row
# (tests/test_bulk_batching.py compares what a bulk end writes with what single ends
# write). Each finds its rows through an index whatever the table's size: the rows to
# change by ``= ANY(ARRAY(...))`` (an index scan; a join with the parameters alone may be
# planned as a hash join over the whole table). The collaborations' state is checked as
# a filter on the rows found by id (`IS TRUE`: the same test for a NOT NULL column):
# written as `state = 'active'` it matches the predicate of the partial index
# uq_collaboration_active, and a planner without statistics (tables just filled) then
# reads that whole index for every batch to AND it with the ids.
_PG_ROWS = "json_to_recordset(CAST(:rows AS json))"
_PG_END_MANY_SQL = f"""
UPDATE collaboration c
SET state = 'ended', ended_at = v.at, ended_by = v.ended_by, ended_actor = v.actor,
    outcome = v.outcome, reason = v.reason
FROM {_PG_ROWS} AS v(id bigint, at text, ended_by text, actor text, outcome text, reason text)
WHERE c.id = ANY(ARRAY(SELECT id FROM {_PG_ROWS} AS k(id bigint)))
  AND c.id = v.id AND (c.state = 'active') IS TRUE
"""
_PG_SUBSCRIPTIONS_SQL = f"""
UPDATE subscription s SET state = v.state
FROM {_PG_ROWS} AS v(number text, service text, state text)
WHERE s.customer_number = ANY(ARRAY(SELECT number FROM {_PG_ROWS} AS k(number text)))
  AND s.customer_number = v.number AND s.service = v.service
"""
