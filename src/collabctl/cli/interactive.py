"""The interactive flows, for an agent at a terminal. questionary lives only here.

Called only after the caller checked ``Environment.can_prompt``: prompting
without a terminal can hang. ``unsafe_ask`` lets Ctrl-C through as
KeyboardInterrupt, which the command line turns into exit 130 with nothing changed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import questionary

from collabctl.cli.output import Format, message
from collabctl.domain.catalogue import CHECKLIST_ITEMS, OUTCOMES
from collabctl.domain.errors import Cancelled, InvalidInput

if TYPE_CHECKING:
    from collabctl.cli.app import State
    from collabctl.cli.ending import EndOptions
    from collabctl.operations.ending import EndRequest, Preflight
    from collabctl.store.models import CompanyUser


def _ask(question: Any) -> Any:
    return question.unsafe_ask()


def pick_main_contact(users: list[CompanyUser]) -> str:
    candidates = [u for u in users if u.role != "auditor"]
    if not candidates:
        raise InvalidInput(
            "the company has no user who can be main contact (auditors cannot)",
            "create one: collabctl add-user CUSTOMER --email EMAIL --main-contact",
        )
    choices = [
        questionary.Choice(
            f"{u.email}  {u.name} ({u.role}{', main contact' if u.main_contact else ''})",
            value=u.email,
        )
        for u in candidates
    ]
    return str(_ask(questionary.select("Who becomes the main contact?", choices=choices)))


def _pick_company(state: State) -> str:
    from sqlalchemy import select

    from collabctl.store.models import Collaboration, Company

    db = state.database()
    with db.session(write=False) as session:
        ctx = state.context(session)
        stmt = (
            select(Company.customer_number, Company.name)
            .join(Collaboration, Collaboration.customer_number == Company.customer_number)  # type: ignore[arg-type]
            .where(Collaboration.state == "active")
            .distinct()
            .order_by(Company.customer_number)
        )
        if ctx.party is not None:
            column = (
                Collaboration.office_org_number
                if ctx.party.kind == "office"
                else Collaboration.customer_number
            )
            stmt = stmt.where(column == ctx.party.key)
        companies = list(session.execute(stmt))
    if not companies:
        raise InvalidInput(
            "there is no active collaboration to end", "see `collabctl list --state all`"
        )
    labels = {f"{number}  {name}": number for number, name in companies}
    numbers = {number for number, _ in companies}

    def valid(text: str) -> bool | str:
        if text in labels or text.strip() in numbers:
            return True
        return "type part of a customer number or name and pick a company from the list"

    answer = _ask(
        questionary.autocomplete(
            "Company (type to search by customer number or name):",
            choices=list(labels),
            match_middle=True,
            validate=valid,
        )
    )
    return labels.get(answer, answer.strip())


def _pick_collaboration(state: State, number: str) -> str:
    from collabctl.operations.views import list_collaborations

    db = state.database()
    with db.session(write=False) as session:
        active = list(list_collaborations(session, state.context(session), customer=number))
    if not active:
        raise InvalidInput(
            f"customer {number} has no active collaboration", f"see `collabctl show {number}`"
        )
    if len(active) == 1:
        only = active[0]
        message(
            state.env,
            f"Collaboration: {only['service']} with {only['office_name']} ({only['office_org_number']})",
        )
        return str(only["service"])
    choices = [
        questionary.Choice(
            f"{c['service']:<12} with {c['office_name']} ({c['office_org_number']})",
            value=c["service"],
        )
        for c in active
    ]
    return str(_ask(questionary.select("Which collaboration?", choices=choices)))


def _fix_main_contact(state: State, number: str) -> None:
    """Set a main contact on the spot: promote an existing user, or create one."""
    from collabctl.operations.parties import add_user, set_main_contact
    from collabctl.operations.records import company_users

    db = state.database()
    with db.session(write=False) as session:
        users = company_users(session, number)
    choices = [
        questionary.Choice(
            f"Make {u.email} ({u.name}, {u.role}) the main contact"
            + (" - promotes to administrator" if u.role == "user" else ""),
            value=u.email,
        )
        for u in users
        if u.role != "auditor"
    ]
    choices.append(questionary.Choice("Create a new user as main contact", value="__new__"))
    choices.append(questionary.Choice("Cancel", value="__cancel__"))
    answer = _ask(
        questionary.select("The company has no main contact. Fix it now?", choices=choices)
    )
    if answer == "__cancel__":
        raise Cancelled(
            f"cancelled: customer {number} still has no main contact; nothing was ended"
        )
    if answer == "__new__":
        email = _ask(
            questionary.text(
                "E-mail of the new user:", validate=lambda t: "@" in t or "an e-mail address"
            )
        )
        name = _ask(
            questionary.text("Name:", validate=lambda t: bool(t.strip()) or "a name is required")
        )
        db.transact(lambda s: add_user(s, state.context(s), number, email, name, None, [], True))
        message(state.env, f"Created {email} as administrator and main contact.")
    else:
        db.transact(lambda s: set_main_contact(s, state.context(s), number, answer))
        message(state.env, f"{answer} is now administrator and main contact.")


def _show(state: State, pre: Preflight) -> None:
    from collabctl.cli.output import console
    from collabctl.cli.render import render_preflight

    render_preflight(console(state.env.stderr, state.env, is_stdout=False), pre.to_dict())


def end_interactively(state: State, options: EndOptions, fmt: Format) -> None:
    from collabctl.cli.ending import _preflight, apply_end, show_preflight
    from collabctl.domain import validation

    env = state.env
    number = (
        validation.customer_number(options.customer, "CUSTOMER")
        if options.customer
        else _pick_company(state)
    )
    service = options.service or _pick_collaboration(state, number)
    req: EndRequest = replace(options.request(number), service=service)
    pre = _preflight(state, req)

    if pre.ended_by is None and pre.checks[1].ok:
        by = _ask(
            questionary.select(
                "Who is ending the collaboration?",
                choices=[
                    questionary.Choice("the customer (the company)", value="customer"),
                    questionary.Choice("the accounting office", value="office"),
                ],
            )
        )
        req = replace(req, by=by)
        pre = _preflight(state, req)

    _show(state, pre)
    if pre.error is not None and pre.error.code == "main-contact-missing" and not options.dry_run:
        _fix_main_contact(state, number)
        pre = _preflight(state, req)
        _show(state, pre)
    if pre.error is not None and pre.error.code not in ("checklist-incomplete",):
        raise pre.error
    if options.dry_run:
        show_preflight(state, pre, fmt) if fmt is not Format.table else None
        if pre.error is not None:
            raise pre.error
        return

    # the checklist: tick what the agent can attest, then decide about the rest
    attestable = [c for c in pre.checklist if not c.met and CHECKLIST_ITEMS[c.item].attestable]
    if attestable:
        ticked = _ask(
            questionary.checkbox(
                "Tick what is done (space to tick, enter to go on):",
                choices=[
                    questionary.Choice(f"{c.item}: {CHECKLIST_ITEMS[c.item].summary}", value=c.item)
                    for c in attestable
                ],
            )
        )
        req = replace(req, confirm=tuple(sorted({*req.confirm, *ticked})))
        pre = _preflight(state, req)
    unmet = [c for c in pre.checklist if not c.met]
    if unmet:
        for c in unmet:
            message(env, f"  not done: {c.item}: {c.detail}")
        force = _ask(
            questionary.confirm(
                "End anyway? The unmet items are recorded as forced in the audit log.",
                default=False,
            )
        )
        if not force:
            raise pre.error or Cancelled("cancelled at the checklist: nothing was changed")
        req = replace(req, force=True)

    outcome = req.outcome
    if outcome is None:
        allowed = pre.service.outcomes
        if len(allowed) == 1:
            outcome = allowed[0]
            message(env, f"Outcome: {outcome} ({OUTCOMES[outcome].summary})")
        else:
            outcome = _ask(
                questionary.select(
                    "What happens to the service afterwards?",
                    choices=[
                        questionary.Choice(f"{o:<11} {OUTCOMES[o].summary}", value=o)
                        for o in allowed
                    ],
                )
            )
        req = replace(req, outcome=outcome)
    pre = _preflight(state, req)
    if pre.error is not None:
        raise pre.error

    collab = pre.collaboration or {}
    if outcome == "delete":
        if req.backup:
            backup = _ask(
                questionary.confirm(
                    "Write a backup file of the data before deleting?", default=True
                )
            )
            req = replace(req, backup=bool(backup))
        typed = _ask(
            questionary.text(
                f"This deletes ALL {pre.service.name} data of {number} and cannot be undone. "
                f"Type the customer number ({number}) to confirm:"
            )
        )
        if typed.strip() != number:
            raise Cancelled("the customer number did not match: nothing was deleted")
    if not options.yes:
        sure = _ask(
            questionary.confirm(
                f"End the {pre.service.code} collaboration of {number} {collab.get('company_name', '')} "
                f"with {collab.get('office_name', '')} (outcome {outcome})?",
                default=False,
            )
        )
        if not sure:
            raise Cancelled("cancelled: nothing was changed")
    apply_end(state, req, fmt)
