"""Applying a start: the plan of a new collaboration, written with the statements of one
start.

A start is decided first (``operations/parties.py`` ``start_collaboration``: the
company locked, the office and the rules checked, the subscription and its records
read) as a :class:`StartPlan`, and written here: the collaboration (the database's
unique index of active collaborations has the last word: a start that lost a race
is ``duplicate``), the subscription made active (a deleted service starts fresh:
its records are deleted), the audit event, the messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from collabctl.domain.errors import Duplicate
from collabctl.store import outbox
from collabctl.store.audit import AuditEvent, insert_audit_event
from collabctl.store.end_queries import (
    delete_records,
    insert_subscription,
    update_subscription,
)
from collabctl.store.outbox import MessagePair
from collabctl.store.statements import Statements

__all__ = ["StartPlan", "apply_start"]


@dataclass(frozen=True, slots=True)
class StartPlan:
    """Every change of one start, decided before any is written."""

    customer_number: str
    service: str
    office_org_number: str
    at: str
    #: the subscription's state before (None: the company has none for the service, one is
    #: inserted); it is ``active`` after
    subscription_before: str | None
    #: a deleted service starts fresh: its records are deleted first
    delete_records: bool
    event: AuditEvent
    messages: MessagePair


_INSERT_COLLABORATION_SQL = (
    "INSERT INTO collaboration (customer_number, service, office_org_number, state, started_at) "
    "VALUES (:number, :service, :office, 'active', :at)"
)


def apply_start(sql: Statements, plan: StartPlan) -> None:
    """Write one start's plan in the caller's transaction (never committed here), the
    company's row lock already held. Another start that won the race to the same
    collaboration is ``duplicate``; the caller's transaction does not survive it."""
    number, service = plan.customer_number, plan.service
    params = {"number": number, "service": service, "office": plan.office_org_number}
    try:
        sql.execute(_INSERT_COLLABORATION_SQL, {**params, "at": plan.at})
    except IntegrityError:
        # the unique index of active collaborations decided
        raise Duplicate(
            f"customer {number} already has an active {service} collaboration",
            f"see it with: collabctl show {number}",
        ) from None
    if plan.delete_records:
        delete_records(sql, number, service)
    if plan.subscription_before is None:
        insert_subscription(sql, number, service, "active")
    elif plan.subscription_before != "active":
        update_subscription(sql, number, service, "active", records_changed_at=None)
    insert_audit_event(sql, **plan.event._asdict(), locked=True)
    outbox.queue_pair(sql, **plan.messages._asdict())
