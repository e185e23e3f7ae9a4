"""Company queries shared by several operations: the company and its users, its
collaborations with the names beside the numbers, record counts, the writable check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, func, select

from collabctl.domain.errors import NotFound, ReadOnly
from collabctl.domain.keys import COLLABORATION_KEYS
from collabctl.operations import scope
from collabctl.store import tables

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from collabctl.operations.context import Context
    from collabctl.store.database import Reader
    from collabctl.store.models import Company, CompanyUser, Office, Subscription

# Core tables, not ORM classes: `list` and `show` read without importing the ORM (the
# ORM classes are imported by the functions that return them, for the writes).
COLLABORATION: Table = tables.collaboration
_COMPANY: Table = tables.company
_OFFICE: Table = tables.office

COLLABORATION_COLUMNS: tuple[Any, ...] = (
    COLLABORATION.c.customer_number,
    _COMPANY.c.name.label("company_name"),
    COLLABORATION.c.service,
    COLLABORATION.c.office_org_number,
    _OFFICE.c.name.label("office_name"),
    COLLABORATION.c.state,
    COLLABORATION.c.started_at,
    COLLABORATION.c.ended_at,
    COLLABORATION.c.ended_by,
    COLLABORATION.c.outcome,
    COLLABORATION.c.reason,
)


def collaboration_select() -> Any:
    """Collaborations joined with the names a person wants to see next to the numbers."""
    return (
        select(*COLLABORATION_COLUMNS)
        .join(_COMPANY, _COMPANY.c.customer_number == COLLABORATION.c.customer_number)
        .join(_OFFICE, _OFFICE.c.org_number == COLLABORATION.c.office_org_number)
    )


#: the keys a collaboration's row holds; ``ends_at`` comes from its scheduled end
_ROW_KEYS = COLLABORATION_KEYS[:-1]


def collaboration_dict(row: Any) -> dict[str, Any]:
    """A collaboration's row as its keys; ``ends_at`` None until filled in
    (:mod:`collabctl.operations.ends_at`)."""
    values = dict(zip(_ROW_KEYS, row, strict=True))
    values["ends_at"] = None
    return values


def get_company(session: Session, customer_number: str, *, lock: bool = False) -> Company:
    """The company, locked against concurrent changes when ``lock`` (PostgreSQL row lock)."""
    from collabctl.store.locks import lock_companies
    from collabctl.store.models import Company

    if lock:
        lock_companies(session, [customer_number])
    stmt = select(Company).where(_COMPANY.c.customer_number == customer_number)
    company = session.scalars(stmt).first()
    if company is None:
        raise NotFound(
            f"customer {customer_number} does not exist",
            "check the number with `collabctl list`, or load the company with `collabctl import`",
        )
    return company


def similar_customers(
    session: Reader, ctx: Context, number: str, limit: int = 3
) -> list[tuple[str, str]]:
    """``(customer_number, name)`` of the companies the acting party sees whose number is
    ``number`` with leading zeros added or taken away (``0042`` for ``42``), when no
    company has ``number`` itself: for a "did you mean" after ``not-found``."""
    digits = number.lstrip("0")
    if not number.isascii() or not number.isdigit() or len(number) > 10:
        return []
    # every spelling with leading zeros: a lookup by key instead of a scan of the table
    spellings = {"0" * zeros + digits for zeros in range(0, 11 - len(digits))} - {""}
    c = _COMPANY.c
    rows = session.execute(
        select(c.customer_number, c.name)
        .where(c.customer_number.in_(spellings | {number}))
        .where(scope.company_filter(ctx.party, c.customer_number))
        .order_by(c.customer_number)
    ).all()
    if any(row.customer_number == number for row in rows):
        return []
    return [(str(row.customer_number), str(row.name)) for row in rows[:limit]]


def customers_starting_with(
    session: Reader, ctx: Context, prefix: str, limit: int
) -> list[tuple[str, str]]:
    """``(customer_number, name)`` of the first ``limit`` companies the acting party sees whose
    number starts with ``prefix``, by number: for completing CUSTOMER in a shell."""
    if prefix and not (prefix.isascii() and prefix.isdigit()):
        return []
    c = _COMPANY.c
    stmt = select(c.customer_number, c.name).where(
        scope.company_filter(ctx.party, c.customer_number)
    )
    if prefix:
        # digits only, so nothing in the prefix means anything to LIKE
        stmt = stmt.where(c.customer_number.like(prefix + "%"))
    rows = session.execute(stmt.order_by(c.customer_number).limit(limit))
    return [(str(number), str(name)) for number, name in rows]


def get_office(session: Session, org_number: str) -> Office:
    from collabctl.store.models import Office

    office = session.get(Office, org_number)
    if office is None:
        raise NotFound(
            f"accounting office {org_number} does not exist",
            'load it with `collabctl import` (an "offices" entry)',
        )
    return office


def company_users(session: Session, customer_number: str) -> list[CompanyUser]:
    from collabctl.store.models import CompanyUser

    users = tables.company_user.c
    return list(
        session.scalars(
            select(CompanyUser).where(users.customer_number == customer_number).order_by(users.id)
        )
    )


def record_counts(session: Reader, customer_number: str) -> dict[str, int]:
    records = tables.service_record.c
    rows = session.execute(
        select(records.service, func.count())
        .where(records.customer_number == customer_number)
        .group_by(records.service)
    )
    return {service: count for service, count in rows}


def require_writable(subscription: Subscription | None, customer_number: str, service: str) -> None:
    """Records may only be written while the subscription is active."""
    if subscription is None:
        raise NotFound(
            f"customer {customer_number} has no subscription for {service}",
            'add it to the company\'s "subscriptions" first',
        )
    if subscription.state != "active":
        raise ReadOnly(
            f"{service} of customer {customer_number} is {subscription.state}: its records cannot change",
            f"start a new collaboration to make it active again: "
            f"collabctl start {customer_number} --service {service} --office ORG_NUMBER",
        )
