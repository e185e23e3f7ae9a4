"""Scheduled ends: ``end --at`` schedules, ``schedule list`` and ``schedule cancel``.

Scheduling runs the end's pre-flight now. What cannot change by the day the end
is due refuses now (not-found, already-ended, not-a-party, outcome-not-allowed);
the main contact and the checklist are reported as what must be done by then
(``to_do``), and are checked again when ``schedule run`` performs the end
(:mod:`collabctl.operations.schedule_run`). Scheduling and cancelling are an
audit event each and queue a message to both parties naming the last day.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from collabctl.domain import validation
from collabctl.domain.errors import Conflict, Duplicate, InvalidInput, NotFound
from collabctl.domain.keys import SCHEDULE_KEYS
from collabctl.domain.schedule_dates import EndDay
from collabctl.operations import scope
from collabctl.operations.context import Context, Party, format_timestamp, now_iso
from collabctl.operations.mail_templates import Notice, to_facts
from collabctl.operations.preflight import EndRequest, Preflight, require_answers, run_preflight
from collabctl.store import schedules
from collabctl.store.audit import AuditEvent
from collabctl.store.end_queries import ReadAhead
from collabctl.store.end_writes import EndWriter
from collabctl.store.outbox import MessagePair
from collabctl.store.schedules import ScheduleRow
from collabctl.store.statements import Statements

if TYPE_CHECKING:
    from collabctl.operations.ending import Ends

STATES = schedules.STATES
LIST_STATES = (*STATES, "all")
#: checks whose failure scheduling reports as to do by then instead of refusing
_LATER = frozenset({"main-contact", "checklist"})


def schedule_dict(row: ScheduleRow) -> dict[str, Any]:
    """A scheduled end as ``schedule list`` shows it (SCHEDULE_KEYS)."""
    values = {
        "id": row.id,
        "customer_number": row.customer_number,
        "service": row.service,
        "office_org_number": row.office_org_number,
        "outcome": row.outcome,
        "by": row.ended_by,
        "due_at": row.due_at,
        "state": row.state,
        "scheduled_by": row.scheduled_by,
        "error": row.error_dict,
    }
    return {key: values[key] for key in SCHEDULE_KEYS}


def schedule_end(
    session: Session,
    ctx: Context,
    req: EndRequest,
    day: EndDay,
    *,
    replace_existing: bool = False,
    dry_run: bool = False,
    statements: Statements | None = None,
    ahead: ReadAhead | None = None,
    writer: EndWriter | None = None,
) -> dict[str, Any]:
    """Schedule the end ``req`` describes for the end of ``day``; returns the scheduled end
    (SCHEDULE_KEYS) with ``ends_on``, ``replaced`` (the due instant it had) and ``to_do``.
    ``statements``, ``ahead`` and ``writer``: a bulk run's, for its batch (``end --from
    --at``)."""
    sql = statements or Statements(session)
    pre = run_preflight(sql, ctx, req, lock=not dry_run, continue_after=_LATER, ahead=ahead)
    to_do = _refuse_now(pre)
    foreign = [item for item in req.confirm if item not in pre.service.checklist]
    if foreign:  # as for an end now: a flag that does nothing is not silently ignored
        raise InvalidInput(
            f"--confirm {foreign[0]}: {pre.service.code} has no checklist item {foreign[0]!r}",
            f"{pre.service.code}'s checklist: {', '.join(pre.service.checklist)}"
            if pre.service.checklist
            else f"{pre.service.code} has no checklist: drop --confirm",
        )
    assert pre.collaboration_id is not None and pre.collaboration is not None
    assert pre.outcome is not None and pre.ended_by is not None
    number, code = req.customer_number, pre.service.code
    existing = schedules.scheduled_for(sql, pre.collaboration_id)
    if existing is not None and not replace_existing:
        raise Duplicate(
            f"the {code} collaboration of customer {number} is already scheduled to end on "
            f"{existing.ends_on} (schedule {existing.id})",
            f"move it: add --replace; or cancel it: collabctl schedule cancel {existing.id}",
        )
    if existing is None and replace_existing:
        raise NotFound(
            f"the {code} collaboration of customer {number} has no scheduled end to replace",
            "drop --replace to schedule one",
        )
    at = now_iso()
    values = {
        "collaboration": pre.collaboration_id,
        "number": number,
        "service": code,
        "office": pre.collaboration["office_org_number"],
        "outcome": pre.outcome,
        "by": pre.ended_by,
        "confirm": [c.item for c in pre.checklist if c.by == "attested"],
        "force": req.force,
        "reason": req.reason,
        "ends_on": day.ends_on.isoformat(),
        "due_at": day.due_text,
        "scheduled_by": ctx.actor,
        "scope": ctx.scope,
        "at": at,
    }
    replaced = existing.due_at if existing is not None else None
    result = {
        "id": existing.id if existing is not None else None,
        "customer_number": number,
        "service": code,
        "office_org_number": values["office"],
        "outcome": pre.outcome,
        "by": pre.ended_by,
        "due_at": day.due_text,
        "state": "scheduled",
        "scheduled_by": ctx.actor,
        "error": None,
        "ends_on": values["ends_on"],
        "replaced": replaced,
        "to_do": to_do,
    }
    if dry_run:
        return result
    if existing is not None:
        if not schedules.move(sql, existing.id, **values):
            raise Conflict(
                f"schedule {existing.id} changed while it was being replaced",
                "run the command again; `collabctl schedule list` shows its state",
            )
        schedule_id = existing.id
    else:
        schedule_id = schedules.insert(sql, **values)
    result["id"] = schedule_id
    details = {
        "schedule_id": schedule_id,
        "office_org_number": values["office"],
        "ended_by": pre.ended_by,
        "outcome": pre.outcome,
        "ends_on": values["ends_on"],
        "due_at": day.due_text,
        "reason": req.reason,
        "confirmed": values["confirm"],
        "force": req.force,
        "replaced": replaced,
        "to_do": [item["check"] for item in to_do],
    }
    names = (pre.collaboration["company_name"], pre.collaboration["office_name"])
    _record(
        sql, ctx, "schedule", number, code, details, at, values["ends_on"],
        names=names, writer=writer,
    )  # fmt: skip
    return result


def _refuse_now(pre: Preflight) -> list[dict[str, Any]]:
    """Raise what refuses the schedule now; return what must be done by the day it is due."""
    to_do = []
    for check in pre.checks:
        if check.error is not None and check.name in _LATER:
            to_do.append(
                {"check": check.name, "message": check.error.message, "hint": check.error.hint}
            )
    # the refusals and missing answers, with the checks left for later taken as passed
    later = [replace(c, ok=True, error=None) if c.name in _LATER else c for c in pre.checks]
    require_answers(replace(pre, checks=later))
    return to_do


def _record(
    sql: Statements,
    ctx: Context,
    action: str,
    number: str,
    service: str,
    details: dict[str, Any],
    at: str,
    ends_on: str,
    *,
    names: tuple[str, str] | None = None,
    writer: EndWriter | None = None,
) -> None:
    """The audit event and the messages to both parties about a schedule change, through
    ``writer`` (a bulk run's, which writes them with its batch) or at once. ``names``: the
    company's and the office's, when the caller has read them already."""
    names = names or schedules.party_names(sql, number, details["office_org_number"])
    notice = Notice(
        event=action,
        at=at,
        customer_number=number,
        company_name=names[0],
        office_org_number=details["office_org_number"],
        office_name=names[1],
        actor=ctx.actor,
        behalf=details["ended_by"],
        service=service,
        service_name=ctx.service(service).name,
        outcome=details["outcome"],
        reason=details.get("reason"),
        ends_on=ends_on,
    )
    event = AuditEvent(at, ctx.actor, ctx.scope, action, number, service, details)
    messages = MessagePair(
        at, action, number, service, details["office_org_number"], ctx.mail_language,
        to_facts(notice),
    )  # fmt: skip
    (writer or EndWriter(sql, batched=False)).record(event, messages)


def cancel_schedule(
    session: Session,
    ctx: Context,
    *,
    schedule_id: int | None = None,
    customer: str | None = None,
    service: str | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """``schedule cancel ID`` or ``schedule cancel CUSTOMER --service S``: the scheduled end
    becomes ``cancelled``. One that was performed or failed is a ``conflict``."""
    sql = Statements(session)
    if schedule_id is not None:
        row = schedules.by_id(sql, schedule_id)
        if row is None or not _own(ctx.party, row):
            raise NotFound(
                f"no scheduled end {schedule_id}",
                "see the scheduled ends: collabctl schedule list --state all",
            )
    else:
        assert customer is not None and service is not None
        number = validation.customer_number(customer, "CUSTOMER")
        code = ctx.service(service, "--service").code
        if not scope.sees_company(session, ctx.party, number):
            raise scope.not_found(ctx.party, number)
        found = schedules.scheduled_by_service(sql, number, code)
        if found is None or not _own(ctx.party, found):
            raise NotFound(
                f"the {code} collaboration of customer {number} has no scheduled end",
                f"see its scheduled ends: collabctl schedule list --customer {number} --state all",
            )
        row = found
    if row.state != "scheduled":
        raise Conflict(
            f"schedule {row.id} is {row.state}"
            + (f" (ended at {row.claimed_at})" if row.state == "done" else "")
            + ": only a scheduled end can be cancelled",
            f"see it: collabctl schedule list --customer {row.customer_number} --state all",
        )
    result = {**schedule_dict(row), "state": "cancelled"}
    if dry_run:
        return result
    if not schedules.cancel(sql, row.id):
        raise Conflict(
            f"schedule {row.id} was performed while it was being cancelled",
            f"see it: collabctl schedule list --customer {row.customer_number} --state all",
        )
    details = {
        "schedule_id": row.id,
        "office_org_number": row.office_org_number,
        "ended_by": row.ended_by,
        "outcome": row.outcome,
        "ends_on": row.ends_on,
        "due_at": row.due_at,
    }
    at = now_iso()
    _record(sql, ctx, "schedule-cancel", row.customer_number, row.service, details, at, row.ends_on)
    return result


def _own(party: Party | None, row: ScheduleRow) -> bool:
    """Whether the acting party may see and cancel this scheduled end: its own collaboration."""
    return scope.is_party_to(party, row.customer_number, row.office_org_number)


def list_schedules(
    session: Session,
    ctx: Context,
    *,
    customer: str | None = None,
    office: str | None = None,
    state: str = "scheduled",
    due: bool = False,
    now: datetime,
) -> list[dict[str, Any]]:
    """``schedule list``: by due instant; ``due`` keeps the scheduled ones due at ``now``."""
    if state not in LIST_STATES:
        raise InvalidInput(
            f"--state: {state!r} is not a state of a scheduled end",
            f"use one of: {', '.join(LIST_STATES)}",
        )
    if due and state != "scheduled":
        raise InvalidInput(
            f"--due lists the scheduled ends that are due; --state {state} contradicts it",
            "drop --state, or drop --due",
        )
    rows = schedules.listed(
        Statements(session),
        customer=None if customer is None else validation.customer_number(customer, "--customer"),
        office=None if office is None else validation.org_number(office, "--office"),
        state=None if state == "all" or due else state,
        due_by=format_timestamp(now) if due else None,
        party=None if ctx.party is None else (ctx.party.kind, ctx.party.key),
    )
    return [schedule_dict(row) for row in rows]


def schedule_item(day: EndDay, replace_existing: bool) -> Any:
    """What each item of ``end --from --at`` does in the batch runner
    (:class:`collabctl.operations.bulk.Act`): schedule its end for the end of ``day``."""

    def act(
        ends: Ends,
        ctx: Context,
        request: EndRequest,
        dry_run: bool,
        backup_dir: Any,
        result: Any,
    ) -> None:
        scheduled = schedule_end(
            ends.sql.session,
            ctx,
            request,
            day,
            replace_existing=replace_existing,
            dry_run=dry_run,
            statements=ends.sql,
            ahead=ends.ahead,
            writer=ends.writer,
        )
        result.status = "would-schedule" if dry_run else "scheduled"
        result.outcome = scheduled["outcome"]

    return act
