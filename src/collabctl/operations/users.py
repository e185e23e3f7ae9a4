"""A company's users ("Users and services"): list them, change a role or the services a
user has, remove a user, and promote a user to main contact.

Each change locks the company (so that two agents changing its users queue
instead of racing), checks the rules before anything changes, and writes one
audit event with the user as it was before and as it is after. A change that
changes nothing writes nothing.

Rules, each with a stable code:

- the user exists (``not-found``; e-mails are compared case-insensitively);
- the main contact stays an administrator and cannot be removed
  (``main-contact-required``: set another main contact first);
- an auditor cannot be main contact (``auditor-cannot-be-main-contact``);
- a granted service is one the company subscribes to (``not-found``);
- granting and revoking one service in the same call is ``invalid-input``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from collabctl.domain import validation
from collabctl.domain.errors import (
    InvalidInput,
    MainContactRequired,
    NotFound,
)
from collabctl.operations import scope
from collabctl.operations.context import Context, audit
from collabctl.store.locks import lock_companies
from collabctl.store.models import Company, CompanyUser, Subscription

#: the keys of a user in every machine format (``user list``, ``show``, the audit log)
USER_KEYS = ("email", "name", "role", "main_contact", "services")


def user_dict(user: CompanyUser) -> dict[str, Any]:
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "main_contact": bool(user.main_contact),
        "services": list(user.services),
    }


# -- reads ----------------------------------------------------------------------------


def _company(session: Session, ctx: Context, number: str, *, lock: bool) -> Company:
    if lock:
        lock_companies(session, [number])
    stmt = select(Company).where(col(Company.customer_number) == number)
    company = session.scalars(stmt).first()
    if company is None:
        raise scope.not_found(ctx.party, number)
    return company


def _users(session: Session, number: str) -> list[CompanyUser]:
    return list(
        session.scalars(
            select(CompanyUser)
            .where(col(CompanyUser.customer_number) == number)
            .order_by(col(CompanyUser.id))
        )
    )


def require_may_change_company(session: Session, ctx: Context, number: str) -> None:
    """With ``--as``: the company itself, or an office with an active collaboration with it
    (``not-found`` otherwise; the rule is :func:`collabctl.operations.scope.require_party`)."""
    scope.require_party(session, ctx, number)


def require_subscribed(
    session: Session, number: str, codes: list[str], ctx: Context | None = None
) -> None:
    """A user can be given only services the company subscribes to (not deleted):
    ``not-found`` naming the ones it has (those the party ``ctx`` may see) and how to
    start the missing one."""
    if not codes:
        return
    visible = None if ctx is None else scope.visible_services(session, ctx.party, number)
    subscribed = {
        service: state
        for service, state in session.execute(
            select(col(Subscription.service), col(Subscription.state)).where(
                col(Subscription.customer_number) == number
            )
        )
    }
    for code in codes:
        state = subscribed.get(code)
        if state is None or state == "deleted":
            has = ", ".join(
                s
                for s, st in sorted(subscribed.items())
                if st != "deleted" and (visible is None or s in visible)
            )
            raise NotFound(
                f"customer {number} does not subscribe to {code}"
                + (" (it was deleted)" if state == "deleted" else ""),
                f"grant one of the services it has: {has or 'none'}"
                + (
                    f"; to start {code}: collabctl start {number} --service {code} --office ORG_NUMBER"
                ),
            )


def find_user(
    users: list[CompanyUser], number: str, email: str, *, then: str | None = None
) -> CompanyUser:
    """The user of customer ``number`` with this e-mail (compared as keys), or
    ``not-found`` naming its users and ``then``, what to do next (default: list them)."""
    key = validation.email_key(email)
    user = next((u for u in users if u.email_key == key), None)
    if user is None:
        known = ", ".join(u.email for u in users) or "none"
        raise NotFound(
            f"customer {number} has no user {email}",
            f"its users: {known}; " + (then or f"see them with: collabctl user list {number}"),
        )
    return user


def _main_contact_hint(number: str, users: list[CompanyUser], leaving: CompanyUser) -> str:
    """The exact command that moves the main contact away from ``leaving`` first."""
    others = [u for u in users if u.id != leaving.id and u.role != "auditor"]
    best = next((u for u in others if u.role == "administrator"), others[0] if others else None)
    if best is not None:
        return (
            f"set another main contact first: collabctl set-main-contact {number} "
            f"--user {best.email}, then run this again"
        )
    return (
        f"set another main contact first: collabctl set-main-contact {number} --user OTHER "
        f"(or create one: collabctl user add {number} --email EMAIL --main-contact), "
        "then run this again"
    )


def user_for_change(
    session: Session, ctx: Context, number: str, email: str
) -> tuple[list[CompanyUser], CompanyUser]:
    """Lock the company, check the scope, and find the user: the start of every change of
    a user. Returns the company's users and the one named by ``email``."""
    _company(session, ctx, number, lock=True)
    require_may_change_company(session, ctx, number)
    users = _users(session, number)
    return users, find_user(users, number, email)


