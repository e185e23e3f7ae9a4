"""Ending a collaboration: the pre-flight checks in their documented order, then
one transaction that ends it, changes the subscription per the outcome, deletes
records for ``delete`` (after a private backup), and writes one audit event.

1. an active collaboration exists        not-found / already-ended
2. the acting party is a party to it     not-a-party
3. the company has a main contact        main-contact-missing
4. the outcome is allowed                outcome-not-allowed
5. the checklist holds (or --force)      checklist-incomplete
6. the user confirmed                    (the command line's job)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from collabctl.domain.catalogue import CHECKLIST_ITEMS, OUTCOMES, Service
from collabctl.domain.errors import (
    AlreadyEnded,
    ChecklistIncomplete,
    CollabError,
    Conflict,
    InvalidInput,
    MainContactMissing,
    NotAParty,
    NotFound,
    OutcomeNotAllowed,
)
from collabctl.operations.context import Context, audit, now_iso
from collabctl.operations.records import (
    collaboration_dict,
    collaboration_select,
    company_users,
    draft_records,
    get_company,
)
from collabctl.store.models import AuditEvent, Collaboration, ServiceRecord, Subscription

ENDED_BY = ("customer", "office")
CHECK_NAMES = ("collaboration", "party", "main-contact", "outcome", "checklist")


@dataclass
class EndRequest:
    customer_number: str
    service: str | None
    outcome: str | None = None
    by: str | None = None
    confirm: tuple[str, ...] = ()
    force: bool = False
    reason: str | None = None
    backup: bool = True


@dataclass
class Check:
    name: str
    ok: bool | None  # None: not evaluated because an earlier check failed
    message: str
    error: CollabError | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "ok": self.ok,
            "message": self.message,
            "error": self.error.to_dict() if self.error else None,
        }


@dataclass
class ChecklistState:
    item: str
    met: bool
    by: str  # data | attested | forced | unmet
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "met": self.met, "by": self.by, "detail": self.detail}


@dataclass
class Preflight:
    request: EndRequest
    service: Service
    checks: list[Check] = field(default_factory=list)
    checklist: list[ChecklistState] = field(default_factory=list)
    collaboration_id: int | None = None
    collaboration: dict[str, Any] | None = None
    ended_by: str | None = None
    outcome: str | None = None
    subscription_state: str | None = None

    @property
    def error(self) -> CollabError | None:
        return next((c.error for c in self.checks if c.error is not None), None)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def forced(self) -> list[str]:
        return [c.item for c in self.checklist if c.by == "forced"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_number": self.request.customer_number,
            "service": self.service.code,
            "office_org_number": (self.collaboration or {}).get("office_org_number"),
            "ended_by": self.ended_by,
            "outcome": self.outcome,
            "ok": self.ok,
            "checks": [c.to_dict() for c in self.checks],
            "checklist": [c.to_dict() for c in self.checklist],
        }


@dataclass
class EndResult:
    collaboration: dict[str, Any]
    subscription_before: str | None
    subscription_after: str
    checklist: list[ChecklistState]
    forced: list[str]
    backup_path: str | None
    records_deleted: int

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.collaboration,
            "subscription_state": self.subscription_after,
            "forced": self.forced,
            "backup_path": self.backup_path,
            "records_deleted": self.records_deleted,
        }


def _skip(preflight: Preflight, after: int) -> Preflight:
    for name in CHECK_NAMES[after:]:
        preflight.checks.append(Check(name, None, "not checked: an earlier check failed"))
    return preflight


def preflight(session: Session, ctx: Context, req: EndRequest, *, lock: bool = False) -> Preflight:
    """Run checks 1–5 and report every one of them; nothing changes."""
    if not req.service:
        raise InvalidInput(
            "no service given", f"pass --service with one of: {', '.join(ctx.catalogue.codes)}"
        )
    service = ctx.service(req.service, "--service")
    result = Preflight(req, service)
    unknown = [item for item in req.confirm if item not in CHECKLIST_ITEMS]
    if unknown:
        raise InvalidInput(
            f"--confirm: unknown checklist item {unknown[0]!r}",
            f"checklist items: {', '.join(CHECKLIST_ITEMS)}",
        )
    if req.by is not None and req.by not in ENDED_BY:
        raise InvalidInput(f"--by: {req.by!r} is not allowed", "use --by customer or --by office")
    number = req.customer_number
    company = get_company(session, number, lock=lock)

    # 1. an active collaboration exists
    stmt = (
        collaboration_select()
        .add_columns(Collaboration.id)
        .where(Collaboration.customer_number == number, Collaboration.service == service.code)
    )
    active = session.execute(stmt.where(Collaboration.state == "active")).first()
    if active is None:
        latest = session.execute(
            stmt.order_by(Collaboration.started_at.desc(), Collaboration.id.desc())  # type: ignore[union-attr,attr-defined]
        ).first()
        if latest is not None:
            found = collaboration_dict(latest[:-1])
            result.collaboration = found
            error: CollabError = AlreadyEnded(
                f"the {service.code} collaboration of customer {number} with office "
                f"{found['office_org_number']} already ended at {found['ended_at']} "
                f"(by {found['ended_by']}, outcome {found['outcome']})",
                f"nothing to do; see `collabctl show {number}`",
            )
        else:
            others = session.scalars(
                select(Collaboration.service).where(
                    Collaboration.customer_number == number, Collaboration.state == "active"
                )
            ).all()
            error = NotFound(
                f"customer {number} ({company.name}) has no {service.code} collaboration",
                f"active collaborations of {number}: {', '.join(others)}"
                if others
                else f"customer {number} has no active collaboration; see `collabctl show {number}`",
            )
        result.checks.append(Check("collaboration", False, error.message, error))
        return _skip(result, 1)
    result.collaboration_id = active[-1]
    result.collaboration = collaboration_dict(active[:-1])
    office = result.collaboration["office_org_number"]
    result.checks.append(
        Check("collaboration", True, f"active {service.code} collaboration with office {office}")
    )

    # 2. the acting party is a party to it
    party = ctx.party
    if party is not None and (
        (party.kind == "office" and party.key != office)
        or (party.kind == "customer" and party.key != number)
    ):
        error = NotAParty(
            f"acting as {party}, collabctl cannot end the {service.code} collaboration "
            f"between customer {number} and office {office}",
            "only the company or its office for this service can end it; "
            "a support agent can act without --as",
        )
        result.checks.append(Check("party", False, error.message, error))
        return _skip(result, 2)
    if party is not None:
        if req.by is not None and req.by != party.kind:
            raise InvalidInput(
                f"--by {req.by}: acting as {party}, the collaboration is ended by the {party.kind}",
                "drop --by, or drop --as to act as support agent",
            )
        result.ended_by = party.kind
    else:
        result.ended_by = req.by
    who = result.ended_by or "(not said yet: --by customer|office)"
    result.checks.append(Check("party", True, f"ended by {who}, acting as {ctx.scope}"))

    # 3. the company has a main contact
    users = company_users(session, number)
    main = next((u for u in users if u.main_contact), None)
    if main is None:
        error = MainContactMissing(
            f"customer {number} ({company.name}) has no main contact",
            _main_contact_hint(number, users),
        )
        result.checks.append(Check("main-contact", False, error.message, error))
        return _skip(result, 3)
    result.checks.append(Check("main-contact", True, f"main contact {main.email}"))

    # 4. the outcome is one the service allows
    outcome = req.outcome
    if outcome is None and len(service.outcomes) == 1:
        outcome = service.outcomes[0]
    result.outcome = outcome
    allowed = ", ".join(service.outcomes)
    if outcome is None:
        result.checks.append(Check("outcome", None, f"not chosen yet (allowed: {allowed})"))
    elif outcome not in service.outcomes:
        error = OutcomeNotAllowed(
            f"{service.name} cannot end with {outcome!r}",
            f"allowed outcomes for {service.code}: {allowed}"
            + "".join(f"\n  {o}: {OUTCOMES[o].summary}" for o in service.outcomes),
        )
        result.checks.append(Check("outcome", False, error.message, error))
        return _skip(result, 4)
    else:
        result.checks.append(Check("outcome", True, f"{outcome}: {OUTCOMES[outcome].summary}"))

    # 5. the checklist holds
    result.checklist = evaluate_checklist(session, number, service, users, req.confirm, req.force)
    unmet = [c for c in result.checklist if not c.met]
    if unmet:
        error = ChecklistIncomplete(
            f"the {service.code} checklist is not done: "
            + "; ".join(f"{c.item} ({c.detail})" for c in unmet),
            "\n".join(
                f"{c.item}: "
                + CHECKLIST_ITEMS[c.item].how_to_meet.format(customer=number, service=service.code)
                for c in unmet
            )
            + "\nor pass --force to end anyway (recorded in the audit log)",
        )
        result.checks.append(Check("checklist", False, error.message, error))
    elif result.checklist:
        result.checks.append(
            Check("checklist", True, ", ".join(f"{c.item} ({c.by})" for c in result.checklist))
        )
    else:
        result.checks.append(Check("checklist", True, "no checklist for this service"))

    sub = session.get(Subscription, (number, service.code))
    result.subscription_state = sub.state if sub else None
    return result


def _main_contact_hint(number: str, users: list[Any]) -> str:
    candidates = [u for u in users if u.role != "auditor"]
    if candidates:
        best = next((u for u in candidates if u.role == "administrator"), candidates[0])
        return (
            f"make a user the main contact: collabctl set-main-contact {number} --user {best.email}"
            + (" (promotes them to administrator)" if best.role != "administrator" else "")
            + f"\nor, if the customer is not among the users: collabctl add-user {number} "
            "--email EMAIL --name NAME --main-contact"
        )
    return (
        f"the company has no user who can be main contact; create one: "
        f"collabctl add-user {number} --email EMAIL --name NAME --main-contact"
    )


def evaluate_checklist(
    session: Session,
    number: str,
    service: Service,
    users: list[Any],
    confirm: tuple[str, ...],
    force: bool,
) -> list[ChecklistState]:
    states = []
    for item in service.checklist:
        met, detail = _computed(session, item, number, service.code, users)
        by = "data" if met else "unmet"
        if not met and item in confirm and CHECKLIST_ITEMS[item].attestable:
            met, by, detail = True, "attested", "confirmed by the agent"
        if not met and force:
            met, by = True, "forced"
        states.append(ChecklistState(item, met, by, detail))
    return states


def _computed(
    session: Session, item: str, number: str, service: str, users: list[Any]
) -> tuple[bool, str]:
    if item == "reports-submitted":
        drafts = draft_records(session, number, service, "expense-report")
        return not drafts, _drafts("expense report", drafts)
    if item == "outlays-submitted":
        drafts = draft_records(session, number, service, "outlay")
        return not drafts, _drafts("outlay", drafts)
    if item == "customer-user-added":
        with_access = [u.email for u in users if u.role != "auditor" and service in u.services]
        if with_access:
            return True, f"{with_access[0]} has access"
        return False, "no user of the company (other than auditors) has access"
    if item == "backup-handed-over":
        exported = last_export_covering(session, number, service)
        sub = session.get(Subscription, (number, service))
        changed = sub.records_changed_at if sub else None
        if exported is not None and (changed is None or exported > changed):
            return True, f"exported at {exported}"
        if exported is not None:
            return False, f"the last export ({exported}) is older than the last change ({changed})"
        return False, "no export made"
    if item == "data-synchronised":
        return False, "not confirmed"
    raise AssertionError(f"unknown checklist item {item}")


def _drafts(kind: str, drafts: list[str]) -> str:
    if not drafts:
        return f"no {kind} is a draft"
    shown = ", ".join(drafts[:5]) + (f" and {len(drafts) - 5} more" if len(drafts) > 5 else "")
    return f"{len(drafts)} {kind}{'s are' if len(drafts) != 1 else ' is a'} draft{'s' if len(drafts) != 1 else ''}: {shown}"


def last_export_covering(session: Session, number: str, service: str) -> str | None:
    """The newest export of this company that included the service (audit log)."""
    rows = session.execute(
        select(AuditEvent.at, AuditEvent.service, AuditEvent.details)
        .where(AuditEvent.customer_number == number, AuditEvent.action == "export")
        .order_by(AuditEvent.at.desc())  # type: ignore[attr-defined]
    )
    for at, event_service, details in rows:
        if event_service == service or (
            event_service is None and service in details.get("services", [])
        ):
            return str(at)
    return None


def end_collaboration(
    session: Session, ctx: Context, req: EndRequest, backup_dir: Path
) -> EndResult:
    """Checks 1–5 under lock, then the change, in the caller's transaction."""
    pre = preflight(session, ctx, req, lock=True)
    if pre.error is not None:
        raise pre.error
    if pre.ended_by is None:
        raise InvalidInput(
            "say on whose behalf the collaboration ends",
            "pass --by customer or --by office (or act as a party with --as)",
        )
    if pre.outcome is None:
        raise InvalidInput(
            f"choose what happens to {pre.service.code} afterwards",
            f"pass --outcome with one of: {', '.join(pre.service.outcomes)}",
        )
    assert pre.collaboration is not None and pre.collaboration_id is not None
    number, service, outcome = req.customer_number, pre.service.code, pre.outcome
    at = now_iso()
    ended = session.execute(
        update(Collaboration)
        .where(Collaboration.id == pre.collaboration_id, Collaboration.state == "active")  # type: ignore[arg-type]
        .values(
            state="ended",
            ended_at=at,
            ended_by=pre.ended_by,
            ended_actor=ctx.actor,
            outcome=outcome,
            reason=req.reason,
        )
    )
    if ended.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "the collaboration changed while it was being ended",
            "run the command again; it will report the current state",
        )
    after = OUTCOMES[outcome].subscription_state
    backup_path = None
    deleted = 0
    if outcome == "delete":
        if req.backup:
            backup_path = str(write_backup(session, number, service, backup_dir, at))
        deleted = session.execute(
            delete(ServiceRecord).where(
                ServiceRecord.customer_number == number,  # type: ignore[arg-type]
                ServiceRecord.service == service,  # type: ignore[arg-type]
            )
        ).rowcount  # type: ignore[attr-defined]
    if pre.subscription_state is None:
        session.add(Subscription(customer_number=number, service=service, state=after))
    elif pre.subscription_state != after or deleted:
        session.execute(
            update(Subscription)
            .where(Subscription.customer_number == number, Subscription.service == service)  # type: ignore[arg-type]
            .values(state=after, **({"records_changed_at": at} if deleted else {}))
        )
    collaboration = {
        **pre.collaboration,
        "state": "ended",
        "ended_at": at,
        "ended_by": pre.ended_by,
        "outcome": outcome,
        "reason": req.reason,
    }
    audit(
        session,
        ctx,
        "end",
        number,
        service,
        {
            "office_org_number": pre.collaboration["office_org_number"],
            "ended_by": pre.ended_by,
            "outcome": outcome,
            "reason": req.reason,
            "subscription": {"before": pre.subscription_state, "after": after},
            "checklist": {c.item: c.by for c in pre.checklist},
            "confirmed": [c.item for c in pre.checklist if c.by == "attested"],
            "forced": pre.forced,
            "backup_path": backup_path,
            "records_deleted": deleted,
        },
        at,
    )
    return EndResult(
        collaboration,
        pre.subscription_state,
        after,
        pre.checklist,
        pre.forced,
        backup_path,
        deleted,
    )


def write_backup(session: Session, number: str, service: str, directory: Path, at: str) -> Path:
    """Everything ``delete`` is about to remove, as a private JSON file (importable)."""
    from collabctl.operations.exporting import company_document

    document = company_document(session, number, [service], at)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = at.replace("-", "").replace(":", "").replace(".", "")
    path = directory / f"{number}-{service}-{stamp}.json"
    write_private_json(path, document)
    return path


def write_private_json(path: Path, document: Any) -> None:
    """Write a file only its owner can read; never leave a half-written file behind."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
