"""``collabctl export``: a company's data, per service or all, as an importable JSON file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from collabctl import __version__
from collabctl.domain.errors import NotAParty, NotFound
from collabctl.domain.json_text import dump_indented
from collabctl.operations import scope
from collabctl.operations.companies import company_users, get_company
from collabctl.operations.context import Context, audit, change_time
from collabctl.operations.files import write_private_json
from collabctl.store.models import Collaboration, Office, ServiceRecord, Subscription


def company_document(
    session: Session, number: str, services: list[str] | None, at: str
) -> dict[str, Any]:
    """The company in the import format, limited to ``services`` (all when None)."""
    company = get_company(session, number)

    def wanted(service: str) -> bool:
        return services is None or service in services

    subscriptions = [
        s
        for s in session.scalars(
            select(Subscription)
            .where(col(Subscription.customer_number) == number)
            .order_by(col(Subscription.service))
        )
        if wanted(s.service)
    ]
    collaborations = [
        c
        for c in session.scalars(
            select(Collaboration)
            .where(col(Collaboration.customer_number) == number)
            .order_by(col(Collaboration.started_at), col(Collaboration.id))
        )
        if wanted(c.service)
    ]
    records = [
        r
        for r in session.scalars(
            select(ServiceRecord)
            .where(col(ServiceRecord.customer_number) == number)
            .order_by(col(ServiceRecord.service), col(ServiceRecord.record_id))
        )
        if wanted(r.service)
    ]
    offices = sorted({c.office_org_number for c in collaborations})
    return {
        "collabctl_export": {
            "version": __version__,
            "exported_at": at,
            "customer_number": number,
            "services": services if services is not None else [s.service for s in subscriptions],
        },
        "offices": [
            {"org_number": o.org_number, "name": o.name}
            for o in (session.get(Office, org) for org in offices)
            if o is not None
        ],
        "companies": [
            {
                "customer_number": company.customer_number,
                "org_number": company.org_number,
                "name": company.name,
                "users": [
                    {
                        "email": u.email,
                        "name": u.name,
                        "role": u.role,
                        "main_contact": u.main_contact,
                        "services": list(u.services),
                    }
                    for u in company_users(session, number)
                ],
                "subscriptions": [{"service": s.service, "state": s.state} for s in subscriptions],
                "collaborations": [_collaboration(c) for c in collaborations],
                "records": [
                    {
                        "id": r.record_id,
                        "service": r.service,
                        "kind": r.kind,
                        "owner": r.owner,
                        "status": r.status,
                        "payload": r.payload,
                    }
                    for r in records
                ],
            }
        ],
    }


def _collaboration(c: Collaboration) -> dict[str, Any]:
    data: dict[str, Any] = {
        "service": c.service,
        "office": c.office_org_number,
        "state": c.state,
        "started_at": c.started_at,
    }
    if c.state == "ended":
        data.update(ended_at=c.ended_at, ended_by=c.ended_by, outcome=c.outcome)
    if c.ended_actor:
        data["actor"] = c.ended_actor
    if c.reason:
        data["reason"] = c.reason
    return data


def export_then_record(
    session: Session,
    ctx: Context,
    number: str,
    service: str | None,
    path: Path | None,
    stdout: TextIO,
    *,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Export a company to ``path`` (None: ``stdout``), then record the export, in the
    caller's transaction; returns the audit details (path, services, records).

    The rule: the file is written first (:func:`~collabctl.operations.files.write_private_json`)
    and the audit event names the real path written; a file that cannot be written
    raises before anything is recorded, and the caller commits only after both.
    """
    document, at, code = _export_document(session, ctx, number, service)
    if path is None:
        dump_indented(document, stdout)
        written = "-"
    else:
        hint = "choose another path with -o" + ("" if overwrite else ", or replace it with --force")
        written = str(write_private_json(path, document, overwrite=overwrite, hint=hint))
    details = _details(written, document)
    audit(session, ctx, "export", number, code, details, at)
    return details


def _export_document(
    session: Session, ctx: Context, number: str, service: str | None
) -> tuple[dict[str, Any], str, str | None]:
    """The scope's checks, then the document, its time and the service code (None: all)."""
    scope.require_visible(session, ctx, number)
    get_company(session, number, lock=True)
    code = ctx.service(service).code if service is not None else None
    allowed = scope.exportable_services(session, ctx.party, number)
    if allowed is not None and (not allowed or (code is not None and code not in allowed)):
        raise NotAParty(
            f"acting as {ctx.party}, collabctl cannot export customer {number}"
            + (f" ({code})" if code else ""),
            "an office exports only the services it has an active collaboration for",
        )
    if code is not None and session.get(Subscription, (number, code)) is None:
        raise NotFound(
            f"customer {number} has no {code} subscription",
            f"see what it has: collabctl show {number}",
        )
    # "all" for an office is all of its own services, never another office's data
    services = [code] if code is not None else allowed
    at = change_time(session)
    return company_document(session, number, services, at), at, code


def _details(path: str, document: dict[str, Any]) -> dict[str, Any]:
    return {
        "path": path,
        "services": document["collabctl_export"]["services"],
        "records": len(document["companies"][0]["records"]),
    }


def default_export_path(number: str, service: str | None, at: str) -> Path:
    stamp = at[:19].replace("-", "").replace(":", "") + "Z"
    return Path(f"collabctl-export-{number}-{service or 'all'}-{stamp}.json")
