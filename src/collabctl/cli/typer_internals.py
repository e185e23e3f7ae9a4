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
from enum import Enum
from typing import Any

import typer
from typer import _click as click
from typer._click import exceptions
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
    "get_command",
]


def get_command(app: typer.Typer) -> Any:
    """The command tree Typer builds from ``app`` (for the generated reference)."""
    import typer.main

    return typer.main.get_command(app)


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
