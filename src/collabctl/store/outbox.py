"""The outbox: notifications written with the change they report, sent later.

Writing (:func:`queue_pair`, :func:`queue_messages`) happens inside the
transaction of a change, through the same plain-SQL executor as the change
(``store.statements.Statements``), so a change that rolls back leaves no
message and a message never exists without its change.

Sending works message by message in short transactions on one connection:

1. **claim** a few pending messages: mark them ``claimed_by`` this sender until
   a lease runs out (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so two senders
   never wait for each other nor take the same row; SQLite: under the write
   lock, which a writing transaction takes at its start);
2. hand one to the SMTP server (outside any transaction);
3. **mark** it ``sent`` (or count the failed attempt) and drop the claim.

A sender killed between 1 and 3 leaves a claim behind. The next run releases
it at once when it can tell the claimer is gone (its PostgreSQL backend no
longer exists; on SQLite, its process on this host no longer exists), else when
the lease runs out. Killed between the server's acceptance and the ``sent``
mark, the message is sent again later with the same ``Message-ID``
(at-least-once for that one message, exactly once otherwise).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Table, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from collabctl.store.models import metadata

#: the outbox table, for queries built with SQLAlchemy Core
OUTBOX: Table = metadata.tables["outbox"]
STATES = ("pending", "sent", "failed", "no-address")
#: a message whose delivery failed this many times is given up (state failed)
MAX_ATTEMPTS = 5


class Executor(Protocol):
    """What the writers need: plain SQL with ``:name`` parameters in the caller's transaction."""

    postgres: bool

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Any: ...


class SessionExecutor:
    """An :class:`Executor` over an ORM session, for the paths that are not hot."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        return self.session.execute(text(sql), params or {})


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


def queue_pair(
    sql: Executor,
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
    sql.execute(
        _QUEUE_PAIR_SQL,
        {
            "at": at,
            "event": event,
            "number": customer_number,
            "number_key": customer_number,
            "service": service,
            "office": office_org_number,
            "office_key": office_org_number,
            "language": language,
            "facts": facts,
        },
    )


@dataclass(frozen=True, slots=True)
class NewMessage:
    role: str  # main-contact | office
    recipient: str | None
    office_org_number: str | None
    facts: str


def queue_messages(
    sql: Executor,
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


def company_name(sql: Executor, customer_number: str) -> str:
    row = sql.execute(
        "SELECT name FROM company WHERE customer_number = :number", {"number": customer_number}
    ).fetchone()
    return str(row[0]) if row else customer_number


def active_offices(sql: Executor, customer_number: str) -> list[tuple[str, str, str | None]]:
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


# -- claiming and marking -----------------------------------------------------------------

_CLAIM_SQL = """
UPDATE outbox SET claimed_by = :token, claimed_until = :until
WHERE id IN (
    SELECT id FROM outbox
    WHERE state = 'pending' AND (claimed_until IS NULL OR claimed_until < :now)
    ORDER BY attempts, id
    LIMIT :limit{lock}
)
RETURNING id, created_at, event, customer_number, service, office_org_number, recipient_role,
          recipient, language, facts, attempts
"""
_CLAIMERS_SQL = """
SELECT DISTINCT claimed_by FROM outbox
WHERE state = 'pending' AND claimed_by IS NOT NULL AND claimed_until >= :now
"""
_RELEASE_SQL = """
UPDATE outbox SET claimed_by = NULL, claimed_until = NULL
WHERE state = 'pending' AND claimed_by = :token
"""
_SENT_SQL = """
UPDATE outbox SET state = 'sent', sent_at = :now, attempts = attempts + 1, last_error = NULL,
                  claimed_by = NULL, claimed_until = NULL
WHERE id = :id AND state = 'pending'
"""
# The claim stays until the run ends (release), so one run tries a message once.
_FAILED_SQL = """
UPDATE outbox SET attempts = attempts + 1, last_error = :error,
                  state = CASE WHEN attempts + 1 >= :max THEN 'failed' ELSE 'pending' END
WHERE id = :id AND state = 'pending'
RETURNING state, attempts
"""


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    created_at: str
    event: str
    customer_number: str
    service: str | None
    office_org_number: str | None
    recipient_role: str
    recipient: str
    language: str
    facts: str
    attempts: int


def claimer_token(conn: Connection) -> str:
    """Who is claiming, in a form a later run can check for life (see :func:`is_alive`)."""
    host = socket.gethostname()
    if conn.dialect.name == "postgresql":
        pid, started = conn.execute(
            text("SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        ).one()
        return f"pg|{pid}|{started.isoformat() if started else ''}|{host}"
    return f"local|{host}|{os.getpid()}|{os.urandom(4).hex()}"


def is_alive(conn: Connection, token: str) -> bool:
    """Whether the sender that made ``token`` may still be running (when unsure: yes)."""
    parts = token.split("|")
    if parts[0] == "pg" and len(parts) == 4 and conn.dialect.name == "postgresql":
        row = conn.execute(
            text("SELECT backend_start FROM pg_stat_activity WHERE pid = :pid"),
            {"pid": int(parts[1])},
        ).first()
        if row is None:
            return False
        # without the privilege to see other roles' sessions the start time is hidden
        return row[0] is None or not parts[2] or row[0].isoformat() == parts[2]
    if parts[0] == "local" and len(parts) == 4 and parts[1] == socket.gethostname():
        try:
            os.kill(int(parts[2]), 0)
        except ProcessLookupError:
            return False
        except (PermissionError, ValueError, OverflowError):
            return True
        return True
    return True


def release_abandoned(conn: Connection, now: str) -> int:
    """Free the claims of senders that are gone; in the caller's transaction."""
    released = 0
    for (token,) in conn.execute(text(_CLAIMERS_SQL), {"now": now}).all():
        if not is_alive(conn, token):
            released += conn.execute(text(_RELEASE_SQL), {"token": token}).rowcount
    return released


def claim(conn: Connection, token: str, *, now: str, until: str, limit: int) -> list[Claimed]:
    """Claim up to ``limit`` pending messages, fewest attempts first; in the caller's transaction."""
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else ""
    rows = conn.execute(
        text(_CLAIM_SQL.format(lock=lock)),
        {"token": token, "until": until, "now": now, "limit": limit},
    ).all()
    claimed = [Claimed(*row) for row in rows]
    claimed.sort(key=lambda m: (m.attempts, m.id))
    return claimed


def renew(conn: Connection, token: str, until: str) -> None:
    """Extend this sender's claims (a run slow enough to come near the lease)."""
    conn.execute(
        text(
            "UPDATE outbox SET claimed_until = :until "
            "WHERE state = 'pending' AND claimed_by = :token"
        ),
        {"token": token, "until": until},
    )


def release(conn: Connection, token: str) -> int:
    return conn.execute(text(_RELEASE_SQL), {"token": token}).rowcount


def mark_sent(conn: Connection, message_id: int, now: str) -> None:
    conn.execute(text(_SENT_SQL), {"id": message_id, "now": now})


def mark_failed(conn: Connection, message_id: int, error: str) -> tuple[str, int] | None:
    """Count a failed attempt; returns the new (state, attempts), None if no longer pending."""
    row = conn.execute(
        text(_FAILED_SQL), {"id": message_id, "error": error, "max": MAX_ATTEMPTS}
    ).first()
    return (row[0], int(row[1])) if row else None
