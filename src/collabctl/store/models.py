"""The tables. Timestamps are stored as fixed-width ISO-8601 UTC strings
(``2024-01-31T09:00:00.000000Z``), which sort and compare the same on SQLite
and PostgreSQL and print as they are stored.

Every command imports this module, so what it costs at import is start-up time
(docs/performance.md): the two partial unique indexes are declared apart from
the classes (see :func:`schema_metadata`), and pydantic builds a table's
validation schema only if something asks for it (the tables are read and
written through SQLAlchemy, which never does).
"""

# No `from __future__ import annotations`: pydantic and SQLAlchemy would compile and
# evaluate every field's annotation from its string when the classes are made.

from typing import Any

from sqlalchemy import JSON, Column, Index, MetaData, UniqueConstraint, text
from sqlmodel import Field, SQLModel
from sqlmodel.main import SQLModelConfig

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLModel.metadata = MetaData(naming_convention=NAMING_CONVENTION)
metadata = SQLModel.metadata

#: Table classes are never validated by pydantic (SQLModel does not validate a table
#: class's constructor, and rows come from SQLAlchemy), so the schema is built on demand.
TABLE_CONFIG = SQLModelConfig(defer_build=True)


class Office(SQLModel, table=True):
    model_config = TABLE_CONFIG
    __tablename__ = "office"

    org_number: str = Field(primary_key=True, max_length=11)
    name: str
    #: where notifications to the office go (optional: without it they are recorded unsent)
    email: str | None = None


class Company(SQLModel, table=True):
    model_config = TABLE_CONFIG
    __tablename__ = "company"

    customer_number: str = Field(primary_key=True, max_length=10)
    org_number: str = Field(max_length=11, index=True)
    name: str


