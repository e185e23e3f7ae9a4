"""The SQL of the end path (single, interactive and bulk), as plain statements on
:class:`~collabctl.store.statements.Statements`, with named rows.

Reads come first (the pre-flight), then the change: the collaboration row,
the records (``delete``), the subscription. The audit event is written by
:mod:`collabctl.store.audit`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

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
#: one company's end target (BatchStatements answers it from end_targets for a bulk end)
END_TARGET_SQL = f"SELECT {_END_TARGET_COLUMNS}{_END_TARGET_FROM}WHERE co.customer_number = :number"
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


def end_target(sql: Statements, number: str, service: str) -> EndTarget | None:
    """None when the company does not exist."""
    row = sql.execute(END_TARGET_SQL, {"number": number, "service": service}).fetchone()
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

END_SQL = (
    "UPDATE collaboration SET state = 'ended', ended_at = :at, ended_by = :ended_by, "
    "ended_actor = :actor, outcome = :outcome, reason = :reason "
    "WHERE id = :id AND state = 'active'"
)
_SAVEPOINT_SQL = "SAVEPOINT end_backup"
_ROLLBACK_TO_SAVEPOINT_SQL = "ROLLBACK TO SAVEPOINT end_backup"
_RELEASE_SAVEPOINT_SQL = "RELEASE SAVEPOINT end_backup"
_DELETE_RECORDS_SQL = (
    "DELETE FROM service_record WHERE customer_number = :number AND service = :service"
)
INSERT_SUBSCRIPTION_SQL = (
    "INSERT INTO subscription (customer_number, service, state) VALUES (:number, :service, :state)"
)
UPDATE_SUBSCRIPTION_SQL = (
    "UPDATE subscription SET state = :state WHERE customer_number = :number AND service = :service"
)
_UPDATE_SUBSCRIPTION_EMPTIED_SQL = (
    "UPDATE subscription SET state = :state, records_changed_at = :at "
    "WHERE customer_number = :number AND service = :service"
)


def end_collaboration_row(
    sql: Statements,
    collaboration_id: int,
    *,
    at: str,
    ended_by: str,
    actor: str,
    outcome: str,
    reason: str | None,
) -> bool:
    """Mark the collaboration ended; False when it was no longer active (nothing changed)."""
    params = {
        "id": collaboration_id,
        "at": at,
        "ended_by": ended_by,
        "actor": actor,
        "outcome": outcome,
        "reason": reason,
    }
    return bool(sql.execute(END_SQL, params).rowcount == 1)


def savepoint(sql: Statements) -> None:
    sql.execute(_SAVEPOINT_SQL)


def rollback_to_savepoint(sql: Statements) -> None:
    sql.execute(_ROLLBACK_TO_SAVEPOINT_SQL)
    sql.execute(_RELEASE_SAVEPOINT_SQL)


def release_savepoint(sql: Statements) -> None:
    sql.execute(_RELEASE_SAVEPOINT_SQL)


def delete_records(sql: Statements, number: str, service: str) -> int:
    """Delete the service's records of the company; returns how many."""
    return int(sql.execute(_DELETE_RECORDS_SQL, {"number": number, "service": service}).rowcount)


def insert_subscription(sql: Statements, number: str, service: str, state: str) -> None:
    sql.execute(INSERT_SUBSCRIPTION_SQL, {"number": number, "service": service, "state": state})


def update_subscription(
    sql: Statements, number: str, service: str, state: str, *, records_changed_at: str | None
) -> None:
    """Set the subscription's state; ``records_changed_at`` when its records just changed."""
    params = {"number": number, "service": service, "state": state}
    if records_changed_at is None:
        sql.execute(UPDATE_SUBSCRIPTION_SQL, params)
    else:
        sql.execute(_UPDATE_SUBSCRIPTION_EMPTIED_SQL, {**params, "at": records_changed_at})
