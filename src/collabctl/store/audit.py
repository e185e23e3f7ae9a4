"""The audit log's writer: the one place an audit event is inserted.

Every change writes its event through :func:`insert_audit_event`, in the
transaction of the change: single commands (through
``operations.context.audit``), the end path, and every item of a bulk end.
Whatever has to be computed for each event as it is written belongs here.
"""

from __future__ import annotations

from typing import Any

from collabctl.store.statements import Statements

_INSERT_SQL = (
    "INSERT INTO audit_event (at, actor, scope, action, customer_number, service, details) "
    "VALUES (:at, :actor, :scope, :action, :customer_number, :service, :details)"
)


def insert_audit_event(
    sql: Statements,
    *,
    at: str,
    actor: str,
    scope: str,
    action: str,
    customer_number: str | None,
    service: str | None,
    details: dict[str, Any],
) -> None:
    """Append one event to the audit log, in the caller's transaction (never committed here)."""
    sql.execute(
        _INSERT_SQL,
        {
            "at": at,
            "actor": actor,
            "scope": scope,
            "action": action,
            "customer_number": customer_number,
            "service": service,
            "details": sql.json(details),
        },
    )