def _record(
    session: Session,
    ctx: Context,
    action: str,
    number: str,
    before: dict[str, Any],
    after: dict[str, Any] | None,
    **extra: Any,
) -> None:
    audit(
        session,
        ctx,
        action,
        number,
        None,
        {"email": before["email"], "before": before, "after": after, **extra},
    )


def list_users(session: Session, ctx: Context, number: str) -> list[dict[str, Any]]:
    """The company's users, in the order they were created."""
    number = validation.customer_number(number, "CUSTOMER")
    _company(session, ctx, number, lock=False)
    # a party that may not see the company is told it is not found, nothing more
    scope.require_visible(session, ctx, number)
    return [_shown(session, ctx, number, user_dict(u)) for u in _users(session, number)]


def _seen(session: Session, ctx: Context, change: UserChange) -> UserChange:
    """A change as the party may see it (:func:`_shown`); the audit event keeps it whole."""
    if ctx.party is None or ctx.party.kind == "customer":
        return change
    number = change.customer_number
    after = None if change.after is None else _shown(session, ctx, number, dict(change.after))
    return UserChange(number, _shown(session, ctx, number, dict(change.before)), after)


def _shown(session: Session, ctx: Context, number: str, user: dict[str, Any]) -> dict[str, Any]:
    """A user as the party may see it: an office sees only the services of its own
    collaborations with the company (as ``show`` does)."""
    visible = scope.visible_services(session, ctx.party, number)
    if visible is not None:
        user["services"] = [s for s in user["services"] if s in visible]
    return user


def get_user(session: Session, ctx: Context, number: str, email: str) -> dict[str, Any]:
    """One user of the company, found by e-mail in any case."""
    number = validation.customer_number(number, "CUSTOMER")
    email = validation.email(email, "EMAIL")
    _company(session, ctx, number, lock=False)
    require_may_change_company(session, ctx, number)
    return _shown(
        session, ctx, number, user_dict(find_user(_users(session, number), number, email))
    )


def subscribed_services(session: Session, ctx: Context, number: str) -> list[str]:
    """The services a user of the company can be given: those it subscribes to (not deleted)."""
    number = validation.customer_number(number, "CUSTOMER")
    _company(session, ctx, number, lock=False)
    require_may_change_company(session, ctx, number)
    return list(
        session.scalars(
            select(col(Subscription.service))
            .where(
                col(Subscription.customer_number) == number,
                col(Subscription.state) != "deleted",
            )
            .order_by(col(Subscription.service))
        )
    )


# -- changes --------------------------------------------------------------------------


@dataclass(frozen=True)
class UserChange:
    """What a change did: the user before and after (None after a removal)."""

    customer_number: str
    before: dict[str, Any]
    after: dict[str, Any] | None

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def to_dict(self) -> dict[str, Any]:
        shown = self.after if self.after is not None else self.before
        return {
            "customer_number": self.customer_number,
            **shown,
            "changed": self.changed,
            "before": self.before,
            "after": self.after,
        }


