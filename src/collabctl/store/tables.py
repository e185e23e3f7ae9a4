"""The tables, as SQLAlchemy Core ``Table`` objects: one definition of the schema.

Timestamps are stored as fixed-width ISO-8601 UTC strings
(``2024-01-31T09:00:00.000000Z``), which sort and compare the same on SQLite and
PostgreSQL and print as they are stored.

Reads (``list``, ``show``, ``log``, the catalogue, the schema check) build their
queries from these tables and run them on a plain connection, so a command that
only reads imports neither SQLModel (nor pydantic) nor SQLAlchemy's ORM: together
they cost about 0.3 s at every start (docs/performance.md). The SQLModel classes
in :mod:`collabctl.store.models`, which the writing operations use, are mapped
onto these same ``Table`` objects, so a statement may mix the two freely.

A column is added here and, when the ORM should see it, as a field of its class
in ``models`` (``Field(sa_column=tables.X.c.name)``).
"""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    text,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

office = Table(
    "office",
    metadata,
    Column("org_number", String(11), primary_key=True),
    Column("name", String, nullable=False),
    #: where notifications to the office go (optional: without it they are recorded unsent)
    Column("email", String),
)

company = Table(
    "company",
    metadata,
    Column("customer_number", String(10), primary_key=True),
    Column("org_number", String(11), nullable=False, index=True),
    Column("name", String, nullable=False),
)

company_user = Table(
    "company_user",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "customer_number",
        String(10),
        ForeignKey("company.customer_number"),
        nullable=False,
        index=True,
    ),
    Column("email", String, nullable=False),
    Column("email_key", String, nullable=False),
    Column("name", String, nullable=False),
    Column("role", String(20), nullable=False),
    Column("main_contact", Boolean, nullable=False, default=False),
    Column("services", JSON, nullable=False),
    UniqueConstraint("customer_number", "email_key", name="uq_company_user_email"),
    # at most one main contact per company: PARTIAL_UNIQUE_INDEXES
)

subscription = Table(
    "subscription",
    metadata,
    Column("customer_number", String(10), ForeignKey("company.customer_number"), primary_key=True),
    Column("service", String(40), primary_key=True),
    Column("state", String(20), nullable=False),
    #: when the records of this subscription last changed (for backup-handed-over)
    Column("records_changed_at", String(32)),
)

collaboration = Table(
    "collaboration",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_number", String(10), ForeignKey("company.customer_number"), nullable=False),
    Column("service", String(40), nullable=False),
    Column(
        "office_org_number",
        String(11),
        ForeignKey("office.org_number"),
        nullable=False,
        index=True,
    ),
    Column("state", String(10), nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("ended_at", String(32)),
    Column("ended_by", String(10)),
    Column("ended_actor", String),
    Column("outcome", String(20)),
    Column("reason", String),
    # at most one active collaboration per company and service: PARTIAL_UNIQUE_INDEXES
    Index("ix_collaboration_customer_service", "customer_number", "service"),
)

service_record = Table(
    "service_record",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_number", String(10), ForeignKey("company.customer_number"), nullable=False),
    Column("service", String(40), nullable=False),
    Column("record_id", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("owner", String),
    Column("status", String(40), nullable=False),
    Column("payload", JSON, nullable=False),
    UniqueConstraint("customer_number", "service", "record_id", name="uq_service_record_key"),
    Index("ix_service_record_status", "customer_number", "service", "kind", "status"),
)

#: Append-only: rows are inserted, never updated or deleted (triggers refuse both).
audit_event = Table(
    "audit_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", String(32), nullable=False, index=True),
    Column("actor", String, nullable=False),
    Column("scope", String, nullable=False),
    Column("action", String(40), nullable=False),
    Column("customer_number", String(10)),
    Column("service", String(40)),
    Column("details", JSON, nullable=False),
    #: who the database says wrote it: PostgreSQL's session_user (set by a trigger), the
    #: OS login on SQLite; None for events recorded before schema 0003
    Column("db_user", String),
    #: the hash chain (collabctl.store.chain): the previous event's hash, this event's
    Column("prev_hash", String(64)),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_event_customer", "customer_number", "service"),
    # the head of a chain: its newest event (collabctl.store.chain)
    Index("ix_audit_event_chain", "customer_number", "id"),
)

#: A notification waiting to be sent, written in the transaction of the change it
#: reports (see operations/notify.py). ``recipient`` is None when the party has no
#: address: the message is then kept with state ``no-address`` and never sent.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", String(32), nullable=False),
    Column("event", String(40), nullable=False),
    Column("customer_number", String(10), nullable=False),
    Column("service", String(40)),
    Column("office_org_number", String(11)),
    #: main-contact | office
    Column("recipient_role", String(20), nullable=False),
    Column("recipient", String),
    Column("language", String(5), nullable=False),
    #: what the message tells, as JSON (operations/mail_templates.py ``Notice``): it is
    #: rendered when sent, so a bulk end writes a few facts per message, not its text
    Column("facts", String, nullable=False),
    #: pending | sent | failed | no-address | cancelled
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    #: temporary failures so far (server down, 4xx); each one pushes next_attempt_at back
    Column("deferrals", Integer, nullable=False, default=0, server_default="0"),
    #: when a deferred message is due again (None: now)
    Column("next_attempt_at", String(32)),
    #: when `notify retry` put it back (None: created_at); expiry counts from here
    Column("queued_at", String(32)),
    Column("last_error", String),
    Column("sent_at", String(32)),
    #: who is sending it now (the run's random token) and until when that claim holds
    Column("claimed_by", String(200)),
    Column("claimed_until", String(32)),
    Index("ix_outbox_state", "state", "attempts", "id"),
)

