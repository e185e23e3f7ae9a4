"""The interactive end flow, for an agent at a terminal.

Called only after the caller checked ``Environment.can_prompt``: prompting
without a terminal can hang. Ctrl-C at any question ends the flow with exit 130,
answering no with exit 1 (``cancelled``); either way the flow says exactly what
was saved before (a main contact fixed on the spot stays fixed) and that the
collaboration was not ended.

Questions are drawn on the terminal; the lines that tell the agent where the
flow stands (the pre-flight, what was fixed) go to stderr, and only the result
of the end goes to stdout, in the format asked for. The questions that pick
one thing are in ``pickers.py``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import questionary
import typer

from collabctl.cli.ending import (
    EndOptions,
    apply_end,
    check_flags_apply,
    run_preflight,
    show_preflight,
)
from collabctl.cli.output import Format, message
from collabctl.cli.pickers import (
    ask,
    pick_collaboration,
    pick_company,
    pick_ended_by,
    pick_outcome,
    select,
)
from collabctl.domain.catalogue import CHECKLIST_ITEMS
from collabctl.domain.errors import (
    EXIT_INTERRUPTED,
    Cancelled,
    CollabError,
    InvalidInput,
    UsageError,
)

if TYPE_CHECKING:
    from collabctl.cli.state import State
    from collabctl.operations.ending import EndRequest, Preflight


# -- the main contact -----------------------------------------------------------------


def fix_main_contact(state: State, number: str) -> str:
    """Set a main contact on the spot: promote an existing user, or create one. Returns
    what was saved, in words, for when the flow is cancelled later."""
    from collabctl.domain import validation
    from collabctl.operations.parties import add_user, promote_to_main_contact
    from collabctl.operations.picking import users_of

    env = state.env
    users = state.operations.read(users_of, number)
    choices = [
        (
            f"Make {u.email} ({u.name}, {u.role}) the main contact"
            + (": promotes them to administrator" if u.role == "user" else ""),
            u.email,
        )
        for u in users
        if u.may_be_main_contact
    ]
    choices.append(("Create a new user as main contact", "__new__"))
    choices.append(("Cancel: end nothing", "__cancel__"))
    answer = select(env, "The company has no main contact. Fix it now?", choices)
    if answer == "__cancel__":
        raise Cancelled(f"cancelled: customer {number} still has no main contact")
    if answer != "__new__":
        # as an agent would by hand: set-role administrator, then set-main-contact, in one
        # transaction (both or neither)
        result = state.operations.write(promote_to_main_contact, number, answer)
        promoted = " (promoted to administrator)" if result.get("promoted") else ""
        message(env, f"{result['email']} is now the main contact{promoted}.")
        return f"{result['email']} is the main contact of {number}{promoted}"

    known = {validation.email_key(u.email): u for u in users}

    def valid_email(text: str) -> bool | str:
        try:
            validation.email(text)
        except InvalidInput:
            return "an e-mail address, e.g. anna@example.se"
        user = known.get(validation.email_key(text))
        if user is not None:
            return f"{user.email} is already a user ({user.role}): pick them from the list instead"
        return True

    email = validation.email(
        ask(
            env,
            "text",
            "E-mail of the new main contact:",
            validate=valid_email,
            validate_while_typing=False,
        )
    )
    name = ask(
        env,
        "text",
        "Full name:",
        validate=lambda t: bool(t.strip()) or "a name is required",
        validate_while_typing=False,
    ).strip()
    state.operations.write(add_user, number, email, name, None, [], True)
    message(env, f"Created {email} ({name}) as administrator and main contact.")
    return f"{email} ({name}) was created as administrator and main contact of {number}"


# -- showing the pre-flight -----------------------------------------------------------


def _show(state: State, pre: Preflight, *, from_check: str | None = None) -> None:
    """The pre-flight on stderr; ``from_check`` shows only that check and the ones after it,
    for when the earlier ones were shown already and did not change."""
    from collabctl.cli.output import console
    from collabctl.cli.render import render_preflight

    data = pre.to_dict()
    if from_check is not None:
        names = [c["check"] for c in data["checks"]]
        data["checks"] = data["checks"][names.index(from_check) :]
    render_preflight(
        console(state.env.stderr, state.env, is_stdout=False), data, heading=from_check is None
    )


def _passed(pre: Preflight, *names: str) -> bool:
    """Whether these checks ran and passed (a check after a failed one does not run)."""
    results = {c.name: c.ok for c in pre.checks}
    return all(results.get(name) is True for name in names)


def _unmet_lines(pre: Preflight, number: str) -> list[str]:
    """How to meet each unmet item (what is wrong with it the pre-flight showed already)."""
    return [
        f"  still to do: {c.item}: "
        + CHECKLIST_ITEMS[c.item].how_to_meet.format(customer=number, service=pre.service.code)
        for c in pre.checklist
        if not c.met
    ]


# -- the flow -------------------------------------------------------------------------


def end_interactively(state: State, options: EndOptions, fmt: Format) -> None:
    """The interactive end; what it saved on the way (a main contact fixed on the spot)
    stays saved when it is cancelled or interrupted later, and it says so."""
    saved: list[str] = []
    try:
        req = _end_flow(state, options, fmt, saved)
        if req is None:  # a dry run: its report was the result
            return
    except (KeyboardInterrupt, EOFError):
        message(state.env, "\ninterrupted: the collaboration was not ended" + _kept(saved))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Cancelled as exc:
        raise Cancelled(exc.message + _kept(saved)) from None
    except (CollabError, UsageError):
        _say_kept(state, saved)
        raise
    # the end itself, one transaction: a refusal under the lock (another agent was first)
    # still leaves what the flow saved before
    try:
        if options.at is not None:  # or its schedule, when it ends later
            from collabctl.cli.scheduling import schedule_chosen

            schedule_chosen(state, req, options, fmt)
            return
        apply_end(state, req, fmt)
    except (CollabError, UsageError):
        _say_kept(state, saved)
        raise


def _say_kept(state: State, saved: list[str]) -> None:
    if saved:  # the refusal follows; first what of this flow stays
        message(state.env, "saved before this, and kept: " + "; ".join(saved))


def _kept(saved: list[str]) -> str:
    if not saved:
        return "; nothing was changed"
    return "; saved before that, and kept: " + "; ".join(saved)


def _end_flow(
    state: State, options: EndOptions, fmt: Format, saved: list[str]
) -> EndRequest | None:
    """The questions, up to the confirmation; the request to end with, or None when
    it was a dry run (whose report it printed)."""
    from collabctl.domain import validation

    env = state.env
    number = (
        validation.customer_number(options.customer, "CUSTOMER")
        if options.customer
        else pick_company(state, options.service)
    )
    service = options.service or pick_collaboration(state, number)
    req: EndRequest = replace(options.request(number), service=service)
    pre = run_preflight(state, req)
    check_flags_apply(pre, options.confirm, backup=options.backup)

    if pre.ended_by is None and _passed(pre, "party"):
        req = replace(req, by=pick_ended_by(env, pre))
        pre = run_preflight(state, req)

    if options.dry_run:
        # a dry run changes nothing, so nothing is fixed or ticked: the checks are the result
        if pre.outcome is None and _passed(pre, "collaboration", "party", "main-contact"):
            req = replace(req, outcome=pick_outcome(env, pre))
            pre = run_preflight(state, req)
            check_flags_apply(pre, options.confirm, backup=options.backup)
        show_preflight(state, pre, fmt)
        return None

    fixable = ("main-contact-missing", "checklist-incomplete")
    if pre.error is not None and pre.error.code not in fixable:
        raise pre.error
    _show(state, pre)
    if pre.error is not None and pre.error.code == "main-contact-missing":
        saved.append(fix_main_contact(state, number))
        pre = run_preflight(state, req)
        _show(state, pre, from_check="main-contact")
        if pre.error is not None and pre.error.code not in fixable:
            raise pre.error

    # the checklist: tick what the agent can attest, then decide about the rest
    attestable = [c for c in pre.checklist if not c.met and CHECKLIST_ITEMS[c.item].attestable]
    if attestable:
        ticked = ask(
            env,
            "checkbox",
            "Tick what is done:",
            choices=[
                questionary.Choice(f"{c.item}: {CHECKLIST_ITEMS[c.item].summary}", value=c.item)
                for c in attestable
            ],
            instruction="(space to tick, enter when done)",
        )
        req = replace(req, confirm=tuple(sorted({*req.confirm, *ticked})))
        pre = run_preflight(state, req)
    if any(not c.met for c in pre.checklist):
        for line in _unmet_lines(pre, number):
            message(env, line)
        force = ask(
            env,
            "confirm",
            "End anyway? The unmet items are recorded as forced in the audit log.",
            default=False,
        )
        if not force:
            raise pre.error or Cancelled("cancelled: the collaboration was not ended")
        req = replace(req, force=True)

    if req.outcome is None:
        req = replace(req, outcome=pick_outcome(env, pre))
    pre = run_preflight(state, req)
    if pre.error is not None:
        raise pre.error
    check_flags_apply(pre, options.confirm, backup=options.backup)
    outcome = pre.outcome
    req = replace(req, outcome=outcome, by=pre.ended_by)

    if options.at is None and not options.yes:  # now, or at the end of a day (schedule run)
        from collabctl.cli.scheduling import ask_when

        options.at = ask_when(state)
    if options.at is not None:
        return req  # the schedule's own confirmation follows
    if not options.yes:
        req = _confirm(state, pre, req, number)
    return req


def _confirm(state: State, pre: Preflight, req: EndRequest, number: str) -> EndRequest:
    """The last questions: the reason (optional), then the confirmation, which names the
    checklist items that are forced; for a delete, the backup and the typed number."""
    from collabctl.operations.preflight import check_reason

    env = state.env
    if req.reason is None:

        def valid_reason(text: str) -> bool | str:
            try:
                check_reason(text)
            except InvalidInput as exc:
                return exc.message
            return True

        reason = ask(
            env,
            "text",
            "Reason (optional, recorded with the collaboration; Enter to skip):",
            validate=valid_reason,
            validate_while_typing=False,
        ).strip()
        req = replace(req, reason=reason or None)

    collab = pre.collaboration or {}
    what = (
        f"the {pre.service.code} collaboration of {number} {collab.get('company_name', '')} "
        f"with {collab.get('office_name', '')} ({collab.get('office_org_number', '')})"
    )
    forced = pre.forced
    forcing = f", forcing {', '.join(forced)} (recorded)" if forced else ""
    if pre.outcome == "delete":
        if req.backup:
            backup = ask(
                env,
                "confirm",
                "Write a backup file of the data before deleting it? (recommended)",
                default=True,
            )
            req = replace(req, backup=bool(backup))
        message(
            env,
            f"This deletes ALL {pre.service.name} data of customer {number}."
            + (
                " `collabctl restore` can bring it back from the backup file."
                if req.backup
                else " No backup will be written: it cannot be brought back."
            )
            + (f" Forced checklist items (recorded): {', '.join(forced)}." if forced else ""),
        )

        def typed_right(text: str) -> bool | str:
            if text.strip() == number:
                return True
            return f"{text.strip()!r} is not {number}: type {number}, or Ctrl-C to cancel"

        ask(
            env,
            "text",
            f"Type the customer number ({number}) to confirm:",
            validate=typed_right,
            validate_while_typing=False,
        )
    else:
        sure = ask(
            env,
            "confirm",
            f"End {what}, ended by the {pre.ended_by}, outcome {pre.outcome}{forcing}?",
            default=False,
        )
        if not sure:
            raise Cancelled("cancelled: the collaboration was not ended")
    return req
