"""The pre-flight of an end: the checks in their documented order, nothing changed.

1. an active collaboration exists        not-found / already-ended
2. the acting party is a party to it     not-a-party
3. the company has a main contact        main-contact-missing
4. the outcome is allowed                outcome-not-allowed
5. the checklist holds (or --force)      checklist-incomplete
6. the user confirmed                    (the command line's job)

Each check is a small function of the facts read once (:class:`_Facts`); the
first that fails stops the rest, which are reported as not checked. What a
scope may not see (:mod:`collabctl.operations.scope`) is never named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from collabctl.domain import suggest, validation
from collabctl.domain.catalogue import CHECKLIST_ITEMS, OUTCOMES, Service
from collabctl.domain.errors import (
    AlreadyEnded,
    ChecklistIncomplete,
    CollabError,
    InvalidInput,
    MainContactMissing,
    NotAParty,
    NotFound,
    OutcomeNotAllowed,
)
from collabctl.operations import scope
from collabctl.operations.checklist import ChecklistState, evaluate_checklist
from collabctl.operations.companies import collaboration_dict
from collabctl.operations.context import Context
from collabctl.store import end_queries as q
from collabctl.store.statements import Statements

CHECK_NAMES = ("collaboration", "party", "main-contact", "outcome", "checklist")
#: the longest reason an end records (characters)
MAX_REASON = 2000


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
    #: a scheduled end: the collaboration it was scheduled for (a newer one is not
    #: ended in its stead) and its id, which the end's audit event names
    collaboration_id: int | None = None
    schedule_id: int | None = None


@dataclass
class Check:
    name: str
    ok: bool | None  # None: not evaluated because an earlier check failed, or not decided yet
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
class Preflight:
    request: EndRequest
    service: Service
    checks: list[Check] = field(default_factory=list)
    checklist: list[ChecklistState] = field(default_factory=list)
    collaboration_id: int | None = None
    #: the collaboration (list keys), only when the scope may see all of it
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


def preflight(session: Session, ctx: Context, req: EndRequest, *, lock: bool = False) -> Preflight:
    """Run checks 1–5 and report every one of them; nothing changes."""
    return run_preflight(Statements(session), ctx, req, lock=lock)


def require_answers(pre: Preflight) -> None:
    """Raise what stops this end first, in the order of the checks: a failed check, or an
    answer an end needs that the checks leave open (on whose behalf; the outcome)."""
    for check in pre.checks:
        if check.name == "party" and check.ok and pre.ended_by is None:
            raise InvalidInput(
                "say on whose behalf the collaboration ends: --by is required",
                "pass --by customer or --by office (or act as a party with --as)",
            )
        if check.error is not None:
            raise check.error
        if check.name == "outcome" and pre.outcome is None:
            raise InvalidInput(
                "choose what happens afterwards: --outcome is required",
                f"pass --outcome with one of: {', '.join(pre.service.outcomes)}",
            )


# -- the checks ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Facts:
    """What the checks read, once, and the report they fill in."""

    sql: Statements
    ctx: Context
    req: EndRequest
    number: str
    service: Service
    target: q.EndTarget
    #: the active collaboration, or else the latest one for the service
    office: str | None
    latest: q.CollaborationRow | None
    view: scope.View
    result: Preflight


def run_preflight(
    sql: Statements,
    ctx: Context,
    req: EndRequest,
    *,
    lock: bool,
    continue_after: frozenset[str] = frozenset(),
    ahead: q.ReadAhead | None = None,
) -> Preflight:
    """Checks 1-5; the first that fails stops the rest, unless it is named in
    ``continue_after`` (scheduling an end reports what must be done by then).
    ``lock``: under the company's row lock; ``ahead``: what a bulk end read for its
    segment (locked as it was read, when the segment's ends lock)."""
    service = _validate(ctx, req)
    number = req.customer_number
    target = q.end_target(sql, number, service.code, lock=lock, ahead=ahead)
    if target is None:
        raise scope.not_found(ctx.party, number)
    latest = None
    office = target.office_org_number
    if target.collaboration_id is None:
        latest = q.latest_collaboration(sql, number, service.code)
        office = latest.office_org_number if latest is not None else None
    view = scope.collaboration_view(sql.session, ctx.party, number, office)
    if view is scope.View.HIDDEN:
        raise scope.not_found(ctx.party, number)
    facts = _Facts(
        sql, ctx, req, number, service, target, office, latest, view, Preflight(req, service)
    )
    for index, check in enumerate(CHECKS):
        outcome = check(facts)
        facts.result.checks.append(outcome)
        if outcome.error is not None and CHECK_NAMES[index] not in continue_after:
            for name in CHECK_NAMES[index + 1 :]:
                facts.result.checks.append(
                    Check(name, None, "not checked: an earlier check failed")
                )
            break
    facts.result.subscription_state = target.subscription_state
    return facts.result


def check_collaboration(f: _Facts) -> Check:
    """1. An active collaboration exists (already-ended when the latest one ended)."""
    number, code, target, full = f.number, f.service.code, f.target, f.view is scope.View.FULL
    scheduled = f.req.collaboration_id
    if scheduled is not None and target.collaboration_id not in (None, scheduled):
        moved_on = AlreadyEnded(
            f"the {code} collaboration of customer {number} that this end was scheduled for "
            "already ended; the active one started after it",
            f"schedule the end of the new collaboration if it should end: "
            f"collabctl end {number} --service {code} --at DATE",
        )
        return Check("collaboration", False, moved_on.message, moved_on)
    if target.collaboration_id is not None:
        f.result.collaboration_id = target.collaboration_id
        if not full:
            return Check("collaboration", True, f"active {code} collaboration with another office")
        f.result.collaboration = collaboration_dict(
            (number, target.company_name, code, target.office_org_number, target.office_name,
             target.state, target.started_at, target.ended_at, target.ended_by, target.outcome,
             target.reason)
        )  # fmt: skip
        return Check("collaboration", True, f"active {code} collaboration with office {f.office}")
    error: CollabError
    if f.latest is not None and full:
        r = f.latest
        found = collaboration_dict(
            (number, target.company_name, code, r.office_org_number, r.office_name, r.state,
             r.started_at, r.ended_at, r.ended_by, r.outcome, r.reason)
        )  # fmt: skip
        f.result.collaboration = found
        error = AlreadyEnded(
            f"the {code} collaboration of customer {number} with office "
            f"{found['office_org_number']} already ended at {found['ended_at']} "
            f"(by {found['ended_by']}, outcome {found['outcome']})",
            f"nothing to do; see `collabctl show {number}`",
            details={"collaboration": found},
        )
    elif full:
        others = q.active_services(f.sql, number)
        error = NotFound(
            f"customer {number} ({target.company_name}) has no {code} collaboration",
            f"active collaborations of {number}: {', '.join(others)}"
            if others
            else f"customer {number} has no active collaboration; see `collabctl show {number}`",
        )
    else:  # an office that works for the company, and this service is not its own
        party = f.ctx.party
        assert party is not None
        own = q.active_services(f.sql, number, office=party.key)
        error = NotFound(
            f"customer {number} has no {code} collaboration with {party}",
            f"active collaborations of {number} with {party}: {', '.join(own)}",
        )
    return Check("collaboration", False, error.message, error)


def check_party(f: _Facts) -> Check:
    """2. The acting party is a party to the collaboration; ``ended_by`` follows from it."""
    party, number, code = f.ctx.party, f.number, f.service.code
    if f.view is not scope.View.FULL:  # FULL: scope.is_party_to(party, number, f.office)
        error = NotAParty(
            f"acting as {party}, collabctl cannot end the {code} collaboration of customer "
            f"{number}: it is another office's",
            "only the company or its office for this service can end it; "
            "a support agent can act without --as",
        )
        return Check("party", False, error.message, error)
    if party is not None:
        if f.req.by is not None and f.req.by != party.kind:
            raise InvalidInput(
                f"--by {f.req.by}: acting as {party}, the collaboration is ended by the {party.kind}",
                "drop --by, or drop --as to act as support agent",
            )
        f.result.ended_by = party.kind
    else:
        f.result.ended_by = f.req.by
    who = f.result.ended_by or "(not said yet: --by customer|office)"
    return Check("party", True, f"ended by {who}, acting as {f.ctx.scope}")


def check_main_contact(f: _Facts) -> Check:
    """3. The company has a main contact; the hint names the commands that make one."""
    main = f.target.main_contact
    if main is not None:
        return Check("main-contact", True, f"main contact {main}")
    number = f.number
    error = MainContactMissing(
        f"customer {number} ({f.target.company_name}) has no main contact",
        _main_contact_hint(number, q.company_users(f.sql, number)),
    )
    return Check("main-contact", False, error.message, error)


def check_outcome(f: _Facts) -> Check:
    """4. The outcome is one the service allows (the only one, when there is one)."""
    service, outcome = f.service, f.req.outcome
    if outcome is None and len(service.outcomes) == 1:
        outcome = service.outcomes[0]
    f.result.outcome = outcome
    allowed = ", ".join(service.outcomes)
    if outcome is None:
        return Check("outcome", None, f"not chosen yet (allowed: {allowed})")
    if outcome not in service.outcomes:
        error = OutcomeNotAllowed(
            f"{service.name} cannot end with {outcome!r}",
            f"allowed outcomes for {service.code}: {allowed}"
            + "".join(f"\n  {o}: {OUTCOMES[o].summary}" for o in service.outcomes),
        )
        return Check("outcome", False, error.message, error)
    summary = OUTCOMES[outcome].summary
    if outcome == "delete" and not f.req.backup:
        summary = "the service and ALL its data are deleted (irreversible; no backup: --no-backup)"
    return Check("outcome", True, f"{outcome}: {summary}")


def check_checklist(f: _Facts) -> Check:
    """5. The service's checklist holds: computed, attested with --confirm, or forced."""
    number, service, req = f.number, f.service, f.req
    if not service.checklist:
        return Check("checklist", True, "no checklist for this service")
    f.result.checklist = evaluate_checklist(
        f.sql, number, service, req.confirm, req.force, f.target.records_changed_at
    )
    unmet = [c for c in f.result.checklist if not c.met]
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
        return Check("checklist", False, error.message, error)
    if f.result.checklist:
        return Check("checklist", True, ", ".join(f"{c.item} ({c.by})" for c in f.result.checklist))
    return Check("checklist", True, "no checklist for this service")


#: the checks in their documented order; 6 (confirmation) is the command line's
CHECKS: tuple[Callable[[_Facts], Check], ...] = (
    check_collaboration,
    check_party,
    check_main_contact,
    check_outcome,
    check_checklist,
)


# -- helpers ---------------------------------------------------------------------------


def _validate(ctx: Context, req: EndRequest) -> Service:
    """The request's own values, before anything is read: invalid-input naming the option."""
    if not req.service:
        raise InvalidInput(
            "no service given", f"pass --service with one of: {', '.join(ctx.catalogue.codes)}"
        )
    service = ctx.service(req.service, "--service")
    unknown = [item for item in req.confirm if item not in CHECKLIST_ITEMS]
    if unknown:
        raise suggest.unknown("--confirm", "checklist item", unknown[0], CHECKLIST_ITEMS)
    if req.by is not None and req.by not in validation.ENDED_BY:
        raise suggest.unknown("--by", "party", req.by, validation.ENDED_BY)
    # a word that is no outcome at all is a typo (invalid-input); a known outcome the
    # service does not allow is the rule's refusal (outcome-not-allowed, check 4)
    if req.outcome is not None and req.outcome not in OUTCOMES:
        raise suggest.unknown("--outcome", "outcome", req.outcome, OUTCOMES)
    if req.reason is not None:
        check_reason(req.reason)
    return service


def check_reason(reason: object) -> str:
    """A reason the database stores as given on both backends: text, no NUL, not too long."""
    if not isinstance(reason, str):
        raise InvalidInput("reason: expected text")
    if len(reason) > MAX_REASON:
        raise InvalidInput(
            f"reason: {len(reason)} characters is too long", f"keep it within {MAX_REASON}"
        )
    if "\x00" in reason:
        raise InvalidInput("reason: contains a NUL character", "remove it")
    try:
        reason.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            "reason: not valid Unicode text (it holds a lone surrogate)",
            "write the reason as plain UTF-8 text",
        ) from None
    return reason


def _main_contact_hint(number: str, users: list[q.UserRow]) -> str:
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