#: An end to perform later (``end --at``), performed by ``schedule run``. ``state``:
#: scheduled | done | failed | cancelled; at most one ``scheduled`` row per
#: collaboration (PARTIAL_UNIQUE_INDEXES). A run claims a row and performs its end in
#: one transaction (operations/schedule_run.py), so a row is ``done`` exactly when its
#: end was committed.
scheduled_end = Table(
    "scheduled_end",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("collaboration_id", Integer, ForeignKey("collaboration.id"), nullable=False),
    Column(
        "customer_number",
        String(10),
        ForeignKey("company.customer_number"),
        nullable=False,
        index=True,
    ),
    Column("service", String(40), nullable=False),
    Column("office_org_number", String(11), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("ended_by", String(10), nullable=False),
    #: checklist items attested when it was scheduled, and whether unmet ones are forced
    Column("confirm", JSON, nullable=False),
    Column("force", Boolean, nullable=False, default=False),
    Column("reason", String),
    #: the last day of the collaboration, in the configured time zone (YYYY-MM-DD)
    Column("ends_on", String(10), nullable=False),
    #: 00:00 the next local day, in UTC (stored form)
    Column("due_at", String(32), nullable=False),
    Column("state", String(10), nullable=False),
    Column("scheduled_by", String, nullable=False),
    #: the scope it was scheduled in: agent, office:ORG or customer:NUMBER
    Column("scope", String(40), nullable=False),
    Column("created_at", String(32), nullable=False),
    #: why the run could not end it: {"code", "message", "hint"} as JSON text
    Column("error", String),
    #: the run that performed it and when it marked it done or failed; the end's audit
    #: event names the schedule id in its details
    Column("claimed_by", String(200)),
    Column("claimed_at", String(32)),
    Index("ix_scheduled_end_due", "state", "due_at", "id"),
)

#: Services added to the catalogue by import (the defaults live in code).
service_definition = Table(
    "service_definition",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("name", String, nullable=False),
    Column("outcomes", JSON, nullable=False),
    Column("checklist", JSON, nullable=False),
)


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
    backends, and Alembic compares the tables with a database through this
    metadata. They are not declared on the tables because checking a
    ``postgresql_where`` option makes SQLAlchemy import its PostgreSQL dialect,
    which every command would pay for on SQLite too. Adds them once; queries
    behave the same with or without them.
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
