"""Read-only views: the collaboration list, one company in full, the audit log."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, select

from collabctl.domain import suggest, validation
from collabctl.domain.errors import InvalidInput, NotFound
from collabctl.domain.keys import EVENT_KEYS
from collabctl.operations import scope
from collabctl.operations.companies import (
    COLLABORATION,
    collaboration_dict,
    collaboration_select,
    record_counts,
)
from collabctl.operations.context import Context, parse_timestamp
from collabctl.operations.ends_at import scheduled_ends, with_ends_at
from collabctl.store import tables

if TYPE_CHECKING:
    from collabctl.store.database import Reader

# Reads only, on Core tables: `list`, `show` and `log` import neither SQLModel nor
# SQLAlchemy's ORM (tests/test_startup.py).

STATES = ("active", "ended", "all")
#: ``list --sort``: the order of the rows (ties in customer number and service order)
SORTS = ("customer", "started", "ended")

_COMPANY: Table = tables.company


def list_collaborations(
    session: Reader,
    ctx: Context,
    *,
    customer: str | None = None,
    office: str | None = None,
    service: str | None = None,
    state: str = "active",
    search: str | None = None,
    sort: str = "customer",
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Collaborations, streamed from the database in the order ``sort`` names.

    ``search`` keeps those of companies whose customer number or org number is
    the text, or whose name contains it (case-insensitively, in any script).
    """
    if state not in STATES:
        raise InvalidInput(f"--state: {state!r} is not allowed", "use active, ended or all")
    if sort not in SORTS:
        raise InvalidInput(f"--sort: {sort!r} is not allowed", "use customer, started or ended")
    if limit is not None:
        validation.count(limit, "--limit", "20")
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
    keys = (c.customer_number, c.service, c.started_at)
    if sort == "started":
        stmt = stmt.order_by(c.started_at, *keys)
    elif sort == "ended":  # the ones still active after the ended ones
        stmt = stmt.order_by(c.ended_at.is_(None), c.ended_at, *keys)
    else:
        stmt = stmt.order_by(*keys)
    if search is None:
        if limit is not None:
            stmt = stmt.limit(limit)
        # Not a generator function: bad filters must fail before any output is written.
        ends = scheduled_ends(session, customer and validation.customer_number(customer))
        rows = session.execute(stmt.execution_options(yield_per=1000))
        return with_ends_at((collaboration_dict(row) for row in rows), ends)
    matches = _search(search)
    ends = scheduled_ends(session)
    stmt = stmt.add_columns(_COMPANY.c.org_number)
    rows = session.execute(stmt.execution_options(yield_per=1000))
    found = with_ends_at(
        (collaboration_dict(row[:-1]) for row in rows if matches(row[0], row[-1], row[1])), ends
    )
    return islice(found, limit) if limit is not None else found


def _search(text: str) -> Callable[[str, str, str], bool]:
    """``list --search``: whether a company (customer number, org number, name) matches."""
    needle = text.strip()
    if not needle:
        raise InvalidInput("--search: empty", "give part of a name, a customer or an org number")
    number = needle if needle.isascii() and needle.isdigit() else None
    try:
        org = validation.org_number(needle, "--search")
    except InvalidInput:
        org = None
    folded = unicodedata.normalize("NFKC", needle).casefold()

    def matches(customer_number: str, org_number: str, name: str) -> bool:
        return (
            customer_number == number
            or org_number == org
            or folded in unicodedata.normalize("NFKC", name).casefold()
        )

    return matches


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


def company_key(session: Reader, ctx: Context, key: str) -> str:
    """The customer number meant by ``show KEY``: a customer number, or the org number of
    one company the party sees (``NNNNNN-NNNN``; ten digits that are no customer number)."""
    text = key.strip()
    if "-" in text:
        org = validation.org_number(text, "CUSTOMER")
    else:
        number = validation.customer_number(text, "CUSTOMER")
        if len(number) < 10 or _exists(session, number):
            return number
        try:
            org = validation.org_number(text, "CUSTOMER")
        except InvalidInput:  # no org number either: not found, as any customer number
            return number
    companies = session.scalars(
        select(_COMPANY.c.customer_number)
        .where(_COMPANY.c.org_number == org)
        .order_by(_COMPANY.c.customer_number)
    ).all()
    seen = [n for n in companies if scope.sees_company(session, ctx.party, n)]
    if not seen:
        raise NotFound(
            f"no company has org number {org}"
            + (f" (acting as {ctx.party})" if ctx.party is not None else ""),
            "check the number, or look it up with `collabctl list --search NAME`",
        )
    if len(seen) > 1:
        raise InvalidInput(
            f"org number {org} belongs to {len(seen)} companies: {', '.join(seen)}",
            f"show one by its customer number, e.g. collabctl show {seen[0]}",
        )
    return str(seen[0])


def _exists(session: Reader, number: str) -> bool:
    found = session.execute(
        select(_COMPANY.c.customer_number).where(_COMPANY.c.customer_number == number)
    ).first()
    return found is not None


