"""The global options (``--as``, ``--database-url``, ``--actor``, ``--color``,
``--no-pager``, ``--no-input``): declared once on the root command, taken before or
after the command's name, and listed under "Global options" in every command's help
(gh's inherited flags).

``inherit`` copies each root option onto every command and group under the root as a
``GlobalOption``: one that changes the invocation's state instead of becoming an
argument of the command function. Both copies go through ``apply``, so
``collabctl --as P list`` and ``collabctl list --as P`` do the same thing. A command
with an option of the same name keeps its own (``log --actor`` filters by actor; the
global one goes before ``log``).

The commands' classes (``Command``, ``Group``, which ``commands.command_group`` makes
every command and group with) print the copies in a section of their own; a command
made otherwise still takes them, listed with its options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from collabctl.cli.typer_internals import (
    Argument,
    Context,
    Option,
    Parameter,
    TyperCommand,
    TyperGroup,
    argument_help,
    copy_option,
    lean_coercion,
    usage_pieces,
)

if TYPE_CHECKING:
    from collabctl.cli.state import State
    from collabctl.domain.errors import UsageError

#: The root's options that every command takes too, by their long name.
GLOBAL = ("--as", "--database-url", "--actor", "--color", "--no-pager", "--no-input")

GLOBAL_SECTION = "Global options (also before the command)"

#: The longest name ``--actor`` may record in the audit log.
ACTOR_MAX_LENGTH = 200


def apply(state: State, name: str, value: Any) -> None:
    """One global option given on the command line (or in its environment variable):
    ``name`` is the parameter's name (``party`` for ``--as``). None, or False for a flag,
    means "not given" and changes nothing."""
    if value is None or value is False:
        return
    env = state.env
    if name == "database_url":
        state.database_url = value
    elif name == "party":
        state.party = value
    elif name == "actor":
        state.actor, state.problem = checked_actor(value, state.login)
    elif name == "no_input":
        env.no_input = True
    elif name == "color":
        env.color = str(getattr(value, "value", value)).lower()
    elif name == "no_pager":
        env.pager = False


def checked_actor(actor: str, login: str) -> tuple[str, UsageError | None]:
    """The name to record, or the login name and the problem the command reports (in its
    ``--format``): an actor is stored in every audit event, and PostgreSQL refuses a NUL
    or a lone surrogate (bytes in COLLABCTL_ACTOR that are not UTF-8) in text."""
    from collabctl.domain import validation
    from collabctl.domain.errors import InvalidInput, UsageError

    if not actor.strip():
        return login, UsageError(
            "--actor (or COLLABCTL_ACTOR) is empty: the audit log needs a name",
            "pass --actor NAME, or leave it out to record your login name",
        )
    try:
        return validation.text(actor, max_length=ACTOR_MAX_LENGTH), None
    except InvalidInput as exc:
        return login, UsageError(
            f"--actor (or COLLABCTL_ACTOR): {exc.message}",
            f"pass a name of at most {ACTOR_MAX_LENGTH} characters in UTF-8 without NUL, "
            "or leave it out to record your login name",
        )


class GlobalOption(Option):
    """A root option taken by a command: it sets the invocation's state, and the command
    function never sees it."""


def _after_command(ctx: Context, param: Parameter, value: Any) -> Any:
    if not ctx.resilient_parsing and param.name is not None:
        from collabctl.cli.state import current_state

        apply(current_state(), param.name, value)
    return value


def inherit(root: Any, top: Any = None) -> None:
    """Give every command and group under ``root`` the root's global options; or, given a
    ``top``, a command of ``root``: that command and everything under it."""
    originals = [p for p in root.params if isinstance(p, Option) and _long(p) in GLOBAL]
    for command in _below(root) if top is None else [top, *_below(top)]:
        taken = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
        for original in originals:
            if taken.intersection(original.opts) or any(
                isinstance(p, GlobalOption) and p.name == original.name for p in command.params
            ):
                continue
            command.params.append(_copy(original))


def _copy(original: Option) -> GlobalOption:
    # no envvar: the root reads the environment once; a copy acts only when typed
    copy: GlobalOption = copy_option(original, GlobalOption, _after_command)
    return copy


def _below(command: Any) -> list[Any]:
    found: list[Any] = []
    for sub in getattr(command, "commands", {}).values():
        found += [sub, *_below(sub)]
    return found


def _long(param: Parameter) -> str:
    longs = [o for o in param.opts if o.startswith("--")]
    return (longs or list(param.opts))[0]


# -- help ------------------------------------------------------------------------------


def _format_options(command: Any, ctx: Context, formatter: Any) -> None:
    """Arguments, the command's options, then the global options, each in a section."""
    sections: dict[str, list[tuple[str, str]]] = {"Arguments": [], "Options": []}
    sections[GLOBAL_SECTION] = []
    for param in command.get_params(ctx):
        if isinstance(param, Argument):
            record = argument_help(param, ctx)
        else:
            record = param.get_help_record(ctx)
        if record is None:
            continue
        if isinstance(param, GlobalOption):
            sections[GLOBAL_SECTION].append(record)
        elif isinstance(param, Argument):
            sections["Arguments"].append(record)
        else:
            sections["Options"].append(record)
    for title, records in sections.items():
        if records:
            with formatter.section(title):
                formatter.write_dl(records)


class Command(TyperCommand):
    """A command whose help lists the global options in a section of their own."""

    def format_options(self, ctx: Context, formatter: Any) -> None:
        _format_options(self, ctx, formatter)

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        return usage_pieces(self, ctx)

    def get_params(self, ctx: Context) -> list[Parameter]:
        return lean_coercion(super().get_params(ctx))


class Group(TyperGroup):
    """A group of commands (``user``, ``db``) whose help lists the global options in a
    section of their own."""

    def format_options(self, ctx: Context, formatter: Any) -> None:
        _format_options(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def get_params(self, ctx: Context) -> list[Parameter]:
        return lean_coercion(super().get_params(ctx))
