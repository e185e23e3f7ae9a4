"""The ORM classes (SQLModel) the writing operations use, mapped onto the Core tables of
:mod:`collabctl.store.tables`, where the columns, keys and indexes are defined once.

Only writes and migrations import this module: reads run Core queries on the
tables, without SQLModel, pydantic or SQLAlchemy's ORM (docs/performance.md).
pydantic builds a class's validation schema only if something asks for it (the
tables are read and written through SQLAlchemy, which never does).
"""

# No `from __future__ import annotations`: pydantic and SQLAlchemy would compile and
# evaluate every field's annotation from its string when the classes are made.

from typing import Any

from sqlmodel import Field, SQLModel
from sqlmodel.main import SQLModelConfig

from collabctl.store import tables
from collabctl.store.tables import (
    NAMING_CONVENTION,
    PARTIAL_UNIQUE_INDEXES,
    metadata,
    schema_metadata,
)

__all__ = [
    "NAMING_CONVENTION",
    "PARTIAL_UNIQUE_INDEXES",
    "AuditEvent",
    "Collaboration",
    "Company",
    "CompanyUser",
    "Office",
    "OutboxMessage",
    "ServiceDefinition",
    "ServiceRecord",
    "Subscription",
    "metadata",
    "schema_metadata",
]

SQLModel.metadata = metadata

#: Table classes are never validated by pydantic (SQLModel does not validate a table
#: class's constructor, and rows come from SQLAlchemy), so the schema is built on demand.
TABLE_CONFIG = SQLModelConfig(defer_build=True)


class Office(SQLModel, table=True):
    model_config = TABLE_CONFIG
    __table__ = tables.office

    org_number: str = Field(sa_column=tables.office.c.org_number)
    name: str = Field(sa_column=tables.office.c.name)
    email: str | None = Field(default=None, sa_column=tables.office.c.email)


class Company(SQLModel, table=True):
    model_config = TABLE_CONFIG
    __table__ = tables.company

    customer_number: str = Field(sa_column=tables.company.c.customer_number)
    org_number: str = Field(sa_column=tables.company.c.org_number)
    name: str = Field(sa_column=tables.company.c.name)


class CompanyUser(SQLModel, table=True):
    model_config = TABLE_CONFIG
    __table__ = tables.company_user

    id: int | None = Field(default=None, sa_column=tables.company_user.c.id)
    customer_number: str = Field(sa_column=tables.company_user.c.customer_number)
    email: str = Field(sa_column=tables.company_user.c.email)
    email_key: str = Field(sa_column=tables.company_user.c.email_key)
    name: str = Field(sa_column=tables.company_user.c.name)
    role: str = Field(sa_column=tables.company_user.c.role)
    main_contact: bool = Field(default=False, sa_column=tables.company_user.c.main_contact)
    services: list[str] = Field(default_factory=list, sa_column=tables.company_user.c.services)


class Subscription(SQLModel, table=True):
    model_config = TABLE_CONFIG
    __table__ = tables.subscription

    customer_number: str = Field(sa_column=tables.subscription.c.customer_number)
    service: str = Field(sa_column=tables.subscription.c.service)
    state: str = Field(sa_column=tables.subscription.c.state)
    records_changed_at: str | None = Field(
        default=None, sa_column=tables.subscription.c.records_changed_at
    )


class Collaboration(SQLModel, table=True):
    model_config = TABLE_CONFIG
    __table__ = tables.collaboration

    id: int | None = Field(default=None, sa_column=tables.collaboration.c.id)
    customer_number: str = Field(sa_column=tables.collaboration.c.customer_number)
    service: str = Field(sa_column=tables.collaboration.c.service)
    office_org_number: str = Field(sa_column=tables.collaboration.c.office_org_number)
    state: str = Field(sa_column=tables.collaboration.c.state)
    started_at: str = Field(sa_column=tables.collaboration.c.started_at)
    ended_at: str | None = Field(default=None, sa_column=tables.collaboration.c.ended_at)
    ended_by: str | None = Field(default=None, sa_column=tables.collaboration.c.ended_by)
    ended_actor: str | None = Field(default=None, sa_column=tables.collaboration.c.ended_actor)
    outcome: str | None = Field(default=None, sa_column=tables.collaboration.c.outcome)
    reason: str | None = Field(default=None, sa_column=tables.collaboration.c.reason)


class ServiceRecord(SQLModel, table=True):
    model_config = TABLE_CONFIG
    __table__ = tables.service_record

    id: int | None = Field(default=None, sa_column=tables.service_record.c.id)
    customer_number: str = Field(sa_column=tables.service_record.c.customer_number)
    service: str = Field(sa_column=tables.service_record.c.service)
    record_id: str = Field(sa_column=tables.service_record.c.record_id)
    kind: str = Field(sa_column=tables.service_record.c.kind)
    owner: str | None = Field(default=None, sa_column=tables.service_record.c.owner)
    status: str = Field(sa_column=tables.service_record.c.status)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=tables.service_record.c.payload)


