"""An import's SQL: the rows a batch of items is compared with, read in one query per
table, and the rows a batch writes (:class:`Writes`, built by
``collabctl.operations.importing.plan``), one statement per kind of row.

The reads list their keys with an expanding bind parameter (``IN (...)`` on every
backend); the writes are plain SQL on the session's connection (``store.statements``),
like the end path: building SQLAlchemy statements and ORM objects for each row would
cost more than the work.
On PostgreSQL the batch's existing companies are locked first, as every writer of a
company locks them (``store.locks.lock_companies``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from operator import itemgetter
from typing import Any

from collabctl.store.locks import lock_companies
from collabctl.store.statements import Statements

#: keys per ``IN (...)`` list (SQLite's oldest limit is 999 parameters a statement)
_CHUNK = 500


def _select_in(
    sql: Statements, select: str, column: str, keys: Iterable[str], tail: str = ""
) -> Iterator[Any]:
    """The rows of ``select`` whose ``column`` is one of ``keys``, a chunk of keys a query
    (``tail``: what follows the condition, an ORDER BY)."""
    statement = f"{select} WHERE {column} IN :keys{tail}"
    ordered = sorted(set(keys))
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        yield from sql.execute_in(statement, {"keys": chunk}, keys="keys")


# -- what is stored -------------------------------------------------------------------


@dataclass(slots=True)
class StoredUser:
    id: int
    email: str
    values: dict[str, Any]  # name, role, main_contact, services


@dataclass(slots=True)
class StoredCollaboration:
    id: int
    service: str
    office: str
    state: str
    started_at: str
    ended_at: str | None
    ended_by: str | None
    actor: str | None
    outcome: str | None
    reason: str | None


@dataclass(slots=True)
class StoredRecord:
    id: int
    values: dict[str, Any]  # kind, status, owner, payload


@dataclass(slots=True)
class StoredCompany:
    org_number: str
    name: str
    users: dict[str, StoredUser] = field(default_factory=dict)  # by e-mail key
    subscriptions: dict[str, str] = field(default_factory=dict)  # service -> state
    collaborations: list[StoredCollaboration] = field(default_factory=list)
    records: dict[tuple[str, str], StoredRecord] = field(default_factory=dict)


def read_offices(sql: Statements, org_numbers: Iterable[str]) -> dict[str, dict[str, Any]]:
    return {
        org: {"name": name, "email": email}
        for org, name, email in _select_in(
            sql, "SELECT org_number, name, email FROM office", "org_number", org_numbers
        )
    }


def read_companies(
    sql: Statements, numbers: Iterable[str], with_records: set[str]
) -> dict[str, StoredCompany]:
    """The stored companies among ``numbers`` with their rows; records only for
    ``with_records`` (the companies whose items list records)."""
    numbers = list(numbers)
    lock_companies(sql, numbers)
    companies = {
        number: StoredCompany(org, name)
        for number, org, name in _select_in(
            sql, "SELECT customer_number, org_number, name FROM company", "customer_number", numbers
        )
    }
    if not companies:
        return companies
    for id_, number, email, key, name, role, main, services in _select_in(
        sql,
        "SELECT id, customer_number, email, email_key, name, role, main_contact, services"
        " FROM company_user",
        "customer_number",
        companies,
        " ORDER BY id",
    ):
        companies[number].users[key] = StoredUser(
            id_,
            email,
            {
                "name": name,
                "role": role,
                "main_contact": bool(main),
                "services": sql.from_json(services) or [],
            },
        )
    for number, service, state in _select_in(
        sql,
        "SELECT customer_number, service, state FROM subscription",
        "customer_number",
        companies,
    ):
        companies[number].subscriptions[service] = state
    for row in _select_in(
        sql,
        "SELECT id, customer_number, service, office_org_number, state, started_at, ended_at,"
        " ended_by, ended_actor, outcome, reason FROM collaboration",
        "customer_number",
        companies,
        " ORDER BY id",
    ):
        companies[row[1]].collaborations.append(StoredCollaboration(row[0], *row[2:]))
    wanted = [number for number in companies if number in with_records]
    for id_, number, service, record_id, kind, owner, status, payload in _select_in(
        sql,
        "SELECT id, customer_number, service, record_id, kind, owner, status, payload"
        " FROM service_record",
        "customer_number",
        wanted,
    ):
        companies[number].records[(service, record_id)] = StoredRecord(
            id_,
            {"kind": kind, "status": status, "owner": owner, "payload": sql.from_json(payload)},
        )
    return companies


def read_service(sql: Statements, code: str) -> dict[str, Any] | None:
    row = sql.execute(
        "SELECT name, outcomes, checklist FROM service_definition WHERE code = :code",
        {"code": code},
    ).fetchone()
    if row is None:
        return None
    return {
        "name": row[0],
        "outcomes": sql.from_json(row[1]),
        "checklist": sql.from_json(row[2]),
    }


# -- what a batch writes ----------------------------------------------------------------


@dataclass
class Writes:
    """The rows a batch inserts and updates, by statement, in the order they run.

    Users whose main-contact flag ends up cleared are updated before any user is
    made main contact, so the one-main-contact-per-company index never sees two.
    """

    offices_new: list[dict[str, Any]] = field(default_factory=list)
    offices_changed: list[dict[str, Any]] = field(default_factory=list)
    services_new: list[dict[str, Any]] = field(default_factory=list)
    services_changed: list[dict[str, Any]] = field(default_factory=list)
    companies_new: list[dict[str, Any]] = field(default_factory=list)
    companies_changed: list[dict[str, Any]] = field(default_factory=list)
    users_not_main: list[dict[str, Any]] = field(default_factory=list)
    users_changed: list[dict[str, Any]] = field(default_factory=list)
    users_new: list[dict[str, Any]] = field(default_factory=list)
    subscriptions_new: list[dict[str, Any]] = field(default_factory=list)
    subscriptions_touched: list[dict[str, Any]] = field(default_factory=list)
    collaborations_new: list[dict[str, Any]] = field(default_factory=list)
    collaborations_changed: list[dict[str, Any]] = field(default_factory=list)
    records_new: list[dict[str, Any]] = field(default_factory=list)
    records_changed: list[dict[str, Any]] = field(default_factory=list)
    #: audit events: keyword arguments of store.audit.insert_audit_event
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lists = tuple(getattr(self, f.name) for f in fields(self))

    def mark(self) -> tuple[int, ...]:
        """Where each list ends now, to drop what a failing item added (:meth:`undo`)."""
        return tuple(map(len, self._lists))

    def undo(self, mark: tuple[int, ...]) -> None:
        for rows, length in zip(self._lists, mark, strict=True):
            del rows[length:]


def _insert(table: str, **columns: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """An insert into ``table``: its columns and the key of each in a row of Writes."""
    return table, tuple(columns.items())


#: What a batch writes, in this order: (list of Writes, an insert or an UPDATE statement)
_STATEMENTS: tuple[tuple[str, str | tuple[str, tuple[tuple[str, str], ...]]], ...] = (
    ("offices_new", _insert("office", org_number="org", name="name", email="email")),
    ("offices_changed", "UPDATE office SET name = :name, email = :email WHERE org_number = :org"),
    (
        "services_new",
        _insert(
            "service_definition",
            code="code",
            name="name",
            outcomes="outcomes",
            checklist="checklist",
        ),
    ),
    (
        "services_changed",
        "UPDATE service_definition SET name = :name, outcomes = :outcomes,"
        " checklist = :checklist WHERE code = :code",
    ),
    ("companies_new", _insert("company", customer_number="number", org_number="org", name="name")),
    (
        "companies_changed",
        "UPDATE company SET org_number = :org, name = :name WHERE customer_number = :number",
    ),
    *(
        (
            name,
            "UPDATE company_user SET name = :name, role = :role, main_contact = :main_contact,"
            " services = :services WHERE id = :id",
        )
        for name in ("users_not_main", "users_changed")
    ),
    (
        "users_new",
        _insert(
            "company_user",
            customer_number="number",
            email="email",
            email_key="key",
            name="name",
            role="role",
            main_contact="main_contact",
            services="services",
        ),
    ),
    (
        "subscriptions_new",
        _insert(
            "subscription",
            customer_number="number",
            service="service",
            state="state",
            records_changed_at="records_changed_at",
        ),
    ),
    (
        "subscriptions_touched",
        "UPDATE subscription SET records_changed_at = :at"
        " WHERE customer_number = :number AND service = :service",
    ),
    (
        "collaborations_new",
        _insert(
            "collaboration",
            customer_number="number",
            service="service",
            office_org_number="office",
            state="state",
            started_at="started_at",
            ended_at="ended_at",
            ended_by="ended_by",
            ended_actor="actor",
            outcome="outcome",
            reason="reason",
        ),
    ),
    (
        "collaborations_changed",
        "UPDATE collaboration SET ended_actor = :actor, reason = :reason WHERE id = :id",
    ),
    (
        "records_new",
        _insert(
            "service_record",
            customer_number="number",
            service="service",
            record_id="record_id",
            kind="kind",
            owner="owner",
            status="status",
            payload="payload",
        ),
    ),
    (
        "records_changed",
        "UPDATE service_record SET kind = :kind, owner = :owner, status = :status,"
        " payload = :payload WHERE id = :id",
    ),
)

#: columns holding JSON, serialised per backend as they are written
_JSON_COLUMNS = ("services", "payload", "outcomes", "checklist")


def write(sql: Statements, writes: Writes) -> None:
    """Run the batch's statements, then insert its audit events (store.audit).

    New rows go in with ``Statements.insert_many`` (COPY on PostgreSQL).

    The events' companies are locked already: by :func:`read_companies` or inserted
    by this transaction.
    """
    from collabctl.store.audit import insert_audit_events

    for name, statement in _STATEMENTS:
        rows = getattr(writes, name)
        if not rows:
            continue
        for column in _JSON_COLUMNS:
            if column in rows[0]:
                for row in rows:  # the rows are built again for each try of a batch
                    row[column] = sql.json(row[column])
        if isinstance(statement, str):
            sql.executemany(statement, rows)
        else:
            table, columns = statement
            values = itemgetter(*(key for _, key in columns))
            sql.insert_many(table, [column for column, _ in columns], list(map(values, rows)))
    insert_audit_events(sql, writes.events, locked=True)


#: The table each list of Writes goes to (its statistics are refreshed after an import).
TABLE_OF_WRITES = {
    "offices_new": "office",
    "offices_changed": "office",
    "services_new": "service_definition",
    "services_changed": "service_definition",
    "companies_new": "company",
    "companies_changed": "company",
    "users_not_main": "company_user",
    "users_changed": "company_user",
    "users_new": "company_user",
    "subscriptions_new": "subscription",
    "subscriptions_touched": "subscription",
    "collaborations_new": "collaboration",
    "collaborations_changed": "collaboration",
    "records_new": "service_record",
    "records_changed": "service_record",
    "events": "audit_event",
}


def count_written(writes: Writes, counts: dict[str, int]) -> None:
    """Add the rows ``writes`` holds to ``counts``, by table."""
    for name, table in TABLE_OF_WRITES.items():
        rows = len(getattr(writes, name))
        if rows:
            counts[table] = counts.get(table, 0) + rows
