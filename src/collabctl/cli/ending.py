"""``collabctl end`` of one collaboration: the steps the scripted and the interactive
flow share (the pre-flight, showing it, the end itself) and the scripted flow.

The interactive flow is in ``interactive.py``, many ends (``--from``) in ``bulk.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from collabctl.cli.output import Format, emit_error, emit_object, message
from collabctl.domain.errors import UsageError

if TYPE_CHECKING:
    from collabctl.cli.state import State
    from collabctl.operations.ending import EndRequest, Preflight


@dataclass
class EndOptions:
    customer: str | None
    service: str | None
    outcome: str | None
    by: str | None
    confirm: tuple[str, ...]
    force: bool
    reason: str | None
    dry_run: bool
    yes: bool
    backup: bool
    #: --at: schedule the end for the end of this day instead (DATE, month-end, year-end)
    at: str | None = None
    #: --replace: move the collaboration's scheduled end
    replace: bool = False

    def request(self, customer: str) -> EndRequest:
        from collabctl.operations.ending import EndRequest

        return EndRequest(
            customer_number=customer,
            service=self.service,
            outcome=self.outcome,
            by=self.by,
            confirm=self.confirm,
            force=self.force,
            reason=self.reason,
            backup=self.backup,
        )


def run_preflight(state: State, req: EndRequest) -> Preflight:
    """The pre-flight of an end, read in its own transaction."""
    from collabctl.operations.ending import preflight

    return state.operations.read(preflight, req)


def asks(state: State, options: EndOptions) -> bool:
    """Whether the end runs the interactive flow: a person can answer, and an answer
    is missing (--yes skips the confirmation, not the questions whose flags were left out)."""
    return state.env.can_prompt and (
        options.customer is None
        or options.service is None
        or (not options.yes and not options.dry_run)
        or (not options.dry_run and options.outcome is None)
        or (not options.dry_run and options.by is None and state.party is None)
    )


def end_one(state: State, options: EndOptions, fmt: Format) -> None:
    """The scripted end: every answer comes from the flags, or it is a usage error."""
    from collabctl.domain import validation

    if options.customer is None:
        raise UsageError(
            "which company? CUSTOMER is required",
            "collabctl end CUSTOMER --service S --outcome O --by customer|office --yes",
        )
    if options.service is None:
        raise UsageError(
            "which service? --service is required",
            f"see the active collaborations: collabctl list --customer {options.customer}",
        )
    number = validation.customer_number(options.customer, "CUSTOMER")
    req = options.request(number)
    pre = run_preflight(state, req)
    check_flags_apply(pre, options.confirm, backup=options.backup)
    if options.dry_run:
        show_preflight(state, pre, fmt)
        return
    from collabctl.operations.ending import require_answers

    require_answers(pre)  # a missing answer or a failed check, in the order of the checks
    if not options.yes:
        raise UsageError(
            f"ending needs confirmation: pass --yes ({state.env.why_no_prompt})",
            "check first with --dry-run, then run again with --yes",
        )
    apply_end(state, replace(req, outcome=pre.outcome, by=pre.ended_by), fmt)


def check_flags_apply(pre: Preflight, confirm: tuple[str, ...], *, backup: bool) -> None:
    """Flags that do nothing for this end are usage errors, not silently ignored:
    ``--no-backup`` with an outcome other than delete, ``--confirm`` of an item the
    service's checklist does not have."""
    service = pre.service
    outcome = pre.outcome or pre.request.outcome
    if not backup and outcome is not None and outcome != "delete":
        raise UsageError(
            f"--no-backup applies to --outcome delete only; this end's outcome is {outcome}",
            "drop --no-backup: only a delete writes a backup",
        )
    foreign = [item for item in confirm if item not in service.checklist]
    if foreign:
        items = ", ".join(service.checklist)
        raise UsageError(
            f"--confirm {foreign[0]}: {service.code} has no checklist item {foreign[0]!r}",
            f"{service.code}'s checklist: {items}"
            if items
            else f"{service.code} has no checklist: drop --confirm",
        )


def show_preflight(state: State, pre: Preflight, fmt: Format) -> None:
    """The result of a dry run: every check, then a verdict that says what the real run
    would do, or the exit code of the first check that failed."""
    from collabctl.cli.render import render_preflight

    emit_object(state.env, pre.to_dict(), fmt, render_preflight)
    if pre.error is None:
        message(state.env, verdict(pre))
    if pre.error is not None:
        # The report above already carries the error in its checks; writing it to
        # stdout again would make a machine format two documents.
        import typer

        error = pre.error
        emit_error(state.env, error.code, error.message, error.hint, None)
        raise typer.Exit(error.exit_code)


def apply_end(state: State, req: EndRequest, fmt: Format) -> dict[str, Any]:
    from collabctl.cli.render import render_end_result
    from collabctl.config import backup_dir
    from collabctl.operations.ending import end_collaboration

    result = state.operations.write(end_collaboration, req, backup_dir())
    data = result.to_dict()
    emit_object(state.env, data, fmt, render_end_result)
    return data


def verdict(pre: Preflight) -> str:
    """The last line of a dry run that passed: what the real run would change, that this
    one changed nothing, and what to run it with."""
    from collabctl.domain.catalogue import OUTCOMES

    req = pre.request
    collab = pre.collaboration or {}
    name = f" ({collab['company_name']})" if collab.get("company_name") else ""
    office = collab.get("office_org_number")
    what = f"the {pre.service.code} collaboration of {req.customer_number}{name}" + (
        f" with office {office}" if office else ""
    )
    missing = []
    if pre.ended_by is None:
        missing.append("--by customer|office")
    if pre.outcome is None:
        missing.append(f"--outcome {'|'.join(pre.service.outcomes)}")
    if missing or pre.outcome is None:
        return (
            f"checks passed for ending {what}; nothing changed; "
            f"run again with {' '.join(missing)} --yes"
        )
    effects = [f"the subscription is then {OUTCOMES[pre.outcome].subscription_state}"]
    if pre.outcome == "delete":
        effects.append(
            "ALL its records are deleted after a backup file is written"
            if req.backup
            else "ALL its records are deleted, with no backup (--no-backup)"
        )
    if pre.forced:
        effects.append(f"forced checklist items recorded: {', '.join(pre.forced)}")
    if req.reason:
        effects.append("the reason is recorded")
    return (
        f"would end {what}, by the {pre.ended_by}, outcome {pre.outcome} "
        f"({'; '.join(effects)}); nothing changed; run again with --yes"
    )
