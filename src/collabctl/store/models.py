"""The tables. Timestamps are stored as fixed-width ISO-8601 UTC strings
(``2024-01-31T09:00:00.000000Z``), which sort and compare the same on SQLite
and PostgreSQL and print as they are stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Index, MetaData, UniqueConstraint, text
from sqlmodel import Field, SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLModel.metadata = MetaData(naming_convention=NAMING_CONVENTION)
metadata = SQLModel.metadata


class Office(SQLModel, table=True):
    __tablename__ = "office"

    org_number: str = Field(primary_key=True, max_length=11)
    name: str


class Company(SQLModel, table=True):
    __tablename__ = "company"

    customer_number: str = Field(primary_key=True, max_length=10)
    org_number: str = Field(max_length=11, index=True)
    name: str


class CompanyUser(SQLModel, table=True):
    __tablename__ = "company_user"
    __table_args__ = (
        UniqueConstraint("customer_number", "email_key", name="uq_company_user_email"),
        # At most one main contact per company, enforced by the database so that
        # two agents racing cannot leave two behind.
        Index(
            "uq_company_user_main_contact",
            "customer_number",
            unique=True,
            sqlite_where=text("main_contact"),
            postgresql_where=text("main_contact"),
        ),
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
    __tablename__ = "subscription"

    customer_number: str = Field(
        foreign_key="company.customer_number", primary_key=True, max_length=10
    )
    service: str = Field(primary_key=True, max_length=40)
    state: str = Field(max_length=20)
    #: when the records of this subscription last changed (for backup-handed-over)
    records_changed_at: str | None = Field(default=None, max_length=32)


class Collaboration(SQLModel, table=True):
    __tablename__ = "collaboration"
    __table_args__ = (
        # At most one active collaboration per (company, service), also under races.
        Index(
            "uq_collaboration_active",
            "customer_number",
            "service",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
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
    """Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_customer", "customer_number", "service"),)

    id: int | None = Field(default=None, primary_key=True)
    at: str = Field(max_length=32, index=True)
    actor: str
    scope: str
    action: str = Field(max_length=40)
    customer_number: str | None = Field(default=None, max_length=10)
    service: str | None = Field(default=None, max_length=40)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ServiceDefinition(SQLModel, table=True):
    """Services added to the catalogue by import (the defaults live in code)."""

    __tablename__ = "service_definition"

    code: str = Field(primary_key=True, max_length=40)
    name: str
    outcomes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    checklist: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
