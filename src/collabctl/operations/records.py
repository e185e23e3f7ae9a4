"""Shared reads and writes used by several operations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from collabctl.domain.errors import NotFound, ReadOnly
from collabctl.store.models import (
    Collaboration,
    Company,
    CompanyUser,
    Office,
    ServiceRecord,
    Subscription,
)

COLLABORATION_KEYS = (
    "customer_number",
    "company_name",
    "service",
    "office_org_number",
    "office_name",
    "state",
    "started_at",
    "ended_at",
    "ended_by",
    "outcome",
    "reason",
)

COLLABORATION_COLUMNS = (
    Collaboration.customer_number,
    Company.name.label("company_name"),  # type: ignore[attr-defined]
    Collaboration.service,
    Collaboration.office_org_number,
    Office.name.label("office_name"),  # type: ignore[attr-defined]
    Collaboration.state,
    Collaboration.started_at,
    Collaboration.ended_at,
    Collaboration.ended_by,
    Collaboration.outcome,
    Collaboration.reason,
)


def collaboration_select() -> Any:
    """Collaborations joined with the names a person wants to see next to the numbers."""
    return (
        select(*COLLABORATION_COLUMNS)
        .join(Company, Company.customer_number == Collaboration.customer_number)  # type: ignore[arg-type]
        .join(Office, Office.org_number == Collaboration.office_org_number)  # type: ignore[arg-type]
    )


def collaboration_dict(row: Any) -> dict[str, Any]:
    return dict(zip(COLLABORATION_KEYS, row, strict=True))


def get_company(session: Session, customer_number: str, *, lock: bool = False) -> Company:
    """The company, locked against concurrent changes when ``lock`` (PostgreSQL row lock)."""
    stmt = select(Company).where(Company.customer_number == customer_number)
    if lock:
        stmt = stmt.with_for_update()
    company = session.scalars(stmt).first()
    if company is None:
        raise NotFound(
            f"customer {customer_number} does not exist",
            "check the number with `collabctl list`, or load the company with `collabctl import`",
        )
    return company


def get_office(session: Session, org_number: str) -> Office:
    office = session.get(Office, org_number)
    if office is None:
        raise NotFound(
            f"accounting office {org_number} does not exist",
            "load it with `collabctl import` (an \"offices\" entry)",
        )
    return office


def company_users(session: Session, customer_number: str) -> list[CompanyUser]:
    return list(
        session.scalars(
            select(CompanyUser)
            .where(CompanyUser.customer_number == customer_number)
            .order_by(CompanyUser.id)  # type: ignore[arg-type]
        )
    )


def draft_records(session: Session, customer_number: str, service: str, kind: str) -> list[str]:
    return list(
        session.scalars(
            select(ServiceRecord.record_id)
            .where(
                ServiceRecord.customer_number == customer_number,
                ServiceRecord.service == service,
                ServiceRecord.kind == kind,
                ServiceRecord.status == "draft",
            )
            .order_by(ServiceRecord.record_id)
        )
    )


def record_counts(session: Session, customer_number: str) -> dict[str, int]:
    rows = session.execute(
        select(ServiceRecord.service, func.count())
        .where(ServiceRecord.customer_number == customer_number)
        .group_by(ServiceRecord.service)
    )
    return {service: count for service, count in rows}


def require_writable(subscription: Subscription | None, customer_number: str, service: str) -> None:
    """Records may only be written while the subscription is active."""
    if subscription is None:
        raise NotFound(
            f"customer {customer_number} has no subscription for {service}",
            "add it to the company's \"subscriptions\" first",
        )
    if subscription.state != "active":
        raise ReadOnly(
            f"{service} of customer {customer_number} is {subscription.state}: its records cannot change",
            f"start a new collaboration to make it active again: "
            f"collabctl start {customer_number} --service {service} --office ORG_NUMBER",
        )


def touch_records(session: Session, customer_number: str, service: str, at: str) -> None:
    session.execute(
        update(Subscription)
        .where(Subscription.customer_number == customer_number, Subscription.service == service)  # type: ignore[arg-type]
        .values(records_changed_at=at)
    )
