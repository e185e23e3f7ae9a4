"""Everything collabctl takes from Typer beyond its documented API, and nothing else.

Since 0.26 Typer carries its own copy of Click (``typer._click``) and documents no
way to reach it; collabctl needs it for the parser's errors (to word them itself),
for options that are not function arguments (the global options after a command),
for completion declared by convention, and for help pages with plain names. Every
such use is here, so an upgrade of Typer is checked in one place:
``pyproject.toml`` pins the range (``SUPPORTED``), and
``tests/test_typer_internals.py`` fails, naming what broke, when an installed Typer
is outside it or no longer behaves as this module expects.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import typer
from typer import _click as click
from typer._click import exceptions
from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
from typer._param_types import choice_coercion_annotation, coerce_cli_choice
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

#: The Typer versions this module was written against: the range in pyproject.toml.
SUPPORTED = (">=0.29", "<0.30")

Context = click.Context
Option = TyperOption
Argument = TyperArgument
Parameter = click.core.Parameter
UsageError = exceptions.UsageError
BadParameter = exceptions.BadParameter
BadOptionUsage = exceptions.BadOptionUsage
NoSuchOption = exceptions.NoSuchOption
MissingParameter = exceptions.MissingParameter
NoArgsIsHelpError = exceptions.NoArgsIsHelpError

__all__ = [
    "SUPPORTED",
    "Argument",
    "BadOptionUsage",
    "BadParameter",
    "Context",
    "MissingParameter",
    "NoArgsIsHelpError",
    "NoSuchOption",
    "Option",
    "Parameter",
    "TyperArgument",
    "TyperCommand",
    "TyperGroup",
    "UsageError",
    "command_of",
    "commands_of",
    "get_command",
    "lean_coercion",
]


def get_command(app: typer.Typer) -> Any:
    """The command tree Typer builds from ``app`` (for the generated reference)."""
    import typer.main

    return typer.main.get_command(app)


def commands_of(group: typer.Typer) -> dict[str, Any]:
    """The commands Typer builds from ``group``, by name, as it does for a group added to
    its parent without a name (the commands join the parent's)."""
    import typer.main

    return dict(typer.main.get_group(group).commands)


def command_of(group: typer.Typer, name: str) -> Any | None:
    """The command ``name`` of ``group``, built alone as ``commands_of`` builds it among
    the others; None when ``group`` has sub-groups (whose commands may join it) or no
    such command, so that the caller builds them all."""
    import typer.main

    if group.registered_groups:
        return None
    found = None
    for info in group.registered_commands:  # a later one of the same name wins, as in Typer
        if info.callback is None:  # Typer refuses it when it builds the group
            return None
        if (info.name or typer.main.get_command_name(info.callback.__name__)) == name:
            found = info
    if found is None:
        return None
    return typer.main.get_command_from_info(
        found,
        pretty_exceptions_short=group.pretty_exceptions_short,
        rich_markup_mode=group.rich_markup_mode,
    )


def copy_option(original: Any, cls: type[Any], callback: Callable[..., Any]) -> Any:
    """``original`` as a ``cls`` that is not an argument of its command function, reads no
    environment variable, and defaults to "not given" (None, or False for a flag)."""
    return cls(
        param_decls=[original.name, *original.opts, *original.secondary_opts],
        type_descriptor=original.type_descriptor,
        default=False if original.is_flag else None,
        callback=callback,
        metavar=original.metavar,
        expose_value=False,
        is_flag=original.is_flag or None,
        help=original.help,
        show_default=False,
    )


# -- values without pydantic -----------------------------------------------------------

_UNSURE = object()


@dataclass(frozen=True)
class _Lean(RuntimeParam):
    """Typer's coercion of a value, without building a pydantic adapter when the result is
    plain: no value (an option not given), a string for ``str``, digits or an int for
    ``int``, one of the choices of an Enum or Literal. Anything else goes the way Typer
    goes, adapter and error message alike."""

    descriptor: TypeDescriptor

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        found = _plain(self.descriptor, value, ctx)
        if found is not _UNSURE:
            return found
        return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)