def set_role(session: Session, ctx: Context, number: str, email: str, role: str) -> UserChange:
    """Give a user another role; the main contact stays an administrator."""
    number = validation.customer_number(number, "CUSTOMER")
    email = validation.email(email, "EMAIL")
    role = validation.role(role, "ROLE")
    users, user = user_for_change(session, ctx, number, email)
    before = user_dict(user)
    if user.role == role:
        return _seen(session, ctx, UserChange(number, before, before))
    if user.main_contact and role != "administrator":
        raise MainContactRequired(
            f"{user.email} is the main contact of customer {number} and must stay an "
            f"administrator; making them {role} would leave the company without a main contact",
            _main_contact_hint(number, users, user),
        )
    session.execute(update(CompanyUser).where(col(CompanyUser.id) == user.id).values(role=role))
    after = {**before, "role": role}
    _record(session, ctx, "set-role", number, before, after)
    session.expire(user)
    return _seen(session, ctx, UserChange(number, before, after))


def set_services(
    session: Session,
    ctx: Context,
    number: str,
    email: str,
    grant: list[str],
    revoke: list[str],
) -> UserChange:
    """Give a user access to services and take access away, in one change."""
    number = validation.customer_number(number, "CUSTOMER")
    email = validation.email(email, "EMAIL")
    if not grant and not revoke:
        raise InvalidInput(
            "nothing to change: no service to grant or revoke",
            f"pass --grant SERVICE or --revoke SERVICE, e.g. "
            f"collabctl user set-services {number} {email} --grant eekonomi",
        )
    granted = _codes(ctx, grant, "--grant")
    revoked = _codes(ctx, revoke, "--revoke")
    both = [code for code in granted if code in revoked]
    if both:
        raise InvalidInput(
            f"{both[0]} is both granted and revoked: say one of them",
            f"drop --grant {both[0]} or --revoke {both[0]}",
        )
    _, user = user_for_change(session, ctx, number, email)
    require_subscribed(session, number, granted, ctx)
    before = user_dict(user)
    services = [s for s in user.services if s not in revoked]
    services += [code for code in granted if code not in services]
    if services == before["services"]:
        return _seen(session, ctx, UserChange(number, before, before))
    session.execute(
        update(CompanyUser).where(col(CompanyUser.id) == user.id).values(services=services)
    )
    after = {**before, "services": services}
    _record(
        session,
        ctx,
        "set-services",
        number,
        before,
        after,
        granted=[s for s in services if s not in before["services"]],
        revoked=[s for s in before["services"] if s not in services],
    )
    session.expire(user)
    return _seen(session, ctx, UserChange(number, before, after))


def _codes(ctx: Context, codes: list[str], option: str) -> list[str]:
    found: list[str] = []
    for code in codes:
        service = ctx.service(code, option).code
        if service not in found:
            found.append(service)
    return found


def remove_user(session: Session, ctx: Context, number: str, email: str) -> UserChange:
    """Remove a user from the company; never the main contact. Their records stay."""
    number = validation.customer_number(number, "CUSTOMER")
    email = validation.email(email, "EMAIL")
    users, user = user_for_change(session, ctx, number, email)
    if user.main_contact:
        raise MainContactRequired(
            f"{user.email} is the main contact of customer {number} and cannot be removed",
            _main_contact_hint(number, users, user),
        )
    before = user_dict(user)
    session.execute(delete(CompanyUser).where(col(CompanyUser.id) == user.id))
    _record(session, ctx, "remove-user", number, before, None)
    session.expunge(user)
    return _seen(session, ctx, UserChange(number, before, None))


__all__ = [
    "USER_KEYS",
    "UserChange",
    "list_users",
    "remove_user",
    "set_role",
    "set_services",
    "user_dict",
]