def show_company(session: Reader, ctx: Context, number: str) -> dict[str, Any]:
    """One company in full, by customer number or org number (``company_key``)."""
    number = company_key(session, ctx, number)
    party = ctx.party
    scope.require_visible(session, ctx, number)
    company = session.execute(
        select(_COMPANY.c.customer_number, _COMPANY.c.org_number, _COMPANY.c.name).where(
            _COMPANY.c.customer_number == number
        )
    ).first()
    if company is None:
        raise scope.not_found(None, number)
    columns = COLLABORATION.c
    collaborations = list(
        with_ends_at(
            (
                collaboration_dict(row)
                for row in session.execute(
                    collaboration_select()
                    .where(columns.customer_number == number, scope.collaboration_filter(party))
                    .order_by(columns.service, columns.started_at)
                )
            ),
            scheduled_ends(session, number),
        )
    )
    # an office sees the facts of its own collaborations' services only
    visible = scope.visible_services(session, party, number)
    users = _users(session, number)
    if visible is not None:
        for user in users:
            user["services"] = [s for s in user["services"] if s in visible]
    counts = record_counts(session, number)
    subs = tables.subscription.c
    subscriptions = [
        sub
        for sub in session.execute(
            select(subs.service, subs.state)
            .where(subs.customer_number == number)
            .order_by(subs.service)
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


def _offices(session: Reader, org_numbers: set[str]) -> list[dict[str, Any]]:
    """The offices named in ``show``, with the address their notifications go to."""
    if not org_numbers:
        return []
    office = tables.office.c
    rows = session.execute(
        select(office.org_number, office.name, office.email)
        .where(office.org_number.in_(org_numbers))
        .order_by(office.org_number)
    )
    return [{"org_number": org, "name": name, "email": email} for org, name, email in rows]


def _users(session: Reader, number: str) -> list[dict[str, Any]]:
    """The company's users, as ``users.user_dict`` gives them, oldest first."""
    user = tables.company_user.c
    rows = session.execute(
        select(user.email, user.name, user.role, user.main_contact, user.services)
        .where(user.customer_number == number)
        .order_by(user.id)
    )
    return [
        {
            "email": email,
            "name": name,
            "role": role,
            "main_contact": bool(main),
            "services": list(services),
        }
        for email, name, role, main, services in rows
    ]


#: ``log --action``: what the audit log records
ACTIONS_HINT = "e.g. start, end, import, export, add-user, set-main-contact, set-role, restore"
#: The actions collabctl records, for a did-you-mean before any was recorded; the log's
#: own actions count too, so an action added later is known once it happened.
KNOWN_ACTIONS = (
    "start",
    "end",
    "import",
    "export",
    "add-user",
    "set-main-contact",
    "set-role",
    "set-services",
    "remove-user",
    "restore",
    "doctor",
)


def _action(session: Reader, value: str) -> str:
    """An action ``log --action`` can find: one collabctl records, or one in the log;
    otherwise invalid-input with a did-you-mean (a typo is not "no events match")."""
    word = _word(value, "--action", ACTIONS_HINT)
    if word in KNOWN_ACTIONS:
        return word
    event = tables.audit_event
    recorded = session.scalars(select(event.c.action).distinct()).all()
    if word in recorded:
        return word
    raise suggest.unknown("--action", "action", word, sorted({*KNOWN_ACTIONS, *recorded}))


def audit_events(
    session: Reader,
    ctx: Context,
    *,
    customer: str | None = None,
    service: str | None = None,
    since: str | None = None,
    until: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    limit: int | None = None,
    reverse: bool = False,
) -> Iterator[dict[str, Any]]:
    """Audit events, newest first (``reverse``: oldest first); ``limit``: the newest N."""
    if limit is not None:
        validation.count(limit, "--limit", "20")
    event = tables.audit_event
    columns = [event.c[k] for k in EVENT_KEYS]
    stmt = select(*columns)
    if customer is not None:
        stmt = stmt.where(
            event.c.customer_number == validation.customer_number(customer, "--customer")
        )
    if service is not None:
        stmt = stmt.where(event.c.service == ctx.service(service, "--service").code)
    if since is not None:
        stmt = stmt.where(event.c.at >= parse_timestamp(since, "--since"))
    if until is not None:
        stmt = stmt.where(event.c.at <= parse_timestamp(until, "--until"))
    if action is not None:
        stmt = stmt.where(event.c.action == _action(session, action))
    if actor is not None:
        stmt = stmt.where(event.c.actor == _word(actor, "--actor", "the name in the actor column"))
    if ctx.party is not None:
        stmt = stmt.where(scope.event_filter(ctx.party))
    if limit is not None:
        # the newest N, then in the order asked for
        stmt = stmt.order_by(event.c.id.desc()).limit(limit)
        if reverse:
            newest = stmt.subquery()
            stmt = select(*(newest.c[k] for k in EVENT_KEYS)).order_by(newest.c.id)
    else:
        stmt = stmt.order_by(event.c.id if reverse else event.c.id.desc())
    rows = session.execute(stmt.execution_options(yield_per=1000))
    return (dict(zip(EVENT_KEYS, row, strict=True)) for row in rows)


def _word(value: str, option: str, hint: str) -> str:
    text = value.strip()
    if not text:
        raise InvalidInput(f"{option}: empty", hint)
    return text
