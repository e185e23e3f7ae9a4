"""The interactive flows, for an agent at a terminal. questionary lives only here.

Called only after the caller checked ``Environment.can_prompt``: prompting
without a terminal can hang. ``unsafe_ask`` lets Ctrl-C through as
KeyboardInterrupt, which the command line turns into exit 130 with nothing changed.

Questions are drawn on the terminal; the lines that tell the agent where the
flow stands (the pre-flight, what was fixed) go to stderr, and only the result
of the end goes to stdout, in the format asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import questionary
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.key_binding import KeyBindings

from collabctl.cli.output import Format, message
from collabctl.domain.catalogue import CHECKLIST_ITEMS, OUTCOMES
from collabctl.domain.errors import Cancelled, InvalidInput, NotFound

if TYPE_CHECKING:
    from collabctl.cli.ending import EndOptions
    from collabctl.cli.state import State
    from collabctl.operations.ending import EndRequest, Preflight
    from collabctl.store.models import CompanyUser

#: Completions shown while typing a company; more would only scroll off the screen.
MAX_COMPLETIONS = 30


def _ask(question: Any) -> Any:
    return question.unsafe_ask()


def pick_main_contact(users: list[CompanyUser]) -> str:
    """``set-main-contact CUSTOMER`` without ``--user``: pick one of the company's users."""
    candidates = [u for u in users if u.role != "auditor"]
    if not candidates:
        raise InvalidInput(
            "the company has no user who can be main contact (auditors cannot)",
            "create one: collabctl add-user CUSTOMER --email EMAIL --main-contact",
        )
    choices = [
        questionary.Choice(
            f"{u.email}  {u.name} ({u.role}"
            + (", main contact now" if u.main_contact else "")
            + ("; becomes administrator" if u.role == "user" else "")
            + ")",
            value=u.email,
        )
        for u in candidates
    ]
    current = next((c for c, u in zip(choices, candidates, strict=True) if u.main_contact), None)
    return str(
        _ask(
            questionary.select(
                "Who becomes the main contact?",
                choices=choices,
                default=current,
            )
        )
    )


# -- picking the company and the collaboration ----------------------------------------


