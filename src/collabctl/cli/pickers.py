"""Questions that pick one thing: a company, a collaboration, who ends it, the outcome,
the main contact. questionary is imported only by this module and ``interactive.py``.

Called only after the caller checked ``Environment.can_prompt``: prompting
without a terminal can hang. ``ask`` uses ``unsafe_ask``, which lets Ctrl-C through
as KeyboardInterrupt: the command line turns it into exit 130 with nothing changed.
Each question reads and draws where the Environment says (the terminal, or a
test's pipe).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import questionary
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.key_binding import KeyBindings

from collabctl.cli.output import message
from collabctl.cli.safe_text import visible
from collabctl.domain.catalogue import OUTCOMES
from collabctl.domain.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from collabctl.cli.env import Environment
    from collabctl.cli.state import State
    from collabctl.operations.ending import Preflight
    from collabctl.operations.picking import UserChoice

#: Completions shown while typing a company; more would only scroll off the screen.
MAX_COMPLETIONS = 30


def ask(env: Environment, kind: str, text: str, **options: Any) -> Any:
    """Ask a questionary question of ``kind`` (select, confirm, text, ...) and return the answer."""
    # questions and choices carry names from the data: shown, never obeyed by the terminal
    question = getattr(questionary, kind)(
        visible(text, layout=True), **options, **env.prompt_streams
    )
    return question.unsafe_ask()


def select(env: Environment, text: str, choices: list[tuple[str, Any]], **options: Any) -> Any:
    """Pick one of ``(label, value)`` choices."""
    return ask(
        env,
        "select",
        text,
        choices=[questionary.Choice(visible(label), value=value) for label, value in choices],
        **options,
    )


def pick_main_contact(env: Environment, users: list[UserChoice]) -> str:
    """``set-main-contact CUSTOMER`` without ``--user``: pick one of the company's users."""
    if not users:
        raise InvalidInput(
            "the company has no user who can be main contact (auditors cannot)",
            "create one: collabctl add-user CUSTOMER --email EMAIL --main-contact",
        )
    choices = [
        questionary.Choice(
            visible(
                f"{u.email}  {u.name} ({u.role}"
                + (", main contact now" if u.main_contact else "")
                + ("; becomes administrator" if u.role == "user" else "")
                + ")"
            ),
            value=u.email,
        )
        for u in users
    ]
    current = next((c for c, u in zip(choices, users, strict=True) if u.main_contact), None)
    return str(
        ask(env, "select", "Who becomes the main contact?", choices=choices, default=current)
    )


# -- the company ------------------------------------------------------------------------


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


def pick_company(state: State, service: str | None) -> str:
    """The company whose collaboration ends: type part of its number or name."""
    from collabctl.operations.picking import companies_with_active_collaboration

    companies = state.operations.read(companies_with_active_collaboration, service)
    if not companies:
        what = f"active {service} collaboration" if service else "active collaboration"
        raise NotFound(f"there is no {what} to end", "see `collabctl list --state all`")
    labels = [visible(c.label) for c in companies]
    by_label = {visible(c.label): c.customer_number for c in companies}
    if len(companies) == 1:
        message(state.env, f"Company: {labels[0]}")
        return companies[0].customer_number
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
        matching = "1 company matches" if count == 1 else f"{count} companies match"
        return f"{matching}: pick one with the arrow keys"

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

    answer = ask(
        state.env,
        "autocomplete",
        "Company (type to search by customer number or name):",
        choices=[],
        completer=_CompanyCompleter(labels),
        validate=valid,
        validate_while_typing=False,
        key_bindings=keys,
    )
    number = resolve(answer)
    assert number is not None  # the validator accepted it
    return number


# -- the collaboration, who ends it, the outcome ----------------------------------------


def pick_collaboration(state: State, number: str) -> str:
    """The service whose collaboration ends, among the company's active ones."""
    from collabctl.operations.picking import company_collaborations

    company = state.operations.read(company_collaborations, number)
    active = company.active
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
        (
            f"{c['service']:<{width}}  with {c['office_name']} ({c['office_org_number']}), "
            f"since {str(c['started_at'])[:10]}",
            c["service"],
        )
        for c in active
    ]
    return str(select(state.env, "Which collaboration?", choices))


def pick_ended_by(env: Environment, pre: Preflight) -> str:
    collab = pre.collaboration or {}
    choices = [
        (f"the customer ({collab.get('company_name', 'the company')})", "customer"),
        (f"the accounting office ({collab.get('office_name', 'the office')})", "office"),
    ]
    return str(select(env, "Who is ending the collaboration?", choices))


def pick_outcome(env: Environment, pre: Preflight) -> str:
    allowed = pre.service.outcomes
    if len(allowed) == 1:
        only = allowed[0]
        message(env, f"Outcome: {only} ({OUTCOMES[only].summary})")
        return only
    width = max(len(o) for o in allowed)
    choices = [(f"{o:<{width}}  {OUTCOMES[o].summary}", o) for o in allowed]
    return str(select(env, f"What happens to {pre.service.name} afterwards?", choices))
