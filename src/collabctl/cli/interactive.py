"""The interactive end flow, for an agent at a terminal.

Called only after the caller checked ``Environment.can_prompt``: prompting
without a terminal can hang. Ctrl-C at any question is a KeyboardInterrupt,
which the command line turns into exit 130 with nothing changed.

Questions are drawn on the terminal; the lines that tell the agent where the
flow stands (the pre-flight, what was fixed) go to stderr, and only the result
of the end goes to stdout, in the format asked for. The questions that pick
one thing are in ``pickers.py``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import questionary

from collabctl.cli.ending import EndOptions, apply_end, run_preflight, show_preflight
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
from collabctl.domain.errors import Cancelled, InvalidInput

if TYPE_CHECKING:
    from collabctl.cli.state import State
    from collabctl.operations.ending import EndRequest, Preflight


# -- the main contact -----------------------------------------------------------------


def fix_main_contact(state: State, number: str) -> None:
    """Set a main contact on the spot: promote an existing user, or create one."""
    from collabctl.domain import validation
    from collabctl.operations.parties import add_user
    from collabctl.operations.picking import users_of
    from collabctl.operations.users import promote_to_main_contact

    env = state.env
    with state.reading() as (session, _ctx):
        users = users_of(session, number)
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
        raise Cancelled(
            f"cancelled: customer {number} still has no main contact; nothing was changed"
        )
    if answer != "__new__":
        # as an agent would by hand: set-role administrator, then set-main-contact, in one
        # transaction (both or neither)
        result = state.transact(lambda s, c: promote_to_main_contact(s, c, number, answer))
        promoted = " (promoted to administrator)" if result.get("promoted") else ""
        message(env, f"{result['email']} is now the main contact{promoted}.")
        return

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
    state.transact(lambda s, c: add_user(s, c, number, email, name, None, [], True))
    message(env, f"Created {email} ({name}) as administrator and main contact.")


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

    if pre.ended_by is None and _passed(pre, "party"):
        req = replace(req, by=pick_ended_by(env, pre))
        pre = run_preflight(state, req)

    if options.dry_run:
        # a dry run changes nothing, so nothing is fixed or ticked: the checks are the result
        if pre.outcome is None and _passed(pre, "collaboration", "party", "main-contact"):
            req = replace(req, outcome=pick_outcome(env, pre))
            pre = run_preflight(state, req)
        show_preflight(state, pre, fmt)
        return

    fixable = ("main-contact-missing", "checklist-incomplete")
    if pre.error is not None and pre.error.code not in fixable:
        raise pre.error
    _show(state, pre)
    if pre.error is not None and pre.error.code == "main-contact-missing":
        fix_main_contact(state, number)
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
    outcome = pre.outcome
    req = replace(req, outcome=outcome, by=pre.ended_by)

    collab = pre.collaboration or {}
    what = (
        f"the {pre.service.code} collaboration of {number} {collab.get('company_name', '')} "
        f"with {collab.get('office_name', '')} ({collab.get('office_org_number', '')})"
    )
    if outcome == "delete" and not options.yes:
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
            f"This deletes ALL {pre.service.name} data of customer {number} and cannot be undone."
            + ("" if req.backup else " No backup will be written."),
        )
        typed = ask(env, "text", f"Type the customer number ({number}) to confirm:")
        if typed.strip() != number:
            raise Cancelled(
                f"cancelled: {typed.strip()!r} is not {number}; "
                "nothing was deleted and the collaboration was not ended"
            )
    elif not options.yes:
        sure = ask(
            env,
            "confirm",
            f"End {what}, ended by the {pre.ended_by}, outcome {outcome}?",
            default=False,
        )
        if not sure:
            raise Cancelled("cancelled: the collaboration was not ended")
    apply_end(state, req, fmt)