class AuditEvent(SQLModel, table=True):
    """Append-only: rows are inserted, never updated or deleted (triggers refuse both)."""

    model_config = TABLE_CONFIG
    __table__ = tables.audit_event

    id: int | None = Field(default=None, sa_column=tables.audit_event.c.id)
    at: str = Field(sa_column=tables.audit_event.c.at)
    actor: str = Field(sa_column=tables.audit_event.c.actor)
    scope: str = Field(sa_column=tables.audit_event.c.scope)
    action: str = Field(sa_column=tables.audit_event.c.action)
    customer_number: str | None = Field(
        default=None, sa_column=tables.audit_event.c.customer_number
    )
    service: str | None = Field(default=None, sa_column=tables.audit_event.c.service)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=tables.audit_event.c.details)
    db_user: str | None = Field(default=None, sa_column=tables.audit_event.c.db_user)
    prev_hash: str | None = Field(default=None, sa_column=tables.audit_event.c.prev_hash)
    hash: str = Field(sa_column=tables.audit_event.c.hash)


class OutboxMessage(SQLModel, table=True):
    """A notification waiting to be sent (``tables.outbox``)."""

    model_config = TABLE_CONFIG
    __table__ = tables.outbox

    id: int | None = Field(default=None, sa_column=tables.outbox.c.id)
    created_at: str = Field(sa_column=tables.outbox.c.created_at)
    event: str = Field(sa_column=tables.outbox.c.event)
    customer_number: str = Field(sa_column=tables.outbox.c.customer_number)
    service: str | None = Field(default=None, sa_column=tables.outbox.c.service)
    office_org_number: str | None = Field(default=None, sa_column=tables.outbox.c.office_org_number)
    recipient_role: str = Field(sa_column=tables.outbox.c.recipient_role)
    recipient: str | None = Field(default=None, sa_column=tables.outbox.c.recipient)
    language: str = Field(sa_column=tables.outbox.c.language)
    facts: str = Field(sa_column=tables.outbox.c.facts)
    state: str = Field(sa_column=tables.outbox.c.state)
    attempts: int = Field(default=0, sa_column=tables.outbox.c.attempts)
    deferrals: int = Field(default=0, sa_column=tables.outbox.c.deferrals)
    next_attempt_at: str | None = Field(default=None, sa_column=tables.outbox.c.next_attempt_at)
    queued_at: str | None = Field(default=None, sa_column=tables.outbox.c.queued_at)
    last_error: str | None = Field(default=None, sa_column=tables.outbox.c.last_error)
    sent_at: str | None = Field(default=None, sa_column=tables.outbox.c.sent_at)
    claimed_by: str | None = Field(default=None, sa_column=tables.outbox.c.claimed_by)
    claimed_until: str | None = Field(default=None, sa_column=tables.outbox.c.claimed_until)


class ServiceDefinition(SQLModel, table=True):
    """Services added to the catalogue by import (the defaults live in code)."""

    model_config = TABLE_CONFIG
    __table__ = tables.service_definition

    code: str = Field(sa_column=tables.service_definition.c.code)
    name: str = Field(sa_column=tables.service_definition.c.name)
    outcomes: list[str] = Field(
        default_factory=list, sa_column=tables.service_definition.c.outcomes
    )
    checklist: list[str] = Field(
        default_factory=list, sa_column=tables.service_definition.c.checklist
    )


class ScheduledEnd(SQLModel, table=True):
    """An end to perform later (``tables.scheduled_end``)."""

    model_config = TABLE_CONFIG
    __table__ = tables.scheduled_end

    id: int | None = Field(default=None, sa_column=tables.scheduled_end.c.id)
    collaboration_id: int = Field(sa_column=tables.scheduled_end.c.collaboration_id)
    customer_number: str = Field(sa_column=tables.scheduled_end.c.customer_number)
    service: str = Field(sa_column=tables.scheduled_end.c.service)
    office_org_number: str = Field(sa_column=tables.scheduled_end.c.office_org_number)
    outcome: str = Field(sa_column=tables.scheduled_end.c.outcome)
    ended_by: str = Field(sa_column=tables.scheduled_end.c.ended_by)
    confirm: list[str] = Field(default_factory=list, sa_column=tables.scheduled_end.c.confirm)
    force: bool = Field(default=False, sa_column=tables.scheduled_end.c.force)
    reason: str | None = Field(default=None, sa_column=tables.scheduled_end.c.reason)
    ends_on: str = Field(sa_column=tables.scheduled_end.c.ends_on)
    due_at: str = Field(sa_column=tables.scheduled_end.c.due_at)
    state: str = Field(sa_column=tables.scheduled_end.c.state)
    scheduled_by: str = Field(sa_column=tables.scheduled_end.c.scheduled_by)
    scope: str = Field(sa_column=tables.scheduled_end.c.scope)
    created_at: str = Field(sa_column=tables.scheduled_end.c.created_at)
    error: str | None = Field(default=None, sa_column=tables.scheduled_end.c.error)
    claimed_by: str | None = Field(default=None, sa_column=tables.scheduled_end.c.claimed_by)
    claimed_at: str | None = Field(default=None, sa_column=tables.scheduled_end.c.claimed_at)
