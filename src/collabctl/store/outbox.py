"""The outbox: notifications written with the change they report, sent later.

Writing (:func:`queue_pair`, :func:`queue_messages`) happens inside the
transaction of a change, through the change's own plain SQL
(``store.statements.Statements``), so a change that rolls back leaves no
message and a message never exists without its change.

Claiming, marking, retrying and cancelling messages is store/outbox_claims.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import ColumnElement, Table, select, text
from sqlalchemy.engine import Connection

from collabctl.store.models import metadata

if TYPE_CHECKING:
    from collabctl.store.statements import Statements

#: the outbox table, for queries built with SQLAlchemy Core
OUTBOX: Table = metadata.tables["outbox"]
STATES = ("pending", "sent", "failed", "no-address", "cancelled")

_COLUMNS = (
    "created_at, event, customer_number, service, office_org_number, recipient_role, "
    "recipient, language, facts, state, attempts"
)

# One statement for the two messages of a start or an end, the addresses read in it:
# the hot path of a bulk end pays one round trip for its notifications. (The keys
# compared have parameters of their own: PostgreSQL deduces one type per parameter,
# and a value both inserted and compared would get two.)
_QUEUE_PAIR_SQL = f"""
INSERT INTO outbox ({_COLUMNS})
SELECT :at, :event, :number, :service, :office, 'main-contact', u.email, :language, :facts,
       CASE WHEN u.email IS NULL THEN 'no-address' ELSE 'pending' END, 0
FROM (SELECT 1 AS one) AS pair
LEFT JOIN company_user u ON u.customer_number = :number_key AND u.main_contact
UNION ALL
SELECT :at, :event, :number, :service, :office, 'office', o.email, :language, :facts,
       CASE WHEN o.email IS NULL THEN 'no-address' ELSE 'pending' END, 0
FROM (SELECT 1 AS one) AS pair
LEFT JOIN office o ON o.org_number = :office_key
"""
_QUEUE_ONE_SQL = f"""
INSERT INTO outbox ({_COLUMNS})
VALUES (:at, :event, :number, :service, :office, :role, :recipient, :language,
        :facts, :state, 0)
"""


class MessagePair(NamedTuple):
    """The two messages of a start or an end, as :func:`queue_pair` takes them: one to the
    company's main contact and one to the office, each to the address it has when queued."""

    at: str
    event: str
    customer_number: str
    service: str | None
    office_org_number: str
    language: str
    facts: str


def queue_pair(
    sql: Statements,
    *,
    at: str,
    event: str,
    customer_number: str,
    service: str | None,
    office_org_number: str,
    language: str,
    facts: str,
) -> None:
    """The messages to the company's main contact and to the office, each to the address
    it has now (a party without one gets a ``no-address`` message, kept but never sent)."""
    pair = MessagePair(at, event, customer_number, service, office_org_number, language, facts)
    sql.execute(_QUEUE_PAIR_SQL, _pair_params(pair))


def queue_pairs(sql: Statements, pairs: Sequence[MessagePair]) -> None:
    """:func:`queue_pair` for many changes at once (a batch of ends), in the order given:
    on PostgreSQL one statement over the pairs (:data:`_PG_QUEUE_PAIRS_SQL`), on SQLite
    :data:`_QUEUE_PAIR_SQL` run for each."""
    if not pairs:
        return
    if sql.postgres:
        rows = [
            {
                "at": p.at,
                "event": p.event,
                "number": p.customer_number,
                "service": p.service,
                "office": p.office_org_number,
                "language": p.language,
                "facts": p.facts,
            }
            for p in pairs
        ]
        sql.execute(_PG_QUEUE_PAIRS_SQL, {"rows": json.dumps(rows)})
        return
    sql.executemany(_QUEUE_PAIR_SQL, [_pair_params(p) for p in pairs])


def _pair_params(pair: MessagePair) -> dict[str, Any]:
    return {
        "at": pair.at,
        "event": pair.event,
        "number": pair.customer_number,
        "number_key": pair.customer_number,
        "service": pair.service,
        "office": pair.office_org_number,
        "office_key": pair.office_org_number,
        "language": pair.language,
        "facts": pair.facts,
    }


