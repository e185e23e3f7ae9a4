"""Read-only views: the collaboration list, one company in full, the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from collabctl.domain import validation
from collabctl.domain.errors import InvalidInput, NotAParty
from collabctl.domain.keys import EVENT_KEYS
from collabctl.operations.companies import (
    COLLABORATION,
    collaboration_dict,
    collaboration_select,
    company_users,
    get_company,
    record_counts,
)
from collabctl.operations.context import Context, parse_timestamp
from collabctl.store.models import AuditEvent, Collaboration, Subscription

STATES = ("active", "ended", "all")


def list_collaborations(
    session: Session,
    ctx: Context,
    *,
    customer: str | None = None,
    office: str | None = None,
    service: str | None = None,
    state: str = "active",
) -> Iterator[dict[str, Any]]:
    """Collaborations, streamed from the database in key order."""
    if state not in STATES:
        raise InvalidInput(f"--state: {state!r} is not allowed", "use active, ended or all")
    stmt = collaboration_select()
    c = COLLABORATION.c  # table columns throughout, as in collaboration_select
    if customer is not None:
        stmt = stmt.where(c.customer_number == validation.customer_number(customer, "--customer"))
    if office is not None:
        stmt = stmt.where(c.office_org_number == validation.org_number(office, "--office"))
    if service is not None:
        stmt = stmt.where(c.service == ctx.service(service, "--service").code)
    if state != "all":
        stmt = stmt.where(c.state == state)
    if ctx.party is not None:
        column = c.office_org_number if ctx.party.kind == "office" else c.customer_number
        stmt = stmt.where(column == ctx.party.key)
    stmt = stmt.order_by(c.customer_number, c.service, c.started_at)
    # Not a generator function: bad filters must fail before any output is written.
    rows = session.execute(stmt.execution_options(yield_per=1000))
    return (collaboration_dict(row) for row in rows)


def _access(
    sub_state: str, party_active: bool, office_other_active: bool, is_customer: bool
) -> str:
    if sub_state == "active":
        return "read-write" if is_customer or party_active else "none"
    if sub_state == "read-only":
        if is_customer:
            return "read"
        return "read" if office_other_active else "none"
    return "none"  # no-access, deleted


def show_company(session: Session, ctx: Context, number: str) -> dict[str, Any]:
    # here, not at the top: `list` imports this module and needs none of parties
    from collabctl.operations.parties import user_dict

    number = validation.customer_number(number, "CUSTOMER")
    company = get_company(session, number)
    ctx.require_customer_party(number)
    collaborations = [
        collaboration_dict(row)
        for row in session.execute(
            collaboration_select()
            .where(col(Collaboration.customer_number) == number)
            .order_by(col(Collaboration.service), col(Collaboration.started_at))
        )
    ]
    if ctx.party is not None and ctx.party.kind == "office":
        collaborations = [c for c in collaborations if c["office_org_number"] == ctx.party.key]
        if not collaborations:
            raise NotAParty(
                f"acting as {ctx.party}, collabctl cannot show customer {number}: "
                "the office has never collaborated with it",
                "a support agent can act without --as",
            )
    users = company_users(session, number)
    counts = record_counts(session, number)
    subscriptions = list(
        session.scalars(
            select(Subscription)
            .where(col(Subscription.customer_number) == number)
            .order_by(col(Subscription.service))
        )
    )
    active_offices: dict[str, set[str]] = {}
    for c in collaborations:
        if c["state"] == "active":
            active_offices.setdefault(c["office_org_number"], set()).add(c["service"])
    access = []
    for sub in subscriptions:
        if ctx.party is None or ctx.party.kind == "customer":
            access.append(
                {
                    "service": sub.service,
                    "party": f"customer:{number}",
                    "access": _access(sub.state, False, False, True),
                }
            )
        offices = sorted(
            {c["office_org_number"] for c in collaborations if c["service"] == sub.service}
        )
        for org in offices:
            services = active_offices.get(org, set())
            access.append(
                {
                    "service": sub.service,
                    "party": f"office:{org}",
                    "access": _access(
                        sub.state, sub.service in services, bool(services - {sub.service}), False
                    ),
                }
            )
    main = next((u.email for u in users if u.main_contact), None)
    return {
        "customer_number": company.customer_number,
        "org_number": company.org_number,
        "name": company.name,
        "main_contact": main,
        "users": [user_dict(u) for u in users],
        "subscriptions": [
            {"service": s.service, "state": s.state, "records": counts.get(s.service, 0)}
            for s in subscriptions
        ],
        "collaborations": collaborations,
        "access": access,
    }


def audit_events(
    session: Session,
    ctx: Context,
    *,
    customer: str | None = None,
    service: str | None = None,
    since: str | None = None,
) -> Iterator[dict[str, Any]]:
    stmt = select(*(getattr(AuditEvent, k) for k in EVENT_KEYS))
    if customer is not None:
        stmt = stmt.where(
            col(AuditEvent.customer_number) == validation.customer_number(customer, "--customer")
        )
    if service is not None:
        stmt = stmt.where(col(AuditEvent.service) == ctx.service(service, "--service").code)
    if since is not None:
        stmt = stmt.where(col(AuditEvent.at) >= parse_timestamp(since, "--since"))
    if ctx.party is not None:
        if ctx.party.kind == "customer":
            stmt = stmt.where(col(AuditEvent.customer_number) == ctx.party.key)
        else:
            # An office sees the company-wide events of the companies it works or worked
            # for, and the per-service events only of its own collaborations: the end of
            # another office's collaboration with the same company is not its business.
            own = (
                select(col(Collaboration.id))
                .where(
                    col(Collaboration.office_org_number) == ctx.party.key,
                    col(Collaboration.customer_number) == col(AuditEvent.customer_number),
                    or_(
                        col(AuditEvent.service).is_(None),
                        col(Collaboration.service) == col(AuditEvent.service),
                    ),
                )
                .exists()
            )
            stmt = stmt.where(own)
    stmt = stmt.order_by(col(AuditEvent.id))
    rows = session.execute(stmt.execution_options(yield_per=1000))
    return (dict(zip(EVENT_KEYS, row, strict=True)) for row in rows)