def _plain(descriptor: TypeDescriptor, value: Any, ctx: Any) -> Any:
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or info.parser is not None:
        return _UNSURE
    annotation = descriptor.annotation
    if annotation is str and type(value) is str:
        return value
    if annotation is int and info.min is None and info.max is None:
        if type(value) is int:
            return value
        if type(value) is str and value.isascii() and value.isdigit() and len(value) < 19:
            return int(value)
        return _UNSURE
    choices = choice_coercion_annotation(annotation, info)
    if choices is not None:
        try:
            return coerce_cli_choice(value, choices=choices[0], case_sensitive=choices[1], ctx=ctx)
        except Exception:
            return _UNSURE  # Typer words the refusal
    return _UNSURE


def lean_coercion(params: list[Any]) -> list[Any]:
    """``params``, each taking its value without pydantic where Typer's result is plain (see
    ``_Lean``): Typer 0.29 builds a pydantic adapter for every parameter of the command
    run, given or not, and importing pydantic and building them costs more than the rest
    of a short command (docs/performance.md)."""
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is not None and getattr(param, "_runtime_param", None) is None:
            param._runtime_param = _Lean(
                annotation=descriptor.annotation,
                parameter_info=descriptor.parameter_info,
                descriptor=descriptor,
            )
    return params


# -- what a parameter is ------------------------------------------------------------------


def choices(param: Any) -> list[str]:
    """The values an option declared with an Enum or Literal takes; [] for any other."""
    found = getattr(getattr(param, "type_descriptor", None), "choices", None)
    return [str(c.value) if isinstance(c, Enum) else str(c) for c in found or ()]


def is_integer(param: Any) -> bool:
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    return annotation in (int, int | None)


def has_own_completion(param: Any) -> bool:
    """The parameter was declared with ``autocompletion=`` (or has been given one)."""
    return param._custom_shell_complete is not None


def set_completion(param: Any, complete: Callable[..., Any]) -> None:
    """What Typer does with ``autocompletion=``, for a parameter declared without it."""
    from typer.core import _typer_param_setup_autocompletion_compat
    from typer.main import get_param_completion

    _typer_param_setup_autocompletion_compat(param, autocompletion=get_param_completion(complete))


def argument_name(param: Any) -> str:
    """An argument in a usage line by its name alone: ``CUSTOMER``, ``[EMAIL]``
    (Typer writes a required one ``{CUSTOMER}``)."""
    name = str(param.metavar or param.name.upper())
    name = name if param.required else f"[{name}]"
    return name + ("..." if param.nargs != 1 else "")


def usage_pieces(command: Any, ctx: Any) -> list[str]:
    """A command's usage line after its name, arguments by their plain names."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            pieces.append(argument_name(param))
        else:
            pieces.extend(param.get_usage_pieces(ctx))
    return pieces


def argument_help(param: Any, ctx: Any) -> tuple[str, str] | None:
    """An argument's line in help: its name and help, never its Python type."""
    record = param.get_help_record(ctx)
    if record is None:
        return None
    return str(param.metavar or param.name.upper()), record[1]


# -- the parser's errors, by what Click says -------------------------------------------

_UNKNOWN_COMMAND = re.compile(r"No such command '(.*?)'")
_EXTRA = re.compile(r"Got unexpected extra argument\(s\) \((.*)\)$", re.DOTALL)
_MISSING_COMMAND = re.compile(r"Missing command")


def unknown_command(text: str) -> str | None:
    """The name in Click's "No such command 'X'." (None for another message)."""
    found = _UNKNOWN_COMMAND.match(text)
    return found.group(1) if found else None


def extra_arguments(text: str) -> str | None:
    """The arguments in Click's "Got unexpected extra argument(s) (...)"."""
    found = _EXTRA.match(text)
    return found.group(1) if found else None


def missing_command(text: str) -> bool:
    """Click's "Missing command." (a group given options but no command)."""
    return _MISSING_COMMAND.match(text) is not None


def needs_value(text: str) -> bool:
    """Click's "Option '--x' requires an argument." (an option given without its value)."""
    return "requires" in text
