"""The rules of one company item that no single field can check.

One main contact, and never an auditor; each e-mail, subscription, collaboration
and record once; at most one active collaboration per service; an ended
collaboration with its time, party and an outcome its service allows; every
service from the catalogue. Errors name the path, like the field errors of
``models``.
"""

from __future__ import annotations

import json
from typing import Any

from collabctl.domain import validation
from collabctl.domain.catalogue import Catalogue
from collabctl.domain.errors import AuditorCannotBeMainContact, InvalidInput
from collabctl.operations.importing.models import CollaborationIn, CompanyIn, validate_model


def _problem(where: str, path: str, text: str, hint: str | None = None) -> InvalidInput:
    return InvalidInput(f"{where}.{path}: {text}", hint)


def validate_company(data: Any, where: str, catalogue: Catalogue) -> CompanyIn:
    """One company item: its fields (``models``), then the rules that span them."""
    company = validate_model(CompanyIn, data, where)
    check_company(company, where, catalogue)
    return company


def check_company(company: CompanyIn, where: str, catalogue: Catalogue) -> None:
    """The rules of one company item that no single field can check."""
    _check_services(company, where, catalogue)
    _check_users(company, where)
    _check_subscriptions(company, where)
    _check_collaborations(company, where, catalogue)
    _check_records(company, where)


def _check_services(company: CompanyIn, where: str, catalogue: Catalogue) -> None:
    """Every service named is in the catalogue."""
    for index, user in enumerate(company.users):
        if user.services:
            for position, code in enumerate(user.services):
                if code not in catalogue:
                    raise _unknown_service(
                        where, f"users[{index}].services[{position}]", code, catalogue
                    )
    parts: tuple[tuple[str, list[Any]], ...] = (
        ("subscriptions", company.subscriptions),
        ("collaborations", company.collaborations),
        ("records", company.records),
    )
    for part, entries in parts:
        for index, entry in enumerate(entries):
            if entry.service not in catalogue:
                raise _unknown_service(where, f"{part}[{index}].service", entry.service, catalogue)


def _unknown_service(where: str, path: str, code: str, catalogue: Catalogue) -> InvalidInput:
    return _problem(
        where,
        path,
        f"unknown service {validation.show(code)}",
        f"known services: {', '.join(catalogue.codes)}",
    )


def _check_users(company: CompanyIn, where: str) -> None:
    seen: set[str] = set()
    main_contacts = 0
    for index, user in enumerate(company.users):
        if user.key in seen:
            raise _problem(
                where,
                f"users[{index}].email",
                f"{user.email} appears twice",
                "e-mail addresses are case-insensitive",
            )
        seen.add(user.key)
        if user.main_contact:
            main_contacts += 1
            if user.role == "auditor":
                raise AuditorCannotBeMainContact(
                    f"{where}.users[{index}].main_contact: an auditor cannot be the main contact",
                    "make an administrator or user the main contact",
                )
    if main_contacts > 1:
        raise _problem(where, "users", "more than one main contact", "a company has at most one")


def _check_subscriptions(company: CompanyIn, where: str) -> None:
    seen: set[str] = set()
    for index, sub in enumerate(company.subscriptions):
        if sub.service in seen:
            raise _problem(where, f"subscriptions[{index}].service", f"{sub.service} appears twice")
        seen.add(sub.service)


def _check_collaborations(company: CompanyIn, where: str, catalogue: Catalogue) -> None:
    active: set[str] = set()
    keys: set[tuple[str, str, str]] = set()
    for index, collab in enumerate(company.collaborations):
        code = collab.service
        if collab.started_at is None:
            raise _problem(
                where,
                f"collaborations[{index}].started_at",
                "required field is missing",
                "e.g. 2024-01-31T09:00:00Z",
            )
        key = (code, collab.office, collab.started_at)
        if key in keys:
            raise _problem(
                where,
                f"collaborations[{index}]",
                f"the {code} collaboration with {collab.office} appears twice",
            )
        keys.add(key)
        if collab.state == "active":
            if code in active:
                raise _problem(
                    where,
                    f"collaborations[{index}]",
                    f"a second active collaboration for {code}",
                    "a company has at most one active collaboration per service",
                )
            active.add(code)
            if collab.ended_at is None and collab.ended_by is None and collab.outcome is None:
                continue
            name = next(name for name in _ENDED if getattr(collab, name) is not None)
            raise _problem(
                where, f"collaborations[{index}].{name}", f"only an ended collaboration has {name}"
            )
        _check_ended(collab, f"collaborations[{index}]", where, catalogue)


#: what only an ended collaboration has, and must have
_ENDED = ("ended_at", "ended_by", "outcome")


def _check_ended(collab: CollaborationIn, at: str, where: str, catalogue: Catalogue) -> None:
    for name in _ENDED:
        if getattr(collab, name) is None:
            raise _problem(where, f"{at}.{name}", "required field is missing")
    allowed = catalogue.get(collab.service).outcomes
    if collab.outcome not in allowed:
        raise _problem(
            where,
            f"{at}.outcome",
            f"{validation.show(collab.outcome)} is not allowed",
            f"use one of: {', '.join(allowed)}",
        )


def _check_records(company: CompanyIn, where: str) -> None:
    if not company.records:
        return
    keys: set[tuple[str, str]] = set()
    for index, record in enumerate(company.records):
        key = (record.service, record.id)
        if key in keys:
            raise _problem(
                where, f"records[{index}].id", f"{record.id} appears twice for {record.service}"
            )
        keys.add(key)


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON: ``1``, ``1.0`` and ``true`` are equal in Python but not in JSON."""
    return a == b and json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
