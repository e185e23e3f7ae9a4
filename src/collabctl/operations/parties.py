"""Starting collaborations and managing a company's users and main contact."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from collabctl.domain import validation
from collabctl.domain.errors import AuditorCannotBeMainContact, Duplicate
from collabctl.operations import notify, scope
from collabctl.operations.companies import (
    collaboration_dict,
    company_users,
    get_company,
    get_office,
)
from collabctl.operations.context import Context, audit, change_time
from collabctl.operations.users import (
    find_user,
    require_subscribed,
    set_role,
    user_dict,
    user_for_change,
)
from collabctl.store import end_queries as q
from collabctl.store.audit import AuditEvent
from collabctl.store.models import Company, CompanyUser
from collabctl.store.start_writes import StartPlan, apply_start
from collabctl.store.statements import Statements


def start_collaboration(
    session: Session, ctx: Context, number: str, service_code: str, office_number: str
) -> dict[str, Any]:
    """Start the company's collaboration with the office for the service: decided under the
    company's lock as a plan (:class:`~collabctl.store.start_writes.StartPlan`), then
    written (:func:`~collabctl.store.start_writes.apply_start`). Returns it as ``list``
    shows it."""
    service = ctx.service(service_code)
    scope.require_office(ctx, office_number)
    company = _company_for_change(session, ctx, number)
    office = get_office(session, office_number)
    sql = Statements(session)
    target = q.end_target(sql, number, service.code)  # the company exists: it is locked
    assert target is not None
    if target.collaboration_id is not None:
        raise Duplicate(
            f"customer {number} already has an active {service.code} collaboration "
            f"with office {target.office_org_number}",
            f"end it first: collabctl end {number} --service {service.code}",
        )
    before = target.subscription_state
    deleted = q.count_records(sql, number, service.code) if before == "deleted" else 0
    at = change_time(sql)
    started = collaboration_dict(
        (number, company.name, service.code, office_number, office.name, "active", at,
         None, None, None, None)
    )  # fmt: skip
    details: dict[str, Any] = {
        "office_org_number": office_number,
        "subscription": {"before": before, "after": "active"},
    }
    if before == "deleted":
        details["records_deleted"] = deleted
    plan = StartPlan(
        customer_number=number,
        service=service.code,
        office_org_number=office_number,
        at=at,
        subscription_before=before,
        # a deleted service starts fresh and empty
        delete_records=before == "deleted",
        event=AuditEvent(at, ctx.actor, ctx.scope, "start", number, service.code, details),
        messages=notify.start_messages(ctx, started, at),
    )
    apply_start(sql, plan)
    return started


def _company_for_change(session: Session, ctx: Context, number: str) -> Company:
    """Lock the company for a change the acting party may make (``not-a-party`` otherwise).

    The scope is checked first, so that a party learns nothing of a company it may not
    change, not even whether it exists; and again under the lock (PostgreSQL), in case
    its collaboration ended meanwhile.
    """
    scope.require_party(session, ctx, number)
    company = get_company(session, number, lock=True)
    if ctx.party is not None and session.get_bind().dialect.name == "postgresql":
        scope.require_party(session, ctx, number)
    return company


def set_main_contact(session: Session, ctx: Context, number: str, email: str) -> dict[str, Any]:
    _company_for_change(session, ctx, number)
    users = company_users(session, number)
    user = find_user(
        users,
        number,
        email,
        then=f"create one with: collabctl add-user {number} --email {email} --main-contact",
    )
    if user.role == "auditor":
        raise AuditorCannotBeMainContact(
            f"{user.email} is an auditor and cannot be the main contact",
            f"pick an administrator or user (collabctl show {number}), or add the person as a "
            f"new user: collabctl add-user {number} --email EMAIL --main-contact",
        )
    previous = next((u for u in users if u.main_contact), None)
    result = {**user_dict(user), "changed": False, "promoted": False, "previous_main_contact": None}
    if previous is user:
        return result
    promoted = user.role != "administrator"
    if previous is not None:
        session.execute(
            update(CompanyUser).where(col(CompanyUser.id) == previous.id).values(main_contact=False)
        )
    session.execute(
        update(CompanyUser)
        .where(col(CompanyUser.id) == user.id)
        .values(main_contact=True, role="administrator")
    )
    session.expire(user)
    audit(
        session,
        ctx,
        "set-main-contact",
        number,
        None,
        {
            "before": previous.email if previous else None,
            "after": user.email,
            "role": {"before": result["role"], "after": "administrator"},
            "promoted": promoted,
        },
    )
    notify.queue_main_contact(
        Statements(session),
        ctx,
        customer_number=number,
        email=user.email,
        name=user.name,
        previous=previous.email if previous else None,
        promoted=promoted,
    )
    return {
        **user_dict(user),
        "changed": True,
        "promoted": promoted,
        "previous_main_contact": previous.email if previous else None,
    }


def add_user(
    session: Session,
    ctx: Context,
    number: str,
    email: str,
    name: str | None,
    role: str | None,
    services: list[str],
    main_contact: bool,
) -> dict[str, Any]:
    email = validation.email(email, "--email")
    role = validation.role(role, "--role") if role is not None else None
    codes = [ctx.service(s, "--service").code for s in services]
    _company_for_change(session, ctx, number)
    require_subscribed(session, number, codes, ctx)
    if main_contact and role == "auditor":
        raise AuditorCannotBeMainContact(
            f"{email} cannot be an auditor and the main contact",
            "drop --role auditor (the main contact is an administrator) or drop --main-contact",
        )
    users = company_users(session, number)
    key = validation.email_key(email)
    existing = next((u for u in users if u.email_key == key), None)
    if existing is not None:
        raise Duplicate(
            f"customer {number} already has a user {existing.email}",
            f"to make them main contact: collabctl set-main-contact {number} --user {existing.email}",
        )
    final_role = "administrator" if main_contact else (role or "user")
    previous = next((u for u in users if u.main_contact), None) if main_contact else None
    if previous is not None:
        session.execute(
            update(CompanyUser).where(col(CompanyUser.id) == previous.id).values(main_contact=False)
        )
    user = CompanyUser(
        customer_number=number,
        email=email,
        email_key=key,
        name=validation.name(name, "--name") if name is not None else email.split("@")[0],
        role=final_role,
        main_contact=main_contact,
        services=sorted(set(codes), key=codes.index),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise Duplicate(
            f"customer {number} already has a user {email} (added a moment ago)",
            f"see the users: collabctl show {number}",
        ) from None
    audit(
        session,
        ctx,
        "add-user",
        number,
        None,
        {
            "user": user_dict(user),
            "promoted": main_contact and role not in (None, "administrator"),
            "main_contact": {"before": previous.email if previous else None, "after": email}
            if main_contact
            else None,
        },
    )
    if main_contact:
        notify.queue_main_contact(
            Statements(session),
            ctx,
            customer_number=number,
            email=email,
            name=user.name,
            previous=previous.email if previous else None,
            promoted=role not in (None, "administrator"),
        )
    return {
        **user_dict(user),
        "promoted": bool(main_contact and role not in (None, "administrator")),
        "previous_main_contact": previous.email if previous else None,
    }


def promote_to_main_contact(
    session: Session, ctx: Context, number: str, email: str
) -> dict[str, Any]:
    """Make a user main contact the way an agent would by hand: ``set-role administrator``
    (when needed), then ``set-main-contact``, in the caller's transaction: both or neither."""
    number = validation.customer_number(number, "CUSTOMER")
    email = validation.email(email, "EMAIL")
    _, user = user_for_change(session, ctx, number, email)
    if user.role == "auditor":
        raise AuditorCannotBeMainContact(
            f"{user.email} is an auditor and cannot be the main contact",
            f"pick an administrator or user (collabctl user list {number}), or add the person "
            f"as a new user: collabctl user add {number} --email EMAIL --main-contact",
        )
    promoted = set_role(session, ctx, number, email, "administrator").changed
    result = set_main_contact(session, ctx, number, email)
    return {**result, "promoted": promoted or bool(result.get("promoted"))}
