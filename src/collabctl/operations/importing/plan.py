"""Compare one validated item with what is stored, by part, and note the rows to write.

Upsert by key: office by org number, company by customer number, user by
e-mail (case-insensitive), subscription by service, collaboration by service +
office + start, record by service + id. Only what differs is written, and an
item that changes nothing writes nothing (no audit event either). The parts of
a company per service (subscriptions, collaborations, records) are compared in
``per_service``.

Import obeys the rules of the commands (SPEC 7.2), each refusal with the code
the command would give: the main contact is an administrator and never an
auditor (``auditor-cannot-be-main-contact``), and is never demoted below
administrator (``main-contact-required``); a user is given only services the
company subscribes to (``not-found``); and (``per_service``) what only ``start``, ``end`` and
``restore`` may change is refused. An item that would break a rule is refused
whole, before anything of it is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from collabctl.domain.catalogue import Service
from collabctl.domain.errors import AuditorCannotBeMainContact, MainContactRequired, NotFound
from collabctl.operations.importing.models import CompanyIn, OfficeIn, UserIn
from collabctl.operations.importing.per_service import (
    plan_collaborations,
    plan_records,
    plan_subscriptions,
)
from collabctl.operations.importing.results import Changes
from collabctl.store.import_rows import StoredCompany, Writes


def plan_office(office: OfficeIn, stored: dict[str, Any] | None, writes: Writes) -> Changes:
    org = office.org_number
    if stored is None:
        writes.offices_new.append({"org": org, "name": office.name, "email": office.email})
        return Changes(f"created office {org}")
    changes = Changes()
    wanted = {"name": office.name}
    if office.email is not None:
        wanted["email"] = office.email
    if changes.update(f"office {org}", stored, wanted):
        writes.offices_changed.append({**stored, **wanted, "org": org})
    return changes


def plan_service(service: Service, stored: dict[str, Any] | None, writes: Writes) -> Changes:
    values = {
        "code": service.code,
        "name": service.name,
        "outcomes": list(service.outcomes),
        "checklist": list(service.checklist),
    }
    if stored is None:
        writes.services_new.append(values)
        return Changes(f"created service {service.code}")
    changes = Changes()
    wanted = {k: v for k, v in values.items() if k != "code"}
    if changes.update(f"service {service.code}", stored, wanted):
        writes.services_changed.append(values)
    return changes


def plan_company(
    company: CompanyIn,
    stored: StoredCompany | None,
    office_exists: Callable[[str], bool],
    at: str,
    where: str,
    writes: Writes,
) -> Changes:
    """Everything one company item changes, part by part; raises before noting any row
    of a part that breaks a rule (the caller drops the item's rows on any error)."""
    changes = Changes()
    number = company.customer_number
    if stored is None:
        writes.companies_new.append(
            {"number": number, "org": company.org_number, "name": company.name}
        )
        changes.append(f"created company {number}")
        stored = StoredCompany(company.org_number, company.name)
    else:
        current = {"org_number": stored.org_number, "name": stored.name}
        wanted = {"org_number": company.org_number, "name": company.name}
        if changes.update("company", current, wanted):
            writes.companies_changed.append(
                {"number": number, "org": company.org_number, "name": company.name}
            )
    _plan_users(company, stored, where, writes, changes)
    subscriptions = plan_subscriptions(company, stored, where, writes, changes)
    plan_collaborations(company, stored, subscriptions, office_exists, where, writes, changes)
    plan_records(company, stored, subscriptions, at, where, writes, changes)
    _check_user_services(company, subscriptions, where)
    return changes


def _check_user_services(company: CompanyIn, subscriptions: Mapping[str, Any], where: str) -> None:
    """As ``user add`` and ``user set-services``: a user is given only services the company
    subscribes to (stored, or in this item), and not deleted ones: ``not-found``."""
    for index, entry in enumerate(company.users):
        if not entry.services:
            continue
        for position, code in enumerate(entry.services):
            subscription = subscriptions.get(code)
            if subscription is not None and subscription.state != "deleted":
                continue
            subscribed = sorted(s for s, sub in subscriptions.items() if sub.state != "deleted")
            number = company.customer_number
            deleted = subscription is not None
            raise NotFound(
                f"{where}.users[{index}].services[{position}]: customer {number} does not "
                f"subscribe to {code}" + (" (it was deleted)" if deleted else ""),
                f"grant one of the services it has: {', '.join(subscribed) or 'none'}; or add "
                f'{{"service": "{code}", "state": "active"}} to the item\'s subscriptions',
            )


# -- users ------------------------------------------------------------------------------


def _role(entry: UserIn) -> str | None:
    """The role an item gives a user: the main contact is always an administrator."""
    if entry.main_contact and entry.role in (None, "user"):
        return "administrator"
    return entry.role


def _new_user(number: str, entry: UserIn, writes: Writes, changes: Changes) -> None:
    writes.users_new.append(
        {
            "number": number,
            "email": entry.email,
            "key": entry.key,
            "name": entry.name or entry.email.split("@")[0],
            "role": _role(entry) or "user",
            "main_contact": bool(entry.main_contact),
            "services": entry.services or [],
        }
    )
    changes.append(f"created user {entry.email}")


def _plan_users(
    company: CompanyIn, stored: StoredCompany, where: str, writes: Writes, changes: Changes
) -> None:
    number = company.customer_number
    users = stored.users
    if not users:  # none stored (a new company): every user of the item is new
        for entry in company.users:
            _new_user(number, entry, writes, changes)
        return
    rows: dict[str, dict[str, Any]] = {}  # the stored users this item changes, as they end up

    def row(key: str) -> dict[str, Any]:
        if key not in rows:
            rows[key] = dict(users[key].values)
        return rows[key]

    new_main = next((u.key for u in company.users if u.main_contact), None)
    if new_main is not None:
        for key, main in users.items():
            if main.values["main_contact"] and key != new_main:
                row(key)["main_contact"] = False
                changes.append(f"main contact moved from {main.email}")
                changes.record(
                    f"user {main.email}", {"main_contact": True}, {"main_contact": False}
                )
    for index, entry in enumerate(company.users):
        user = users.get(entry.key)
        if user is None:
            _new_user(number, entry, writes, changes)
            continue
        at = f"{where}.users[{index}]"
        role = _role(entry)
        current = row(entry.key)
        stays_main = current["main_contact"] and entry.main_contact is not False
        if entry.main_contact and entry.role is None and current["role"] == "auditor":
            raise AuditorCannotBeMainContact(
                f"{at}.main_contact: {user.email} is an auditor, who cannot be the main contact",
                'give the user the role "administrator" in the same item, '
                "or make someone else the main contact",
            )
        if entry.role is not None and entry.role != "administrator" and stays_main:
            # as `user set-role`: the main contact is never demoted below administrator
            raise MainContactRequired(
                f"{at}.role: {user.email} is the main contact of customer {number} and must "
                f"stay an administrator; making them {entry.role} would leave the company "
                "without a main contact",
                "make someone else the main contact in the same item (main_contact: true), "
                f"or first: collabctl set-main-contact {number} --user OTHER",
            )
        wanted = {
            k: v
            for k, v in (
                ("name", entry.name),
                ("role", role),
                ("main_contact", entry.main_contact),
                ("services", entry.services),
            )
            if v is not None
        }
        changed = [k for k, v in wanted.items() if current[k] != v]
        if changed:
            changes.append(f"updated user {user.email} ({', '.join(changed)})")
            changes.record(
                f"user {user.email}",
                {k: current[k] for k in changed},
                {k: wanted[k] for k in changed},
            )
            current.update(wanted)
    for key, values in rows.items():
        user = users[key]
        if values != user.values:
            target = writes.users_changed if values["main_contact"] else writes.users_not_main
            target.append({**values, "id": user.id})
