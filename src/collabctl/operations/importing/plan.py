"""Compare one validated item with what is stored, by part, and note the rows to write.

Upsert by key: office by org number, company by customer number, user by
e-mail (case-insensitive), subscription by service, collaboration by service +
office + start, record by service + id. Only what differs is written, and an
item that changes nothing writes nothing (no audit event either).

Import obeys the rules of the commands. The state of an existing subscription
changes only through ``start``, ``end`` and ``restore``; an ended
collaboration's history never changes; an active collaboration needs an active
subscription; the main contact is an administrator and never an auditor. An
item that would break one of them is refused whole (``conflict``, with the
command to use), before anything of it is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from collabctl.domain.catalogue import OUTCOMES, Service
from collabctl.domain.errors import (
    AuditorCannotBeMainContact,
    CollabError,
    Conflict,
    Duplicate,
    InvalidInput,
    NotFound,
    ReadOnly,
)
from collabctl.operations.import_models import CollaborationIn, CompanyIn, OfficeIn, same_json
from collabctl.operations.importing.results import Changes
from collabctl.operations.importing.rows import StoredCollaboration, StoredCompany, Writes

#: how to bring back a deleted service; one place, so the wording follows the commands
RESTORE_HINT = (
    "a deleted service comes back with its records through `collabctl restore BACKUP_FILE`"
    " (the backup `end --outcome delete` wrote), or empty through a new collaboration:"
    " collabctl start {number} --service {service} --office ORG_NUMBER"
)
START_HINT = (
    "start a new collaboration, which makes the subscription active again:"
    " collabctl start {number} --service {service} --office ORG_NUMBER"
)
#: the outcome that leaves a subscription in a state
_OUTCOME_FOR_STATE = {
    o.subscription_state: o.code for o in OUTCOMES.values() if o.code != "continue"
}


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


@dataclass(slots=True)
class _Subscription:
    state: str
    #: the row this item inserts, None for a stored subscription
    new_row: dict[str, Any] | None = None


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
    subscriptions = _plan_subscriptions(company, stored, where, writes, changes)
    _plan_collaborations(company, stored, subscriptions, office_exists, where, writes, changes)
    _plan_records(company, stored, subscriptions, at, where, writes, changes)
    return changes


# -- users ------------------------------------------------------------------------------


def _plan_users(
    company: CompanyIn, stored: StoredCompany, where: str, writes: Writes, changes: Changes
) -> None:
    number = company.customer_number
    users = stored.users
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
        at = f"{where}.users[{index}]"
        role = entry.role
        if entry.main_contact and role in (None, "user"):
            role = "administrator"  # the main contact is always an administrator
        user = users.get(entry.key)
        if user is None:
            writes.users_new.append(
                {
                    "number": number,
                    "email": entry.email,
                    "key": entry.key,
                    "name": entry.name or entry.email.split("@")[0],
                    "role": role or "user",
                    "main_contact": bool(entry.main_contact),
                    "services": entry.services or [],
                }
            )
            changes.append(f"created user {entry.email}")
            continue
        current = row(entry.key)
        stays_main = current["main_contact"] and entry.main_contact is not False
        if entry.main_contact and entry.role is None and current["role"] == "auditor":
            raise AuditorCannotBeMainContact(
                f"{at}.main_contact: {user.email} is an auditor, who cannot be the main contact",
                'give the user the role "administrator" in the same item, '
                "or make someone else the main contact",
            )
        if role == "user" and stays_main:
            role = "administrator"  # stays main contact, so stays an administrator
        if role == "auditor" and stays_main:
            raise InvalidInput(
                f"{at}.role: {user.email} is the main contact and cannot become an auditor",
                "make someone else the main contact first (collabctl set-main-contact)",
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


# -- subscriptions ------------------------------------------------------------------------


def _plan_subscriptions(
    company: CompanyIn, stored: StoredCompany, where: str, writes: Writes, changes: Changes
) -> dict[str, _Subscription]:
    number = company.customer_number
    subscriptions = {s: _Subscription(state) for s, state in stored.subscriptions.items()}
    for index, entry in enumerate(company.subscriptions):
        current = stored.subscriptions.get(entry.service)
        if current is None:
            subscriptions[entry.service] = _new_subscription(
                number, entry.service, entry.state, writes, changes
            )
        elif current != entry.state:
            raise state_conflict(
                f"{where}.subscriptions[{index}].state", number, entry.service, current, entry.state
            )
    return subscriptions


def _new_subscription(
    number: str, service: str, state: str, writes: Writes, changes: Changes
) -> _Subscription:
    row = {"number": number, "service": service, "state": state, "records_changed_at": None}
    writes.subscriptions_new.append(row)
    changes.append(f"created subscription {service}")
    return _Subscription(state, row)


def state_conflict(path: str, number: str, service: str, current: str, wanted: str) -> Conflict:
    """Import never moves an existing subscription from one state to another."""
    if wanted == "active" and current == "deleted":
        hint = RESTORE_HINT.format(number=number, service=service)
    elif wanted == "active":
        hint = START_HINT.format(number=number, service=service)
    elif current == "active" and wanted in _OUTCOME_FOR_STATE:
        hint = (
            "end the collaboration with the outcome that leaves it so: collabctl end "
            f"{number} --service {service} --outcome {_OUTCOME_FOR_STATE[wanted]}"
        )
    else:
        hint = (
            "a subscription's state changes when a collaboration starts (collabctl start) "
            "or ends (collabctl end)"
        )
    return Conflict(
        f"{path}: {service} of customer {number} is {current}; "
        f"import does not change a subscription's state ({wanted!r} given)",
        hint,
    )


# -- collaborations -----------------------------------------------------------------------

_HISTORY = ("ended_at", "ended_by", "outcome", "actor", "reason")


def _plan_collaborations(
    company: CompanyIn,
    stored: StoredCompany,
    subscriptions: dict[str, _Subscription],
    office_exists: Callable[[str], bool],
    where: str,
    writes: Writes,
    changes: Changes,
) -> None:
    number = company.customer_number
    active = {c.service: c.office for c in stored.collaborations if c.state == "active"}
    for index, entry in enumerate(company.collaborations):
        at = f"{where}.collaborations[{index}]"
        service, office = entry.service, entry.office
        if not office_exists(office):
            raise InvalidInput(
                f"{at}.office: office {office} does not exist",
                'list the office under "offices" (before the company) or import it first',
            )
        match = (
            next(
                (
                    c
                    for c in stored.collaborations
                    if c.service == service
                    and c.office == office
                    and c.started_at == entry.started_at
                ),
                None,
            )
            if stored.collaborations
            else None
        )
        if match is not None:
            _compare_collaboration(number, match, entry, at, writes, changes)
        else:
            if entry.state == "active":
                other = active.get(service)
                if other is not None:
                    raise Duplicate(
                        f"{at}: customer {number} already has an active {service} collaboration "
                        f"with office {other}",
                        f"end it first: collabctl end {number} --service {service}",
                    )
                subscription = subscriptions.get(service)
                if subscription is not None and subscription.state != "active":
                    raise _inactive(at, number, service, subscription, "an active collaboration")
                active[service] = office
            writes.collaborations_new.append(
                {
                    "number": number,
                    "service": service,
                    "office": office,
                    "state": entry.state,
                    "started_at": entry.started_at,
                    "ended_at": entry.ended_at,
                    "ended_by": entry.ended_by,
                    "actor": entry.actor,
                    "outcome": entry.outcome,
                    "reason": entry.reason,
                }
            )
            changes.append(f"created collaboration {service}/{office}")
        if service not in subscriptions:
            subscriptions[service] = _new_subscription(number, service, "active", writes, changes)


def _compare_collaboration(
    number: str,
    stored: StoredCollaboration,
    entry: CollaborationIn,
    at: str,
    writes: Writes,
    changes: Changes,
) -> None:
    service, office = stored.service, stored.office
    label = f"the {service} collaboration of customer {number} with {office}"
    if stored.state == "ended":
        if entry.state == "active":
            raise Conflict(
                f"{at}.state: {label} ended at {stored.ended_at}; import does not reopen it",
                START_HINT.format(number=number, service=service).replace("ORG_NUMBER", office),
            )
        for name in _HISTORY:
            given, current = getattr(entry, name), getattr(stored, name)
            if given is not None and given != current:  # actor and reason may be left out
                raise Conflict(
                    f"{at}.{name}: {label} ended with {name} {current!r}, not {given!r}; "
                    "an ended collaboration's history does not change",
                    "import it as it was exported, or leave the collaboration out",
                )
        return
    if entry.state == "ended":
        raise Conflict(
            f"{at}.state: {label} is active; import does not end a collaboration",
            f"end it with its checks: collabctl end {number} --service {service}"
            + (f" --outcome {entry.outcome}" if entry.outcome else "")
            + (f" --by {entry.ended_by}" if entry.ended_by else ""),
        )
    current = {"actor": stored.actor, "reason": stored.reason}
    wanted = {k: getattr(entry, k) for k in current if getattr(entry, k) is not None}
    if changes.update(f"collaboration {service}/{office}", current, wanted):
        writes.collaborations_changed.append({**current, **wanted, "id": stored.id})


# -- records ------------------------------------------------------------------------------


def _plan_records(
    company: CompanyIn,
    stored: StoredCompany,
    subscriptions: dict[str, _Subscription],
    at: str,
    where: str,
    writes: Writes,
    changes: Changes,
) -> None:
    number = company.customer_number
    touched: set[str] = set()
    for index, entry in enumerate(company.records):
        service = entry.service
        values = {
            "kind": entry.kind,
            "status": entry.status,
            "owner": entry.owner,
            "payload": entry.payload,
        }
        current = stored.records.get((service, entry.id))
        if current is not None and _same_record(current.values, values):
            continue
        subscription = subscriptions.get(service)
        if subscription is None:
            raise NotFound(
                f"{where}.records[{index}].service: customer {number} has no subscription for {service}",
                'add it to the company\'s "subscriptions" first',
            )
        # a subscription this item creates may hold records in any state but deleted (history
        # comes in as it was); a stored one only while it is active
        if subscription.state == "deleted" or (
            subscription.new_row is None and subscription.state != "active"
        ):
            raise _inactive(f"{where}.records[{index}]", number, service, subscription, "a record")
        label = f"record {service}/{entry.id}"
        if current is None:
            writes.records_new.append(
                {"number": number, "service": service, "record_id": entry.id, **values}
            )
            changes.append(f"created {label}")
        else:
            changes.update(label, current.values, values)
            writes.records_changed.append({**values, "id": current.id})
        touched.add(service)
    for service in sorted(touched):
        row = subscriptions[service].new_row
        if row is not None:
            row["records_changed_at"] = at
        else:
            writes.subscriptions_touched.append({"number": number, "service": service, "at": at})


def _inactive(
    path: str, number: str, service: str, subscription: _Subscription, what: str
) -> CollabError:
    """Why ``what`` cannot be added to a subscription that is not active.

    A subscription the item itself creates makes the item contradict itself (invalid
    input); a stored one is changed only by the commands (its records are read-only).
    """
    state = subscription.state
    if subscription.new_row is not None:
        if what == "a record":
            return InvalidInput(
                f"{path}: a deleted subscription holds no records ({service} is deleted)",
                "leave the records out, or give the subscription another state",
            )
        return InvalidInput(
            f"{path}: {what} needs an active subscription ({service} is {state})",
            'make the subscription "active", or the collaboration "ended"',
        )
    hint = (RESTORE_HINT if state == "deleted" else START_HINT).format(
        number=number, service=service
    )
    if what == "a record":
        return ReadOnly(
            f"{path}: {service} of customer {number} is {state}: its records cannot change", hint
        )
    return Conflict(
        f"{path}: {service} of customer {number} is {state}; {what} needs an active subscription",
        hint,
    )


def _same_record(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(current[k] == wanted[k] for k in ("kind", "status", "owner")) and same_json(
        current["payload"], wanted["payload"]
    )
