"""The audit log's writer: the one place an audit event is inserted.

Every change writes its event through :func:`insert_audit_event`, in the
transaction of the change: single commands (through
``operations.context.audit``), the end path, and every item of a bulk end.
Whatever has to be computed for each event as it is written belongs here.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, NamedTuple

from collabctl.domain.audit_chain import chain_key, encode, event_hash
from collabctl.store.chain import next_links, seal
from collabctl.store.statements import Statements

_INSERT_SQL = (
    "INSERT INTO audit_event (at, actor, scope, action, customer_number, service, details, "
    "db_user, prev_hash, hash) VALUES (:at, :actor, :scope, :action, :customer_number, "
    ":service, :details, :db_user, :prev_hash, :hash)"
)


class AuditEvent(NamedTuple):
    """An event as a change plans it: the keyword arguments of :func:`insert_audit_event`
    (the chain adds ``db_user``, ``prev_hash`` and ``hash`` when it is written)."""

    at: str
    actor: str
    scope: str
    action: str
    customer_number: str | None
    service: str | None
    details: dict[str, Any]


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
    locked: bool = False,
) -> str:
    """Append one event to the audit log, in the caller's transaction (never committed here).

    The event joins its company's hash chain (collabctl.store.chain): ``locked``
    says the caller already holds the company's row lock, as the end path does.
    Returns the event's time: ``at``, or on PostgreSQL the database's (which the
    database sets whatever the client sends).
    """
    fields: dict[str, Any] = {
        "at": at,
        "actor": actor,
        "scope": scope,
        "action": action,
        "customer_number": customer_number,
        "service": service,
        "details": details,
    }
    chained = seal(sql, **fields, locked=locked)
    # SQLite keeps JSON as text: the details as the canonical encoding writes them
    stored = sql.json(details) if sql.postgres else encode(details)
    sql.execute(_INSERT_SQL, {**fields, "details": stored, **chained})
    return str(chained["at"])


def insert_audit_events(
    sql: Statements, events: list[dict[str, Any]], *, locked: bool = False
) -> None:
    """Append many events at once, in the caller's transaction: a batch of an import.

    Each event is linked into its chain exactly as :func:`insert_audit_event` would
    link it, in the order given; the heads of the chains are read in one query and
    the events written in one go (``Statements.insert_many``: COPY on PostgreSQL).
    ``events`` holds the keyword arguments of :func:`insert_audit_event` (without
    ``locked``, which applies to all).
    """
    if not events:
        return
    links = next_links(sql, (event["customer_number"] for event in events), locked=locked)
    heads = {key: link.prev_hash for key, link in links.items()}  # each chain's head so far
    json = sql.json
    rows = []
    for event in events:
        key = chain_key(event["customer_number"])
        link = links[key]
        at = link.at or event["at"]
        prev_hash = heads[key]
        digest = event_hash({**event, "at": at, "db_user": link.db_user}, prev_hash)
        rows.append(
            (at, *_own_columns(event), json(event["details"]), link.db_user, prev_hash, digest)
        )
        heads[key] = digest
    sql.insert_many("audit_event", (*_EVENT_COLUMNS, "db_user", "prev_hash", "hash"), rows)


#: an event's own columns, ``details`` last
_EVENT_COLUMNS = ("at", "actor", "scope", "action", "customer_number", "service", "details")
#: the values of the columns between ``at`` and ``details``
_own_columns = itemgetter(*_EVENT_COLUMNS[1:-1])