# PostgreSQL, many pairs: per change, the main contact's message then the office's, each
# to the address the party has now (none: a no-address message, never sent), over a JSON
# array of the pairs (encoded in C; psycopg builds array parameters in Python). The
# addresses are found by a lookup per pair (LATERAL), through an index whatever the
# statistics say.
_PG_QUEUE_PAIRS_SQL = f"""
INSERT INTO outbox ({_COLUMNS})
SELECT v.at, v.event, v.number, v.service, v.office, m.role, m.recipient, v.language,
       v.facts, CASE WHEN m.recipient IS NULL THEN 'no-address' ELSE 'pending' END, 0
FROM ROWS FROM (
         json_to_recordset(CAST(:rows AS json))
         AS (at text, event text, number text, service text, office text, language text,
             facts text)
     ) WITH ORDINALITY AS v(at, event, number, service, office, language, facts, n)
CROSS JOIN LATERAL (
    SELECT 0 AS k, 'main-contact' AS role,
           (SELECT u.email FROM company_user u
             WHERE u.customer_number = v.number AND u.main_contact) AS recipient
    UNION ALL
    SELECT 1, 'office', (SELECT o.email FROM office o WHERE o.org_number = v.office)
) AS m
ORDER BY v.n, m.k
"""


@dataclass(frozen=True, slots=True)
class NewMessage:
    role: str  # main-contact | office
    recipient: str | None
    office_org_number: str | None
    facts: str


def queue_messages(
    sql: Statements,
    *,
    at: str,
    event: str,
    customer_number: str,
    service: str | None,
    language: str,
    messages: list[NewMessage],
) -> None:
    for message in messages:
        sql.execute(
            _QUEUE_ONE_SQL,
            {
                "at": at,
                "event": event,
                "number": customer_number,
                "service": service,
                "office": message.office_org_number,
                "role": message.role,
                "recipient": message.recipient,
                "language": language,
                "facts": message.facts,
                "state": "pending" if message.recipient else "no-address",
            },
        )


_ACTIVE_OFFICES_SQL = """
SELECT DISTINCT o.org_number, o.name, o.email
FROM collaboration c JOIN office o ON o.org_number = c.office_org_number
WHERE c.customer_number = :number AND c.state = 'active'
ORDER BY o.org_number
"""


def company_name(sql: Statements, customer_number: str) -> str:
    row = sql.execute(
        "SELECT name FROM company WHERE customer_number = :number", {"number": customer_number}
    ).fetchone()
    return str(row[0]) if row else customer_number


def active_offices(sql: Statements, customer_number: str) -> list[tuple[str, str, str | None]]:
    """(org number, name, e-mail) of every office with an active collaboration with the company."""
    rows = sql.execute(_ACTIVE_OFFICES_SQL, {"number": customer_number}).fetchall()
    return [(org, name, email) for org, name, email in rows]


# -- reading ------------------------------------------------------------------------

#: what :func:`list_messages` gives for each message: the facts are rendered by the caller
_LIST_KEYS = (
    "id",
    "created_at",
    "event",
    "customer_number",
    "service",
    "office_org_number",
    "to",
    "recipient_role",
    "language",
    "facts",
    "state",
    "attempts",
    "deferrals",
    "next_attempt_at",
    "last_error",
    "sent_at",
)
#: the outbox's column for each of :data:`_LIST_KEYS`
_LIST_COLUMNS = tuple("recipient" if key == "to" else key for key in _LIST_KEYS)


def list_messages(
    conn: Connection,
    *,
    state: str | None,
    customer_number: str | None = None,
    visible: ColumnElement[bool] | None = None,
) -> Iterator[dict[str, Any]]:
    """The messages in id order (oldest first), streamed; ``state`` None: every state.
    ``visible``: a WHERE clause on :data:`OUTBOX` that keeps the messages the reader
    may see (the caller's scope). Each is a dict of :data:`_LIST_KEYS`, its text still
    to be rendered from ``facts``."""
    c = OUTBOX.c
    stmt = select(*(c[name] for name in _LIST_COLUMNS)).order_by(c.id)
    if state is not None:
        stmt = stmt.where(c.state == state)
    if customer_number is not None:
        stmt = stmt.where(c.customer_number == customer_number)
    if visible is not None:
        stmt = stmt.where(visible)
    result = conn.execute(stmt, execution_options={"yield_per": 1000})
    return (dict(zip(_LIST_KEYS, row, strict=True)) for row in result)


def count_by_state(conn: Connection) -> dict[str, int]:
    rows = conn.execute(text("SELECT state, count(*) FROM outbox GROUP BY state")).all()
    counts = dict.fromkeys(STATES, 0)
    counts.update({state: int(count) for state, count in rows})
    return counts
