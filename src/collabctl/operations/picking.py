"""What the interactive flows offer to pick from, as plain data.

The command line draws the lists; the queries live here, and what the acting
party may see among them is asked of ``operations/scope.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from collabctl.operations import scope
from collabctl.operations.companies import company_users, get_company
from collabctl.operations.context import Context
from collabctl.store.models import Collaboration, Company


@dataclass(frozen=True)
class CompanyChoice:
    customer_number: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.customer_number}  {self.name}"


@dataclass(frozen=True)
class UserChoice:
    email: str
    name: str
    role: str
    main_contact: bool

    @property
    def may_be_main_contact(self) -> bool:
        return self.role != "auditor"


@dataclass(frozen=True)
class CompanyCollaborations:
    """A company's name and its active collaborations the party sees (as in ``list``)."""

    name: str
    active: list[dict[str, Any]]


def companies_with_active_collaboration(
    session: Session, ctx: Context, service: str | None = None
) -> list[CompanyChoice]:
    """The companies with an active collaboration (for ``service``) that the party sees,
    by customer number."""
    stmt = (
        select(col(Company.customer_number), col(Company.name))
        .join(Collaboration, col(Collaboration.customer_number) == col(Company.customer_number))
        .where(col(Collaboration.state) == "active", scope.collaboration_filter(ctx.party))
        .distinct()
        .order_by(col(Company.customer_number))
    )
    if service is not None:
        stmt = stmt.where(col(Collaboration.service) == ctx.service(service, "--service").code)
    return [CompanyChoice(str(number), str(name)) for number, name in session.execute(stmt)]


def company_collaborations(session: Session, ctx: Context, number: str) -> CompanyCollaborations:
    """The collaborations of one company to pick from (``not-found`` for no such company)."""
    from collabctl.operations.views import list_collaborations

    company = get_company(session, number)
    return CompanyCollaborations(
        company.name, list(list_collaborations(session, ctx, customer=number))
    )


def users_of(session: Session, ctx: Context, number: str) -> list[UserChoice]:
    """A company's users, in the order they were created (for fixing the main contact
    of an end whose pre-flight found the party may change the company)."""
    return [
        UserChoice(u.email, u.name, u.role, bool(u.main_contact))
        for u in company_users(session, number)
    ]


def main_contact_candidates(session: Session, ctx: Context, number: str) -> list[UserChoice]:
    """The users of a company the party may change (``not-found``/``not-a-party`` otherwise),
    for picking the main contact; auditors are left out (they cannot be main contact)."""
    scope.require_party(session, ctx, number)  # first: a party learns nothing of the rest
    get_company(session, number)
    return [u for u in users_of(session, ctx, number) if u.may_be_main_contact]
