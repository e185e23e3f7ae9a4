"""``collabctl import``: upsert offices, companies and catalogue entries from a stream.

Each item (one office, one company with everything nested in it, one service
definition) is validated in full before anything of it is written, and is
written inside its own savepoint: a bad item leaves no trace, the others go in.
Importing the same input twice changes nothing and writes no second audit event.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from collabctl.domain import validation
from collabctl.domain.catalogue import SUBSCRIPTION_STATES, Catalogue, service_from_mapping
from collabctl.domain.errors import CollabError, Duplicate, InvalidInput, NotAParty
from collabctl.operations.companies import require_writable
from collabctl.operations.context import Context, audit, now_iso, parse_timestamp
from collabctl.operations.jsonstream import Item
from collabctl.store.database import is_retryable
from collabctl.store.models import (
    Collaboration,
    Company,
    CompanyUser,
    Office,
    ServiceDefinition,
    ServiceRecord,
    Subscription,
)

# -- validation: plain dicts in, normalised dicts out, errors name the path ----------


def _obj(
    value: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: expected an object")
    for key in required:
        if key not in value:
            raise InvalidInput(f"{where}.{key}: required field is missing")
    unknown = sorted(set(value) - set(required) - set(optional))
    if unknown:
        raise InvalidInput(
            f"{where}.{unknown[0]}: unknown field",
            f"known fields: {', '.join(required + optional)}",
        )
    return value


def _str(value: Any, where: str, *, allow_none: bool = False) -> str | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{where}: expected a non-empty string")
    return value.strip()


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{where}: expected a list")
    return value


def _choice(value: Any, where: str, choices: Iterable[str]) -> str:
    options = tuple(choices)
    if value not in options:
        raise InvalidInput(
            f"{where}: {value!r} is not allowed", f"use one of: {', '.join(options)}"
        )
    return str(value)


def validate_office(data: Any, where: str) -> dict[str, Any]:
    data = _obj(data, where, ("org_number", "name"), ())
    return {
        "org_number": validation.org_number(data["org_number"], f"{where}.org_number"),
        "name": validation.name(data["name"], f"{where}.name"),
    }


def validate_company(data: Any, where: str, catalogue: Catalogue) -> dict[str, Any]:
    data = _obj(
        data,
        where,
        ("customer_number", "org_number", "name"),
        ("users", "subscriptions", "collaborations", "records"),
    )
    company: dict[str, Any] = {
        "customer_number": validation.customer_number(
            data["customer_number"], f"{where}.customer_number"
        ),
        "org_number": validation.org_number(data["org_number"], f"{where}.org_number"),
        "name": validation.name(data["name"], f"{where}.name"),
        "users": [],
        "subscriptions": [],
        "collaborations": [],
        "records": [],
    }
    seen_emails: set[str] = set()
    main_contacts = 0
    for i, user in enumerate(_list(data.get("users"), f"{where}.users")):
        w = f"{where}.users[{i}]"
        user = _obj(user, w, ("email",), ("name", "role", "main_contact", "services"))
        email = validation.email(user["email"], f"{w}.email")
        key = validation.email_key(email)
        if key in seen_emails:
            raise InvalidInput(
                f"{w}.email: {email} appears twice", "e-mail addresses are case-insensitive"
            )
        seen_emails.add(key)
        role = validation.role(user["role"], f"{w}.role") if "role" in user else None
        main = user.get("main_contact")
        if main is not None and not isinstance(main, bool):
            raise InvalidInput(f"{w}.main_contact: expected true or false")
        if main:
            main_contacts += 1
            if role == "auditor":
                raise InvalidInput(
                    f"{w}.main_contact: an auditor cannot be the main contact",
                    "make an administrator or user the main contact",
                )
        services = None
        if "services" in user:
            services = [
                catalogue.get(s, f"{w}.services[{j}]").code
                for j, s in enumerate(_list(user["services"], f"{w}.services"))
            ]
        company["users"].append(
            {
                "email": email,
                "email_key": key,
                "name": validation.name(user["name"], f"{w}.name") if "name" in user else None,
                "role": role,
                "main_contact": main,
                "services": services,
            }
        )
    if main_contacts > 1:
        raise InvalidInput(
            f"{where}.users: more than one main contact", "a company has at most one"
        )
    services_seen: set[str] = set()
    for i, sub in enumerate(_list(data.get("subscriptions"), f"{where}.subscriptions")):
        w = f"{where}.subscriptions[{i}]"
        sub = _obj(sub, w, ("service",), ("state",))
        code = catalogue.get(sub["service"], f"{w}.service").code
        if code in services_seen:
            raise InvalidInput(f"{w}.service: {code} appears twice")
        services_seen.add(code)
        company["subscriptions"].append(
            {
                "service": code,
                "state": _choice(sub.get("state", "active"), f"{w}.state", SUBSCRIPTION_STATES),
            }
        )
    active: set[str] = set()
    for i, collab in enumerate(_list(data.get("collaborations"), f"{where}.collaborations")):
        w = f"{where}.collaborations[{i}]"
        collab = _obj(
            collab,
            w,
            ("service", "office"),
            ("state", "started_at", "ended_at", "ended_by", "actor", "outcome", "reason"),
        )
        code = catalogue.get(collab["service"], f"{w}.service").code
        state = _choice(collab.get("state", "active"), f"{w}.state", ("active", "ended"))
        if state == "active":
            if code in active:
                raise InvalidInput(
                    f"{w}: a second active collaboration for {code}",
                    "a company has at most one active collaboration per service",
                )
            active.add(code)
        entry: dict[str, Any] = {
            "service": code,
            "office_org_number": validation.org_number(collab["office"], f"{w}.office"),
            "state": state,
            "started_at": parse_timestamp(collab["started_at"], f"{w}.started_at")
            if "started_at" in collab
            else None,
            "ended_at": None,
            "ended_by": None,
            "ended_actor": _str(collab.get("actor"), f"{w}.actor", allow_none=True),
            "outcome": None,
            "reason": _str(collab.get("reason"), f"{w}.reason", allow_none=True),
        }
        if state == "ended":
            entry["ended_at"] = parse_timestamp(collab.get("ended_at"), f"{w}.ended_at")
            entry["ended_by"] = _choice(
                collab.get("ended_by"), f"{w}.ended_by", validation.ENDED_BY
            )
            entry["outcome"] = _choice(
                collab.get("outcome"), f"{w}.outcome", catalogue.get(code).outcomes
            )
        else:
            for key in ("ended_at", "ended_by", "outcome"):
                if collab.get(key) is not None:
                    raise InvalidInput(f"{w}.{key}: only an ended collaboration has {key}")
        if entry["started_at"] is None:
            raise InvalidInput(
                f"{w}.started_at: required field is missing", "e.g. 2024-01-31T09:00:00Z"
            )
        company["collaborations"].append(entry)
    record_keys: set[tuple[str, str]] = set()
    for i, rec in enumerate(_list(data.get("records"), f"{where}.records")):
        w = f"{where}.records[{i}]"
        rec = _obj(rec, w, ("id", "service", "kind", "status"), ("owner", "payload"))
        code = catalogue.get(rec["service"], f"{w}.service").code
        record_id = _str(rec["id"], f"{w}.id")
        assert record_id is not None
        if (code, record_id) in record_keys:
            raise InvalidInput(f"{w}.id: {record_id} appears twice for {code}")
        record_keys.add((code, record_id))
        owner = rec.get("owner")
        payload = rec.get("payload", {})
        if not isinstance(payload, dict):
            raise InvalidInput(f"{w}.payload: expected an object")
        company["records"].append(
            {
                "service": code,
                "record_id": record_id,
                "kind": _str(rec["kind"], f"{w}.kind"),
                "status": _str(rec["status"], f"{w}.status"),
                "owner": validation.email(owner, f"{w}.owner") if owner is not None else None,
                "payload": payload,
            }
        )
    return company


# -- upsert -----------------------------------------------------------------------


class Changes(list[str]):
    """What one item changed: a line a change, as the import reports it, and for the
    audit log the fields each updated row had ``before`` and has ``after``, by row."""

    def __init__(self, *lines: str) -> None:
        super().__init__(lines)
        self.before: dict[str, dict[str, Any]] = {}
        self.after: dict[str, dict[str, Any]] = {}

    def record(self, row: str, before: dict[str, Any], after: dict[str, Any]) -> None:
        # a field changed twice in one item keeps its first value as the one before
        for key, value in before.items():
            self.before.setdefault(row, {}).setdefault(key, value)
        self.after.setdefault(row, {}).update(after)

    def details(self) -> dict[str, Any]:
        """For the audit event: the lines, and the values of the fields that were updated."""
        details: dict[str, Any] = {"changes": list(self)}
        if self.before:  # rows that were only created have nothing before
            details.update(before=self.before, after=self.after)
        return details


@dataclass
class ItemResult:
    kind: str
    key: str
    where: str
    changes: Changes = field(default_factory=Changes)
    error: CollabError | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "failed"
        return "changed" if self.changes else "unchanged"


def _set(obj: Any, values: dict[str, Any], label: str, changes: Changes) -> None:
    before = {k: getattr(obj, k) for k, v in values.items() if getattr(obj, k) != v}
    if not before:
        return
    for key in before:
        setattr(obj, key, values[key])
    changes.append(f"updated {label} ({', '.join(before)})")
    changes.record(label, before, {k: values[k] for k in before})


def upsert_office(session: Session, data: dict[str, Any]) -> Changes:
    office = session.get(Office, data["org_number"])
    if office is None:
        session.add(Office(**data))
        return Changes(f"created office {data['org_number']}")
    changes = Changes()
    _set(office, {"name": data["name"]}, f"office {data['org_number']}", changes)
    return changes


def upsert_service(session: Session, data: Any, where: str) -> tuple[str, Changes]:
    service = service_from_mapping(data, where)
    row = session.get(ServiceDefinition, service.code)
    values: dict[str, Any] = {
        "name": service.name,
        "outcomes": list(service.outcomes),
        "checklist": list(service.checklist),
    }
    if row is None:
        session.add(ServiceDefinition(code=service.code, **values))
        return service.code, Changes(f"created service {service.code}")
    changes = Changes()
    _set(row, values, f"service {service.code}", changes)
    return service.code, changes


def upsert_company(session: Session, data: dict[str, Any], at: str) -> Changes:
    number = data["customer_number"]
    changes = Changes()
    company = session.get(Company, number, with_for_update=True)
    if company is None:
        session.add(
            Company(customer_number=number, org_number=data["org_number"], name=data["name"])
        )
        session.flush()
        changes.append(f"created company {number}")
    else:
        _set(company, {"org_number": data["org_number"], "name": data["name"]}, "company", changes)

    users = {
        u.email_key: u
        for u in session.scalars(
            select(CompanyUser).where(col(CompanyUser.customer_number) == number)
        )
    }
    new_main = next((u["email_key"] for u in data["users"] if u["main_contact"]), None)
    if new_main is not None:
        # Clear the old flag first: the database allows one main contact per company.
        for key, current in users.items():
            if current.main_contact and key != new_main:
                current.main_contact = False
                changes.append(f"main contact moved from {current.email}")
                changes.record(
                    f"user {current.email}", {"main_contact": True}, {"main_contact": False}
                )
        session.flush()
    for entry in data["users"]:
        user = users.get(entry["email_key"])
        role = entry["role"]
        if entry["main_contact"] and role in (None, "user"):
            role = "administrator"  # the main contact is always an administrator
        if user is None:
            session.add(
                CompanyUser(
                    customer_number=number,
                    email=entry["email"],
                    email_key=entry["email_key"],
                    name=entry["name"] or entry["email"].split("@")[0],
                    role=role or "user",
                    main_contact=bool(entry["main_contact"]),
                    services=entry["services"] or [],
                )
            )
            changes.append(f"created user {entry['email']}")
            continue
        if role == "user" and user.main_contact and entry["main_contact"] is not False:
            role = "administrator"  # stays main contact, so stays an administrator
        if role == "auditor" and user.main_contact and entry["main_contact"] is not False:
            raise InvalidInput(
                f"users: {entry['email']} is the main contact and cannot become an auditor",
                "make someone else the main contact first (collabctl set-main-contact)",
            )
        values = {
            k: v
            for k, v in (
                ("name", entry["name"]),
                ("role", role),
                ("main_contact", entry["main_contact"]),
                ("services", entry["services"]),
            )
            if v is not None
        }
        _set(user, values, f"user {user.email}", changes)
    session.flush()

    subscriptions = {
        s.service: s
        for s in session.scalars(
            select(Subscription).where(col(Subscription.customer_number) == number)
        )
    }
    for entry in data["subscriptions"]:
        sub = subscriptions.get(entry["service"])
        if sub is None:
            sub = Subscription(
                customer_number=number, service=entry["service"], state=entry["state"]
            )
            session.add(sub)
            subscriptions[entry["service"]] = sub
            changes.append(f"created subscription {entry['service']}")
        else:
            _set(sub, {"state": entry["state"]}, f"subscription {entry['service']}", changes)

    existing = list(
        session.scalars(select(Collaboration).where(col(Collaboration.customer_number) == number))
    )
    for entry in data["collaborations"]:
        office_number = entry["office_org_number"]
        if session.get(Office, office_number) is None:
            raise InvalidInput(
                f"collaborations: office {office_number} does not exist",
                'list the office under "offices" (before the company) or import it first',
            )
        match = next(
            (
                c
                for c in existing
                if c.service == entry["service"]
                and c.office_org_number == office_number
                and c.started_at == entry["started_at"]
            ),
            None,
        )
        if entry["state"] == "active":
            other = next(
                (
                    c
                    for c in existing
                    if c.service == entry["service"] and c.state == "active" and c is not match
                ),
                None,
            )
            if other is not None:
                raise Duplicate(
                    f"customer {number} already has an active {entry['service']} collaboration "
                    f"with office {other.office_org_number}",
                    f"end it first: collabctl end {number} --service {entry['service']}",
                )
        values = {
            k: v
            for k, v in entry.items()
            if k not in ("service", "office_org_number", "started_at")
        }
        if match is None:
            collaboration = Collaboration(
                customer_number=number,
                service=entry["service"],
                office_org_number=office_number,
                started_at=entry["started_at"],
                **values,
            )
            session.add(collaboration)
            existing.append(collaboration)
            changes.append(f"created collaboration {entry['service']}/{office_number}")
        else:
            _set(match, values, f"collaboration {entry['service']}/{office_number}", changes)
        session.flush()
        if entry["service"] not in subscriptions:
            sub = Subscription(customer_number=number, service=entry["service"], state="active")
            session.add(sub)
            subscriptions[entry["service"]] = sub
            changes.append(f"created subscription {entry['service']}")

    touched: set[str] = set()
    for entry in data["records"]:
        record = session.scalars(
            select(ServiceRecord).where(
                col(ServiceRecord.customer_number) == number,
                col(ServiceRecord.service) == entry["service"],
                col(ServiceRecord.record_id) == entry["record_id"],
            )
        ).first()
        values = {k: entry[k] for k in ("kind", "status", "owner", "payload")}
        if record is not None and all(getattr(record, k) == v for k, v in values.items()):
            continue
        require_writable(subscriptions.get(entry["service"]), number, entry["service"])
        if record is None:
            session.add(
                ServiceRecord(
                    customer_number=number,
                    service=entry["service"],
                    record_id=entry["record_id"],
                    **values,
                )
            )
            changes.append(f"created record {entry['service']}/{entry['record_id']}")
        else:
            _set(record, values, f"record {entry['service']}/{entry['record_id']}", changes)
        touched.add(entry["service"])
    for service in touched:
        subscriptions[service].records_changed_at = at
    session.flush()
    return changes


#: Tries per item when another writer deadlocks with this import (PostgreSQL).
_ITEM_ATTEMPTS = 6


def import_items(
    session: Session, ctx: Context, items: Iterator[Item], *, batch_size: int = 200
) -> Iterator[ItemResult]:
    """Apply items one by one, each in a savepoint, committing every ``batch_size`` items.

    Yields one result per item, only once the item's batch is committed, so a run that is
    interrupted never reported as written what it rolled back. The caller's session must
    be a writing session.
    """
    if ctx.party is not None:
        raise NotAParty(
            f"import acts for all parties; collabctl is acting as {ctx.party}",
            "run import as a support agent: without --as (and COLLABCTL_AS unset)",
        )
    done: list[ItemResult] = []  # results of the uncommitted batch
    catalogue = ctx.catalogue
    while True:
        try:
            item = next(items)
        except StopIteration:
            break
        except CollabError:
            # the input cannot be read any further: keep and report what was read before
            session.commit()
            yield from done
            raise
        conflict_retried = False
        for attempt in range(_ITEM_ATTEMPTS):
            result = ItemResult(item.kind, "", item.where)
            try:
                if item.error is not None:
                    raise item.error
                with session.begin_nested():
                    at = now_iso()
                    if item.kind == "office":
                        data = validate_office(item.data, item.where)
                        result.key = data["org_number"]
                        result.changes = upsert_office(session, data)
                        customer = None
                    elif item.kind == "service":
                        result.key, result.changes = upsert_service(session, item.data, item.where)
                        customer = None
                    else:
                        data = validate_company(item.data, item.where, catalogue)
                        result.key = customer = data["customer_number"]
                        result.changes = upsert_company(session, data, at)
                    if result.changes:
                        session.flush()
                        audit(
                            session,
                            ctx,
                            "import",
                            customer,
                            None,
                            {
                                "item": item.kind,
                                "key": result.key,
                                **result.changes.details(),
                            },
                            at,
                        )
                        session.flush()
                if item.kind == "service" and result.changes:
                    catalogue = catalogue.extended([service_from_mapping(item.data, item.where)])
            except CollabError as exc:
                if not exc.message.startswith(item.where):
                    exc.message = f"{item.where}: {exc.message}"
                result.error = exc
            except IntegrityError as exc:
                if not conflict_retried:
                    # Another import may have committed the same new key a moment ago (the
                    # database made this one wait for it, then refused): read the item again.
                    conflict_retried = True
                    continue
                result.error = InvalidInput(
                    f"{item.where}: conflicts with data already stored ({str(exc.orig).splitlines()[0]})",
                    "check keys and references in this item",
                )
            except DBAPIError as exc:
                if attempt + 1 >= _ITEM_ATTEMPTS or not is_retryable(exc):
                    raise
                # A deadlock with another writer (PostgreSQL): commit and report the items
                # before this one, which hands our locks to the other
                # writer, and do this item again in a fresh transaction.
                session.commit()
                yield from done
                done.clear()
                time.sleep(0.05 * 2**attempt)
                continue
            break
        done.append(result)
        if len(done) >= batch_size:
            session.commit()
            yield from done
            done.clear()
    session.commit()
    yield from done
