"""``collabctl export``: a company's data, per service or all, as an importable JSON file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from collabctl import __version__
from collabctl.domain.errors import NotAParty, NotFound
from collabctl.operations.companies import company_users, get_company
from collabctl.operations.context import Context, audit, now_iso
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


def export_company(
    session: Session, ctx: Context, number: str, service: str | None, destination: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build the export document and record it; returns (document, audit details).

    The caller writes the document to ``destination`` before committing, so a
    recorded export always has its file.
    """
    get_company(session, number, lock=True)
    ctx.require_customer_party(number)
    if service is not None:
        service = ctx.service(service).code
        if session.get(Subscription, (number, service)) is None:
            raise NotFound(
                f"customer {number} has no {service} subscription",
                f"see what it has: collabctl show {number}",
            )
    services = [service] if service is not None else None
    if ctx.party is not None and ctx.party.kind == "office":
        own = sorted(
            session.scalars(
                select(col(Collaboration.service)).where(
                    col(Collaboration.customer_number) == number,
                    col(Collaboration.office_org_number) == ctx.party.key,
                    col(Collaboration.state) == "active",
                )
            )
        )
        if not own or (service is not None and service not in own):
            raise NotAParty(
                f"acting as {ctx.party}, collabctl cannot export customer {number}"
                + (f" ({service})" if service else ""),
                "an office exports only the services it has an active collaboration for",
            )
        # "all" for an office is all of its own services, never another office's data
        services = services or own
    at = now_iso()
    document = company_document(session, number, services, at)
    details = {
        "path": destination,
        "services": document["collabctl_export"]["services"],
        "records": len(document["companies"][0]["records"]),
    }
    audit(session, ctx, "export", number, service, details, at)
    return document, details


def default_export_path(number: str, service: str | None, at: str) -> Path:
    stamp = at[:19].replace("-", "").replace(":", "") + "Z"
    return Path(f"collabctl-export-{number}-{service or 'all'}-{stamp}.json")
