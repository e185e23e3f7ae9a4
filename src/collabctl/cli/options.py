"""The arguments and options that several commands take, declared once, and the
conventions every command's options follow.

A command names them in its signature: ``customer: CustomerArgument``,
``fmt: FormatOption = Format.table``. The parameter of ``FormatOption`` must be
called ``fmt``: ``handles_errors`` reads it to write errors in that format too.

``apply_conventions`` runs once on every command (the root's class calls it on each
command as it is built, ``cli/command_tree.py``), so that a command declared anywhere
gets them:

- help shows names, not types: ``CUSTOMER``, never ``{CUSTOMER}`` or ``<str>``; an
  option without a metavar gets one from its values or its name;
- a command's summary in its group's help is its whole first sentence, never cut
  with "...";
- an option whose metavar lists its values (``--state active|ended|all``) takes
  only those (a usage error with "did you mean" otherwise) and completes them;
- a parameter named for a thing collabctl knows (CUSTOMER, ``--service``,
  ``--outcome``, ``--by``, ``--confirm``, ROLE) completes it (``completion.py``),
  unless it declares its own completion.
"""

# No `from __future__ import annotations`: Typer evaluates these at start-up.

import re
from collections.abc import Callable
from typing import Annotated, Any

import typer

from collabctl.cli import completion
from collabctl.cli import typer_internals as internals
from collabctl.cli.output import Format

CUSTOMER_HELP = "Customer number."
SERVICE_HELP = "Service code, e.g. eekonomi."

#: CUSTOMER, required.
CustomerArgument = Annotated[
    str,
    typer.Argument(
        metavar="CUSTOMER",
        help=CUSTOMER_HELP,
        show_default=False,
        autocompletion=completion.customers,
    ),
]

#: CUSTOMER, asked for in a terminal when left out.
OptionalCustomerArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="CUSTOMER",
        help=CUSTOMER_HELP,
        show_default=False,
        autocompletion=completion.customers,
    ),
]

#: --service/-s, required.
ServiceOption = Annotated[
    str,
    typer.Option(
        "--service",
        "-s",
        metavar="SERVICE",
        help=SERVICE_HELP,
        autocompletion=completion.services,
    ),
]

#: --service/-s, asked for in a terminal when left out.
OptionalServiceOption = Annotated[
    str | None,
    typer.Option(
        "--service",
        "-s",
        metavar="SERVICE",
        help=SERVICE_HELP,
        autocompletion=completion.services,
    ),
]

#: --service/-s narrowing what a command reads.
ServiceFilter = Annotated[
    str | None,
    typer.Option(
        "--service",
        "-s",
        metavar="SERVICE",
        help="Only this service.",
        autocompletion=completion.services,
    ),
]

#: --customer narrowing what a command reads.
CustomerFilter = Annotated[
    str | None,
    typer.Option(
        "--customer",
        metavar="CUSTOMER",
        help="Only this customer number.",
        autocompletion=completion.customers,
    ),
]

#: --format/-f: how the result is written.
FormatOption = Annotated[
    Format,
    typer.Option(
        "--format",
        "-f",
        metavar="table|json|jsonl|csv",
        help="Output format: table for people; json, jsonl, csv for scripts.",
    ),
]


#: --dry-run on a command that changes something: ``state.operations.write(..., dry_run=dry_run)``
#: runs the change and rolls it back.
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Do everything, show the result, then change nothing."),
]


#: --yes/-y on a command that asks before it changes something (needed without a terminal).
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


#: --fields on a command that prints records: ``handles_errors`` hands it to the output
#: (``emit_rows``, ``emit_object``), which prints only those keys or columns.
FieldsOption = Annotated[
    str | None,
    typer.Option(
        "--fields",
        metavar="F1,F2,...",
        help="Print only these keys (json, jsonl, csv) or columns (table), in this order.",
        show_default=False,
    ),
]


# -- the conventions ---------------------------------------------------------------------

#: What a parameter completes, by the name it has on the command line.
COMPLETE_BY_NAME: dict[str, Callable[..., Any]] = {
    "CUSTOMER": completion.customers,
    "--customer": completion.customers,
    "--service": completion.services,
    "--grant": completion.services,
    "--revoke": completion.services,
    "--outcome": completion.outcomes,
    "--by": completion.ended_by,
    "--confirm": completion.checklist_items,
    "--role": completion.roles,
    "ROLE": completion.roles,
}

#: a metavar that lists an option's values: lowercase words joined by |
_WORDS = re.compile(r"[a-z][a-z0-9-]*(\|[a-z][a-z0-9-]*)+")


def apply_conventions(command: Any) -> None:
    """Apply the conventions above to ``command`` and every command under it."""
    if command.help and not command.short_help:
        command.short_help = summary(command.help)
    for param in command.params:
        if param.param_type_name == "option" and param.metavar is None and not param.is_flag:
            param.metavar = _metavar(param)
        _complete_and_check(param)
    for sub in getattr(command, "commands", {}).values():
        apply_conventions(sub)


def summary(help_text: str) -> str:
    """A command's first sentence, whole and on one line: its summary in the list of
    commands."""
    first = " ".join(help_text.strip().split("\n\n", 1)[0].replace("\b", "").split())
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", first, maxsplit=1)[0]


def _metavar(param: Any) -> str:
    choices = internals.choices(param)
    if choices:
        return "|".join(choices)
    if internals.is_integer(param):
        return "N"
    longs = [o for o in param.opts if o.startswith("--")] or param.opts
    return str(longs[0]).lstrip("-").replace("-", "_").upper()


def _complete_and_check(param: Any) -> None:
    if param.metavar and _WORDS.fullmatch(param.metavar):
        words = tuple(param.metavar.split("|"))
        if not internals.choices(param):
            _take_only(param, words)
        if not internals.has_own_completion(param):
            internals.set_completion(param, completion.words(*words))
    if internals.has_own_completion(param):
        return
    names = [*getattr(param, "opts", ()), str(param.metavar or "")]
    found = next((COMPLETE_BY_NAME[n] for n in names if n in COMPLETE_BY_NAME), None)
    if found is not None:
        internals.set_completion(param, found)


def _take_only(param: Any, words: tuple[str, ...]) -> None:
    """A string option whose metavar lists its values accepts only those."""
    previous = param.callback

    def check(ctx: Any, checked: Any, value: Any) -> Any:
        values = value if isinstance(value, list | tuple) else (value,)
        for one in values:
            if one is not None and one not in words and not ctx.resilient_parsing:
                from collabctl.cli.usage_errors import bad_word

                raise bad_word(_long(checked), str(one), words, ctx, checked)
        return previous(ctx, checked, value) if previous is not None else value

    param.callback = check


def _long(param: Any) -> str:
    longs = [o for o in param.opts if o.startswith("--")]
    return str((longs or param.opts)[0])
