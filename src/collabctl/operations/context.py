"""Who is acting, for whom, with which catalogue; the clock; writing an audit event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import select

from collabctl.domain import validation
from collabctl.domain.catalogue import Catalogue, Service, service_from_mapping
from collabctl.domain.errors import InvalidInput
from collabctl.store.tables import service_definition

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from collabctl.store.database import Reader
    from collabctl.store.statements import Statements

PARTY_KINDS = ("office", "customer")


def now_iso() -> str:
    """Now, in the stored form (``2026-11-29T19:30:56.268364Z``): what format_timestamp
    writes, by the faster isoformat (the year now has four digits)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def change_time(sql: Statements | Session) -> str:
    """The time of a change made in this transaction, as its audit event will have it:
    the database's on PostgreSQL (which sets the event's time), else :func:`now_iso`."""
    from collabctl.store.chain import transaction_time
    from collabctl.store.statements import Statements

    statements = sql if isinstance(sql, Statements) else Statements(sql)
    return transaction_time(statements) or now_iso()


def format_timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(value: object, field: str = "timestamp") -> str:
    """Any ISO-8601 time (a date alone means midnight UTC) in the stored fixed-width form;
    a time outside years 1-9999 in UTC is invalid input, as any other invalid time."""
    return validation.timestamp(value, field)


class Party(NamedTuple):
    kind: str  # office | customer
    key: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"

    @classmethod
    def parse(cls, text: str) -> Party:
        kind, sep, key = text.partition(":")
        if not sep or kind not in PARTY_KINDS:
            raise InvalidInput(
                f"--as: {text!r} is not a party",
                "use --as office:ORG_NUMBER or --as customer:CUSTOMER_NUMBER",
            )
        if kind == "office":
            return cls(kind, validation.org_number(key, "--as office"))
        return cls(kind, validation.customer_number(key, "--as customer"))


@dataclass
class Context:
    """What every operation needs to know about the caller."""

    actor: str
    party: Party | None = None
    catalogue: Catalogue = field(default_factory=Catalogue)
    #: the language of the notifications this caller's changes queue (mail_language)
    mail_language: str = "en"

    @property
    def scope(self) -> str:
        return str(self.party) if self.party else "agent"

    def service(self, code: object, field: str = "service") -> Service:
        return self.catalogue.get(code, field)


def load_catalogue(session: Reader, base: Catalogue) -> Catalogue:
    # the table's columns, not ORM objects: every command runs this, and an ORM query
    # would first set up every mapper
    table = service_definition
    rows = session.execute(
        select(table.c.code, table.c.name, table.c.outcomes, table.c.checklist)
    ).all()
    if not rows:
        return base
    return base.extended(
        service_from_mapping(
            {"code": r.code, "name": r.name, "outcomes": r.outcomes, "checklist": r.checklist}
        )
        for r in rows
    )


def audit(
    session: Session,
    ctx: Context,
    action: str,
    customer_number: str | None,
    service: str | None,
    details: dict[str, Any],
    at: str | None = None,
) -> str:
    """Write one audit event for a change made through ``session``; returns its time."""
    # here, not at the top: a read builds a Context too, and never writes an event
    from collabctl.store.audit import insert_audit_event
    from collabctl.store.statements import Statements

    return insert_audit_event(
        Statements(session),
        at=at or now_iso(),
        actor=ctx.actor,
        scope=ctx.scope,
        action=action,
        customer_number=customer_number,
        service=service,
        details=details,
    )
