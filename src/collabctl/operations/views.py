"""Read-only views: the collaboration list, one company in full, the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from collabctl.domain import validation
from collabctl.domain.errors import InvalidInput
from collabctl.domain.keys import EVENT_KEYS
from collabctl.operations import scope
from collabctl.operations.companies import (
    COLLABORATION,
    collaboration_dict,
    collaboration_select,
    company_users,
    get_company,
    record_counts,
)
from collabctl.operations.context import Context, parse_timestamp
from collabctl.store.models import AuditEvent, Office, Subscription

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
        stmt = stmt.where(scope.collaboration_filter(ctx.party))
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
    party = ctx.party
    scope.require_visible(session, ctx, number)
    company = get_company(session, number)
    columns = COLLABORATION.c
    collaborations = [
        collaboration_dict(row)
        for row in session.execute(
            collaboration_select()
            .where(columns.customer_number == number, scope.collaboration_filter(party))
            .order_by(columns.service, columns.started_at)
        )
    ]
    # an office sees the facts of its own collaborations' services only
    visible = scope.visible_services(session, party, number)
    users = [user_dict(u) for u in company_users(session, number)]
    if visible is not None:
        for user in users:
            user["services"] = [s for s in user["services"] if s in visible]
    counts = record_counts(session, number)
    subscriptions = [
        sub
        for sub in session.scalars(
            select(Subscription)
            .where(col(Subscription.customer_number) == number)
            .order_by(col(Subscription.service))
        )
        if visible is None or sub.service in visible
    ]
    active_offices: dict[str, set[str]] = {}
    for c in collaborations:
        if c["state"] == "active":
            active_offices.setdefault(c["office_org_number"], set()).add(c["service"])
    access = []
    for sub in subscriptions:
        if party is None or party.kind == "customer":
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
    main = next((u["email"] for u in users if u["main_contact"]), None)
    return {
        "customer_number": company.customer_number,
        "org_number": company.org_number,
        "name": company.name,
        "main_contact": main,
        "users": users,
        "subscriptions": [
            {"service": s.service, "state": s.state, "records": counts.get(s.service, 0)}
            for s in subscriptions
        ],
        "collaborations": collaborations,
        "offices": _offices(session, {c["office_org_number"] for c in collaborations}),
        "access": access,
    }


def _offices(session: Session, org_numbers: set[str]) -> list[dict[str, Any]]:
    """The offices named in ``show``, with the address their notifications go to."""
    if not org_numbers:
        return []
    rows = session.execute(
        select(col(Office.org_number), col(Office.name), col(Office.email))
        .where(col(Office.org_number).in_(org_numbers))
        .order_by(col(Office.org_number))
    )
    return [{"org_number": org, "name": name, "email": email} for org, name, email in rows]


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
        stmt = stmt.where(scope.event_filter(ctx.party))
    stmt = stmt.order_by(col(AuditEvent.id))
    rows = session.execute(stmt.execution_options(yield_per=1000))
    return (dict(zip(EVENT_KEYS, row, strict=True)) for row in rows)
