"""Scope: what the acting party (``--as``) may see and change. Every query and check
that depends on the party asks this module.

The rules:

- **No scope** (a support agent): everything.
- **customer:K** sees and changes everything of its own company K, nothing of any
  other company.
- **office:X** sees its own collaborations, in any state (``list``, an ``end`` of
  its own collaboration that already ended). It sees a company (``show``,
  ``export``, its users, the ``end`` pre-flight) only while it has an active
  collaboration with it, and then only the facts of its own collaborations: their
  services' subscriptions, records and access, never another office. In ``log`` it
  sees the events it made itself and the start and end of its own collaborations,
  not company-wide events (an import, another party's user change or export).
  It changes a company (``start``, user changes, main contact) only while it has
  an active collaboration with it, and starts collaborations only for itself.

What a party may not see is ``not-found``, worded the same as for a company that
does not exist, so the answer tells nothing (also for a change: ``user``,
``restore``, ``start``); what it may see but not change (another office's
collaboration) is ``not-a-party``. Neither names a company, service or party the scope cannot see.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table, and_, or_, select, true

from collabctl.domain.errors import NotAParty, NotFound
from collabctl.operations.context import Context, Party
from collabctl.store import tables

if TYPE_CHECKING:
    from collabctl.store.database import Reader

_COLLABORATION: Table = tables.collaboration
_AUDIT_EVENT: Table = tables.audit_event

#: audit actions that concern one collaboration and name its office in details.office_org_number
COLLABORATION_ACTIONS = ("start", "end", "schedule", "schedule-cancel")


class View(Enum):
    """How much of a collaboration a party may see."""

    FULL = "full"  # a party to it (is_party_to), or no scope: every detail
    REDACTED = "redacted"  # a company the office works for, another office's collaboration
    HIDDEN = "hidden"  # not-found


# -- filters for queries ----------------------------------------------------------------


def collaboration_filter(party: Party | None, table: Table = _COLLABORATION) -> ColumnElement[bool]:
    """A WHERE clause on ``table`` (the collaboration table, or an alias of it) that keeps
    the collaborations the party sees: its own, in any state."""
    if party is None:
        return true()
    column = table.c.office_org_number if party.kind == "office" else table.c.customer_number
    return column == party.key


def company_filter(party: Party | None, number: ColumnElement[Any]) -> ColumnElement[bool]:
    """A WHERE clause on a customer number column that keeps the companies the party sees
    (``sees_company``): all, its own, or those the office has an active collaboration with."""
    if party is None:
        return true()
    if party.kind == "customer":
        return number == party.key
    c = _COLLABORATION.c
    working = select(c.customer_number).where(c.office_org_number == party.key, c.state == "active")
    return number.in_(working)


def event_filter(party: Party | None, table: Table = _AUDIT_EVENT) -> ColumnElement[bool]:
    """A WHERE clause on the audit event table that keeps the events the party sees."""
    if party is None:
        return true()
    if party.kind == "customer":
        return table.c.customer_number == party.key
    return or_(
        table.c.scope == str(party),
        and_(
            table.c.action.in_(COLLABORATION_ACTIONS),
            table.c.details["office_org_number"].as_string() == party.key,
        ),
    )


# -- facts ----------------------------------------------------------------------------


def works_for(session: Reader, office: str, number: str) -> bool:
    """Whether the office has an active collaboration with the company now."""
    c = _COLLABORATION.c
    found = session.execute(
        select(c.id)
        .where(c.customer_number == number, c.office_org_number == office, c.state == "active")
        .limit(1)
    ).first()
    return found is not None


def office_services(session: Reader, office: str, number: str, *, active_only: bool) -> list[str]:
    """The services of the office's own collaborations with the company, sorted."""
    c = _COLLABORATION.c
    stmt = select(c.service).where(c.customer_number == number, c.office_org_number == office)
    if active_only:
        stmt = stmt.where(c.state == "active")
    return sorted(set(session.scalars(stmt.distinct())))


def sees_company(session: Reader, party: Party | None, number: str) -> bool:
    """Whether the party may see the company's facts (``show``, ``export``, its users)."""
    if party is None:
        return True
    if party.kind == "customer":
        return party.key == number
    return works_for(session, party.key, number)


def is_party_to(party: Party | None, number: str, office: str | None) -> bool:
    """Whether the party is a party to the collaboration of company ``number`` with ``office``
    (and so sees all of it and may end it)."""
    if party is None:
        return True
    if party.kind == "customer":
        return party.key == number
    return office is not None and party.key == office


def collaboration_view(
    session: Reader, party: Party | None, number: str, office: str | None
) -> View:
    """How much the party may see of company ``number``'s collaboration with ``office``
    (``office`` None: the company has none for the service)."""
    if is_party_to(party, number, office):
        return View.FULL
    if party is not None and party.kind == "office" and works_for(session, party.key, number):
        return View.REDACTED
    return View.HIDDEN


# -- checks -----------------------------------------------------------------------------


def not_found(party: Party | None, number: str) -> NotFound:
    """The answer for a company that does not exist or that the party may not see."""
    if party is None:
        return NotFound(
            f"customer {number} does not exist",
            "check the number with `collabctl list`, or load the company with `collabctl import`",
        )
    if party.kind == "office":
        reach = "the companies the office has an active collaboration with"
    else:
        reach = "its own company"
    return NotFound(
        f"customer {number} not found (acting as {party})",
        f"acting as {party}, collabctl finds {reach}; check the number with `collabctl list`, "
        "or act without --as as a support agent",
    )


def require_visible(session: Reader, ctx: Context, number: str) -> None:
    """The party may see the company, or ``not-found`` (before anything else is read)."""
    if not sees_company(session, ctx.party, number):
        raise not_found(ctx.party, number)


def require_party(session: Reader, ctx: Context, number: str) -> None:
    """The party may change the company (``start``, users, main contact, restore), or
    ``not-found``: a party may change every company it sees, so one it may not change is
    one it may not see, answered exactly as one that does not exist."""
    if not sees_company(session, ctx.party, number):
        raise not_found(ctx.party, number)


def require_office(ctx: Context, office: str) -> None:
    """An office acts only for itself (``start --office``)."""
    party = ctx.party
    if party is not None and party.kind == "office" and party.key != office:
        raise NotAParty(
            f"acting as {party}, collabctl cannot start a collaboration for another office",
            f"use --office {party.key}, or act without --as",
        )


def visible_services(session: Reader, party: Party | None, number: str) -> list[str] | None:
    """The services of a visible company whose facts the party sees; None: all of them."""
    if party is None or party.kind == "customer":
        return None
    return office_services(session, party.key, number, active_only=False)


def exportable_services(session: Reader, party: Party | None, number: str) -> list[str] | None:
    """The services the party may export of a visible company; None: all of them.

    An office exports only the services it has an active collaboration for.
    """
    if party is None or party.kind == "customer":
        return None
    return office_services(session, party.key, number, active_only=True)
