"""What a usage error says: Click's parser errors as a message and a hint in collabctl's
words, with a "did you mean" where a close word exists.

``errors.ContractGroup`` prints them as ``error[invalid-input]``; this module only
words them. Click's own texts ("Error: Missing option '--office'.", pydantic's
"Value error, ...") never reach the user.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from collabctl.cli.output import Format
from collabctl.domain import suggest


def bad_word(option: str, value: str, choices: Sequence[str], ctx: Any, param: Any) -> Exception:
    """The parser error for ``--state actve``: not allowed, did you mean, the choices."""
    from typer import BadParameter

    error = BadParameter(f"{value!r} is not allowed", ctx=ctx, param=param)
    if len(choices) <= 3:
        *first, last = [f"{option} {choice}" for choice in choices]
        use = "use " + (f"{', '.join(first)} or {last}" if first else last)
    else:
        use = f"choose from: {', '.join(choices)}"
    # worded as the operations word a value they refuse: `--state: 'open' is not allowed`
    error.collabctl = (  # type: ignore[attr-defined]
        f"{option}: {value!r} is not allowed",
        suggest.did_you_mean(value, choices) + use,
    )
    return error


def describe(exc: Any, argv: list[str], where: str = "collabctl") -> tuple[str, str]:
    """``(message, hint)`` for one of Click's usage errors; ``where`` is the command that
    was being parsed, for an error that does not say (``collabctl list``)."""
    from collabctl.cli import typer_internals as click_errors

    ctx = exc.ctx
    path = ctx.command_path if ctx is not None else where
    see = f"see `{path} --help`"
    prepared = getattr(exc, "collabctl", None)
    if prepared is not None:
        return prepared
    if isinstance(exc, click_errors.NoSuchOption):
        name = exc.option_name
        known = _option_names(ctx)
        return f"unknown option {name}", suggest.did_you_mean(name, known) + see
    if isinstance(exc, click_errors.MissingParameter):
        param = exc.param
        if param is None:
            return _plain(exc.format_message()), see
        if param.param_type_name == "argument":
            name = _metavar(param)
            return f"missing argument {name}", f"usage: {_usage(ctx)}; {see}"
        option = _long(param)
        return f"missing option {option}", f"add {option} {_metavar(param)}; {see}"
    if isinstance(exc, click_errors.BadParameter):
        return _bad_value(exc, argv, see)
    if isinstance(exc, click_errors.BadOptionUsage):
        if click_errors.needs_value(exc.message):
            return f"{exc.option_name} needs a value", see
        return _plain(exc.message), see
    text = exc.message if isinstance(exc.message, str) else str(exc)
    command = click_errors.unknown_command(text)
    if command is not None:
        commands = list(getattr(ctx.command, "commands", {}) if ctx is not None else ())
        close = suggest.closest(command, commands)
        return (
            f"unknown command {command!r}",
            (f"did you mean `{path} {close}`? " if close else "") + f"see `{path} --help`",
        )
    extra = click_errors.extra_arguments(text)
    if extra is not None:
        return f"unexpected argument: {extra}", f"usage: {_usage(ctx)}; {see}"
    if click_errors.missing_command(text):
        return "which command? a command is missing", see
    return _plain(text), see


def _bad_value(exc: Any, argv: list[str], see: str) -> tuple[str, str]:
    param = exc.param
    if param is None:
        return _plain(exc.message), see
    name = _long(param) if param.param_type_name == "option" else _metavar(param)
    choices = _choices(param)
    value = _value_given(argv, param) if param.param_type_name == "option" else None
    if choices:
        given = f"{value!r} is not" if value is not None else "not"
        return (
            f"{name}: {given} one of {', '.join(choices)}",
            (suggest.did_you_mean(value, choices) if value is not None else "") + see,
        )
    return f"{name}: {_plain(exc.message)}", see


def _plain(text: str) -> str:
    """A library's sentence in collabctl's style: no "Value error," prefix, no final full
    stop, a small first letter."""
    text = str(text).strip()
    text = re.sub(r"^(Value error|Assertion failed), *", "", text)
    text = text.rstrip(".")
    if text[:1].isupper() and not text[1:2].isupper():
        text = text[0].lower() + text[1:]
    return text


def _long(param: Any) -> str:
    opts = [*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())]
    longs = [o for o in opts if o.startswith("--")]
    return (longs or opts or [str(param.name)])[0]


def _metavar(param: Any) -> str:
    if param.metavar:
        return str(param.metavar)
    return str(param.name).upper()


def _usage(ctx: Any) -> str:
    if ctx is None:
        return "collabctl COMMAND [ARGS]"
    usage = ctx.command.get_usage(ctx)
    return " ".join(usage.replace("Usage:", "").split())


def _option_names(ctx: Any) -> list[str]:
    if ctx is None:
        return []
    names: list[str] = []
    for param in ctx.command.get_params(ctx):
        names += [o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")]
    return names


def _choices(param: Any) -> list[str]:
    from collabctl.cli.typer_internals import choices

    return choices(param)


def _value_given(argv: list[str], param: Any) -> str | None:
    """The value given to an option on the command line (its last use), as typed."""
    opts = [*param.opts, *param.secondary_opts]
    value = None
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            break
        for opt in opts:
            if token == opt:
                value = next(tokens, None)
            elif opt.startswith("--") and token.startswith(opt + "="):
                value = token[len(opt) + 1 :]
            elif not opt.startswith("--") and token.startswith(opt) and not token.startswith("--"):
                value = token[len(opt) :]
    return value


def machine_format(argv: list[str]) -> Format | None:
    """The machine format the command line asks for (``--format json``), wherever it
    stands; None for the table or when none is given or it is not a format."""
    value = None
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            break
        if token in ("--format", "-f"):
            value = next(tokens, None)
        elif token.startswith("--format="):
            value = token[len("--format=") :]
        elif token.startswith("-f") and not token.startswith("--") and len(token) > 2:
            value = token[2:]
    try:
        fmt = Format(value) if value is not None else None
    except ValueError:
        return None
    return fmt if fmt is not Format.table else None


def secrets_in(argv: list[str]) -> tuple[str, ...]:
    """Passwords of database URLs on the command line or in the environment, to hide them
    in a message that repeats what was typed."""
    import os

    from collabctl.config import url_secrets

    found: list[str] = []
    for text in [*argv, os.environ.get("COLLABCTL_DATABASE_URL", "")]:
        if "://" in text:
            try:
                found += url_secrets(text)
            except Exception:
                continue
    return tuple(found)