class CompanyUser(SQLModel, table=True):
    model_config = TABLE_CONFIG
    __tablename__ = "company_user"
    __table_args__ = (
        UniqueConstraint("customer_number", "email_key", name="uq_company_user_email"),
        # at most one main contact per company: PARTIAL_UNIQUE_INDEXES
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_number: str = Field(foreign_key="company.customer_number", max_length=10, index=True)
    email: str
    email_key: str
    name: str
    role: str = Field(max_length=20)
    main_contact: bool = Field(default=False)
    services: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Subscription(SQLModel, table=True):
    model_config = TABLE_CONFIG
    __tablename__ = "subscription"

    customer_number: str = Field(
        foreign_key="company.customer_number", primary_key=True, max_length=10
    )
    service: str = Field(primary_key=True, max_length=40)
    state: str = Field(max_length=20)
    #: when the records of this subscription last changed (for backup-handed-over)
    records_changed_at: str | None = Field(default=None, max_length=32)


class Collaboration(SQLModel, table=True):
    model_config = TABLE_CONFIG
    __tablename__ = "collaboration"
    __table_args__ = (
        # at most one active collaboration per company and service: PARTIAL_UNIQUE_INDEXES
        Index("ix_collaboration_customer_service", "customer_number", "service"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_number: str = Field(foreign_key="company.customer_number", max_length=10)
    service: str = Field(max_length=40)
    office_org_number: str = Field(foreign_key="office.org_number", max_length=11, index=True)
    state: str = Field(max_length=10)
    started_at: str = Field(max_length=32)
    ended_at: str | None = Field(default=None, max_length=32)
    ended_by: str | None = Field(default=None, max_length=10)
    ended_actor: str | None = None
    outcome: str | None = Field(default=None, max_length=20)
    reason: str | None = None


class ServiceRecord(SQLModel, table=True):
    model_config = TABLE_CONFIG
    __tablename__ = "service_record"
    __table_args__ = (
        UniqueConstraint("customer_number", "service", "record_id", name="uq_service_record_key"),
        Index("ix_service_record_status", "customer_number", "service", "kind", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_number: str = Field(foreign_key="company.customer_number", max_length=10)
    service: str = Field(max_length=40)
    record_id: str
    kind: str
    owner: str | None = None
    status: str = Field(max_length=40)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class AuditEvent(SQLModel, table=True):
    """Append-only: rows are inserted, never updated or deleted (triggers refuse both)."""

    model_config = TABLE_CONFIG
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_customer", "customer_number", "service"),
        # the head of a chain: its newest event (collabctl.store.chain)
        Index("ix_audit_event_chain", "customer_number", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: str = Field(max_length=32, index=True)
    actor: str
    scope: str
    action: str = Field(max_length=40)
    customer_number: str | None = Field(default=None, max_length=10)
    service: str | None = Field(default=None, max_length=40)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: who the database says wrote it: PostgreSQL's session_user (set by a trigger),
    #: the OS login on SQLite; None for events recorded before schema 0003
    db_user: str | None = None
    #: the hash chain (collabctl.store.chain): the previous event's hash, this event's
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str = Field(max_length=64)


class OutboxMessage(SQLModel, table=True):
    """A notification waiting to be sent, written in the transaction of the change it
    reports (see operations/notify.py). ``recipient`` is None when the party has no
    address: the message is then kept with state ``no-address`` and never sent."""

    model_config = TABLE_CONFIG
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state", "state", "attempts", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: str = Field(max_length=32)
    event: str = Field(max_length=40)
    customer_number: str = Field(max_length=10)
    service: str | None = Field(default=None, max_length=40)
    office_org_number: str | None = Field(default=None, max_length=11)
    #: main-contact | office
    recipient_role: str = Field(max_length=20)
    recipient: str | None = None
    language: str = Field(max_length=5)
    #: what the message tells, as JSON (operations/mail_templates.py ``Notice``): it is
    #: rendered when sent, so a bulk end writes a few facts per message, not its text
    facts: str
    #: pending | sent | failed | no-address
    state: str = Field(max_length=20)
    attempts: int = Field(default=0)
    last_error: str | None = None
    sent_at: str | None = Field(default=None, max_length=32)
    #: who is sending it now (host:pid:token) and until when that claim holds
    claimed_by: str | None = Field(default=None, max_length=200)
    claimed_until: str | None = Field(default=None, max_length=32)


class ScheduledEnd(SQLModel, table=True):
    """An end to perform later (``end --at``), performed by ``schedule run``.

    ``state``: scheduled | done | failed | cancelled. At most one ``scheduled`` row
    per collaboration (PARTIAL_UNIQUE_INDEXES). A run claims a row and performs its
    end in one transaction (operations/schedule_run.py), so a row is ``done`` exactly
    when its end was committed; ``claimed_by`` and ``claimed_at`` say which run that was.
    """

    model_config = TABLE_CONFIG
    __tablename__ = "scheduled_end"
    __table_args__ = (Index("ix_scheduled_end_due", "state", "due_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    collaboration_id: int = Field(foreign_key="collaboration.id")
    customer_number: str = Field(foreign_key="company.customer_number", max_length=10, index=True)
    service: str = Field(max_length=40)
    office_org_number: str = Field(max_length=11)
    outcome: str = Field(max_length=20)
    ended_by: str = Field(max_length=10)
    #: checklist items attested when it was scheduled, and whether unmet ones are forced
    confirm: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    force: bool = Field(default=False)
    reason: str | None = None
    #: the last day of the collaboration, in the configured time zone (YYYY-MM-DD)
    ends_on: str = Field(max_length=10)
    #: 00:00 the next local day, in UTC (stored form)
    due_at: str = Field(max_length=32)
    state: str = Field(max_length=10)
    scheduled_by: str
    #: the scope it was scheduled in: agent, office:ORG or customer:NUMBER
    scope: str = Field(max_length=40)
    created_at: str = Field(max_length=32)
    #: why the run could not end it: {"code", "message", "hint"} as JSON text
    error: str | None = None
    #: the run that performed it (host:pid:token) and when it marked it done or failed;
    #: the end's audit event names the schedule id in its details
    claimed_by: str | None = Field(default=None, max_length=200)
    claimed_at: str | None = Field(default=None, max_length=32)


class ServiceDefinition(SQLModel, table=True):
    """Services added to the catalogue by import (the defaults live in code)."""

    model_config = TABLE_CONFIG
    __tablename__ = "service_definition"

    code: str = Field(primary_key=True, max_length=40)
    name: str
    outcomes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    checklist: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


#: Partial unique indexes: (table, name, columns, WHERE clause). The database enforces
#: them, so that two agents racing cannot leave two main contacts behind, nor two
#: active collaborations of one company and service.
PARTIAL_UNIQUE_INDEXES = (
    ("company_user", "uq_company_user_main_contact", ("customer_number",), "main_contact"),
    (
        "collaboration",
        "uq_collaboration_active",
        ("customer_number", "service"),
        "state = 'active'",
    ),
    (
        "scheduled_end",
        "uq_scheduled_end_collaboration",
        ("collaboration_id",),
        "state = 'scheduled'",
    ),
)


def schema_metadata() -> MetaData:
    """The whole schema the migrations build: the tables plus the partial unique indexes.

    The partial indexes matter only to DDL: the migrations create them on both
    backends, and Alembic compares the models with a database through this
    metadata. They are not declared on the classes because checking a
    ``postgresql_where`` option makes SQLAlchemy import its PostgreSQL dialect,
    which every command would pay for on SQLite too. Adds them once; the ORM
    behaves the same with or without them.
    """
    for table_name, name, columns, where in PARTIAL_UNIQUE_INDEXES:
        table = metadata.tables[table_name]
        if any(index.name == name for index in table.indexes):
            continue
        Index(
            name,
            *(table.c[column] for column in columns),
            unique=True,
            sqlite_where=text(where),
            postgresql_where=text(where),
        )
    return metadata