class _CompanyCompleter(Completer):
    """Companies whose number or name contains what was typed, case-insensitively."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        self.folded = [label.casefold() for label in labels]

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        typed = document.text_before_cursor
        needle = typed.strip().casefold()
        shown = 0
        for label, folded in zip(self.labels, self.folded, strict=True):
            at = folded.find(needle)
            if at < 0:
                continue
            end = at + len(needle)
            yield Completion(
                label,
                start_position=-len(typed),
                display=[("", label[:at]), ("bold underline", label[at:end]), ("", label[end:])],
            )
            shown += 1
            if shown >= MAX_COMPLETIONS:
                return


def _companies_with_active(state: State, service: str | None) -> list[tuple[str, str]]:
    from sqlalchemy import select
    from sqlmodel import col

    from collabctl.store.models import Collaboration, Company

    db = state.database()
    with db.session(write=False) as session:
        ctx = state.context(session)
        stmt = (
            select(col(Company.customer_number), col(Company.name))
            .join(Collaboration, col(Collaboration.customer_number) == col(Company.customer_number))
            .where(col(Collaboration.state) == "active")
            .distinct()
            .order_by(col(Company.customer_number))
        )
        if service is not None:
            stmt = stmt.where(col(Collaboration.service) == ctx.service(service, "--service").code)
        if ctx.party is not None:
            column = (
                col(Collaboration.office_org_number)
                if ctx.party.kind == "office"
                else col(Collaboration.customer_number)
            )
            stmt = stmt.where(column == ctx.party.key)
        return [(str(number), str(name)) for number, name in session.execute(stmt)]


def _pick_company(state: State, service: str | None) -> str:
    companies = _companies_with_active(state, service)
    if not companies:
        what = f"active {service} collaboration" if service else "active collaboration"
        raise NotFound(f"there is no {what} to end", "see `collabctl list --state all`")
    labels = [f"{number}  {name}" for number, name in companies]
    by_label = dict(zip(labels, (number for number, _ in companies), strict=True))
    if len(companies) == 1:
        message(state.env, f"Company: {labels[0]}")
        return companies[0][0]
    numbers = set(by_label.values())

    def matches(text: str) -> list[str]:
        needle = text.strip().casefold()
        return [label for label in labels if needle in label.casefold()]

    def resolve(text: str) -> str | None:
        """The customer number meant by what was typed, when it is unambiguous."""
        if text in by_label:
            return by_label[text]
        if text.strip() in numbers:
            return text.strip()
        found = matches(text) if text.strip() else []
        return by_label[found[0]] if len(found) == 1 else None

    def valid(text: str) -> bool | str:
        if resolve(text) is not None:
            return True
        if not text.strip():
            return "type part of a customer number or name"
        count = len(matches(text))
        if count == 0:
            return f"no company with an active collaboration matches {text.strip()!r}"
        return f"{count} companies match: pick one with the arrow keys"

    label_of = {number: label for label, number in by_label.items()}
    keys = KeyBindings()

    @keys.add("enter")
    def _accept(event: Any) -> None:
        # show the company that was meant, not the few letters typed to find it
        buffer = event.current_buffer
        number = resolve(buffer.text)
        if number is not None:
            buffer.document = Document(label_of[number])
        buffer.validate_and_handle()

    answer = _ask(
        questionary.autocomplete(
            "Company (type to search by customer number or name):",
            choices=[],
            completer=_CompanyCompleter(labels),
            validate=valid,
            validate_while_typing=False,
            key_bindings=keys,
        )
    )
    number = resolve(answer)
    assert number is not None  # the validator accepted it
    return number


def _pick_collaboration(state: State, number: str) -> str:
    from collabctl.operations.companies import get_company
    from collabctl.operations.views import list_collaborations

    db = state.database()
    with db.session(write=False) as session:
        company = get_company(session, number)
        active = list(list_collaborations(session, state.context(session), customer=number))
    if not active:
        raise NotFound(
            f"customer {number} ({company.name}) has no active collaboration",
            f"see `collabctl show {number}`",
        )
    if len(active) == 1:
        only = active[0]
        message(
            state.env,
            f"Collaboration: {only['service']} with {only['office_name']} ({only['office_org_number']})",
        )
        return str(only["service"])
    width = max(len(str(c["service"])) for c in active)
    choices = [
        questionary.Choice(
            f"{c['service']:<{width}}  with {c['office_name']} ({c['office_org_number']}), "
            f"since {str(c['started_at'])[:10]}",
            value=c["service"],
        )
        for c in active
    ]
    return str(_ask(questionary.select("Which collaboration?", choices=choices)))


def _pick_ended_by(pre: Preflight) -> str:
    collab = pre.collaboration or {}
    return str(
        _ask(
            questionary.select(
                "Who is ending the collaboration?",
                choices=[
                    questionary.Choice(
                        f"the customer ({collab.get('company_name', 'the company')})",
                        value="customer",
                    ),
                    questionary.Choice(
                        f"the accounting office ({collab.get('office_name', 'the office')})",
                        value="office",
                    ),
                ],
            )
        )
    )


def _pick_outcome(state: State, pre: Preflight) -> str:
    allowed = pre.service.outcomes
    if len(allowed) == 1:
        only = allowed[0]
        message(state.env, f"Outcome: {only} ({OUTCOMES[only].summary})")
        return only
    width = max(len(o) for o in allowed)
    return str(
        _ask(
            questionary.select(
                f"What happens to {pre.service.name} afterwards?",
                choices=[
                    questionary.Choice(f"{o:<{width}}  {OUTCOMES[o].summary}", value=o)
                    for o in allowed
                ],
            )
        )
    )


# -- the main contact -----------------------------------------------------------------


def _fix_main_contact(state: State, number: str) -> None:
    """Set a main contact on the spot: promote an existing user, or create one."""
    from collabctl.domain import validation
    from collabctl.operations.companies import company_users
    from collabctl.operations.parties import add_user, set_main_contact

    db = state.database()
    with db.session(write=False) as session:
        users = company_users(session, number)
    choices = [
        questionary.Choice(
            f"Make {u.email} ({u.name}, {u.role}) the main contact"
            + (": promotes them to administrator" if u.role == "user" else ""),
            value=u.email,
        )
        for u in users
        if u.role != "auditor"
    ]
    choices.append(questionary.Choice("Create a new user as main contact", value="__new__"))
    choices.append(questionary.Choice("Cancel: end nothing", value="__cancel__"))
    answer = _ask(
        questionary.select("The company has no main contact. Fix it now?", choices=choices)
    )
    if answer == "__cancel__":
        raise Cancelled(
            f"cancelled: customer {number} still has no main contact; nothing was changed"
        )
    if answer != "__new__":
        result = db.transact(lambda s: set_main_contact(s, state.context(s), number, answer))
        promoted = " (promoted to administrator)" if result.get("promoted") else ""
        message(state.env, f"{result['email']} is now the main contact{promoted}.")
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
        _ask(
            questionary.text(
                "E-mail of the new main contact:",
                validate=valid_email,
                validate_while_typing=False,
            )
        )
    )
    name = _ask(
        questionary.text(
            "Full name:",
            validate=lambda t: bool(t.strip()) or "a name is required",
            validate_while_typing=False,
        )
    ).strip()
    db.transact(lambda s: add_user(s, state.context(s), number, email, name, None, [], True))
    message(state.env, f"Created {email} ({name}) as administrator and main contact.")


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
    from collabctl.cli.ending import apply_end, run_preflight, show_preflight
    from collabctl.domain import validation

    env = state.env
    number = (
        validation.customer_number(options.customer, "CUSTOMER")
        if options.customer
        else _pick_company(state, options.service)
    )
    service = options.service or _pick_collaboration(state, number)
    req: EndRequest = replace(options.request(number), service=service)
    pre = run_preflight(state, req)

    if pre.ended_by is None and _passed(pre, "party"):
        req = replace(req, by=_pick_ended_by(pre))
        pre = run_preflight(state, req)

    if options.dry_run:
        # a dry run changes nothing, so nothing is fixed or ticked: the checks are the result
        if pre.outcome is None and _passed(pre, "collaboration", "party", "main-contact"):
            req = replace(req, outcome=_pick_outcome(state, pre))
            pre = run_preflight(state, req)
        show_preflight(state, pre, fmt)
        return

    fixable = ("main-contact-missing", "checklist-incomplete")
    if pre.error is not None and pre.error.code not in fixable:
        raise pre.error
    _show(state, pre)
    if pre.error is not None and pre.error.code == "main-contact-missing":
        _fix_main_contact(state, number)
        pre = run_preflight(state, req)
        _show(state, pre, from_check="main-contact")
        if pre.error is not None and pre.error.code not in fixable:
            raise pre.error

    # the checklist: tick what the agent can attest, then decide about the rest
    attestable = [c for c in pre.checklist if not c.met and CHECKLIST_ITEMS[c.item].attestable]
    if attestable:
        ticked = _ask(
            questionary.checkbox(
                "Tick what is done:",
                choices=[
                    questionary.Choice(f"{c.item}: {CHECKLIST_ITEMS[c.item].summary}", value=c.item)
                    for c in attestable
                ],
                instruction="(space to tick, enter when done)",
            )
        )
        req = replace(req, confirm=tuple(sorted({*req.confirm, *ticked})))
        pre = run_preflight(state, req)
    if any(not c.met for c in pre.checklist):
        for line in _unmet_lines(pre, number):
            message(env, line)
        force = _ask(
            questionary.confirm(
                "End anyway? The unmet items are recorded as forced in the audit log.",
                default=False,
            )
        )
        if not force:
            raise pre.error or Cancelled("cancelled: the collaboration was not ended")
        req = replace(req, force=True)

    if req.outcome is None:
        req = replace(req, outcome=_pick_outcome(state, pre))
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
            backup = _ask(
                questionary.confirm(
                    "Write a backup file of the data before deleting it? (recommended)",
                    default=True,
                )
            )
            req = replace(req, backup=bool(backup))
        message(
            env,
            f"This deletes ALL {pre.service.name} data of customer {number} and cannot be undone."
            + ("" if req.backup else " No backup will be written."),
        )
        typed = _ask(questionary.text(f"Type the customer number ({number}) to confirm:"))
        if typed.strip() != number:
            raise Cancelled(
                f"cancelled: {typed.strip()!r} is not {number}; "
                "nothing was deleted and the collaboration was not ended"
            )
    elif not options.yes:
        sure = _ask(
            questionary.confirm(
                f"End {what}, ended by the {pre.ended_by}, outcome {outcome}?", default=False
            )
        )
        if not sure:
            raise Cancelled("cancelled: the collaboration was not ended")
    apply_end(state, req, fmt)
