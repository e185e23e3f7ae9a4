"""From a failure to what the user sees: ``error[CODE]``, a hint, and the documented exit code.

``handles_errors`` wraps every command body; ``guard_main`` is the last line of
defence around the whole program. Neither ever lets a traceback or a database
password reach the user.

Standard output closed (``>&-``) or its reader gone (``| head``): the program
stops at the first write that fails and exits 141 (128 + SIGPIPE, what a shell
reports for git, gh or cat in the same spot), silently; only a bulk run says on
stderr how far it got. ``closed_output_exits`` does this for the whole program.

The parser's own errors (an unknown command or option, a missing option or
argument, a value that is not one of the choices, an extra argument) follow the
same contract: ``ContractGroup``, the root command's class, turns every Click
usage error into ``error[invalid-input]`` with a hint (and the JSON error on
stdout when the command line asks for a machine format, wherever ``--format``
stands in it), exit 2.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

import typer

from collabctl.cli.env import Environment, silence_stdout
from collabctl.cli.fields import parse_fields
from collabctl.cli.global_options import Group
from collabctl.cli.output import Format, close_json_array, emit_error, message
from collabctl.cli.state import current_state, last_state
from collabctl.domain.errors import (
    EXIT_INTERRUPTED,
    EXIT_RULE,
    EXIT_USAGE,
    Cancelled,
    CollabError,
    UsageError,
)

F = TypeVar("F", bound=Callable[..., Any])

#: The exit code when standard output is closed or its reader went away.
EXIT_OUTPUT_CLOSED = 141

CANCELLED_HINT = "nothing else was changed; run the command again to start over"

INTERNAL_HINT = (
    "this is a bug in collabctl; run again with COLLABCTL_DEBUG=1 for the traceback and report it"
)


def fail(
    env: Environment,
    code: str,
    text: str,
    hint: str | None,
    fmt: Format | None,
    exit_code: int,
    extra: dict[str, Any] | None = None,
) -> NoReturn:
    """Print ``error[CODE]: text`` and the hint (and the JSON twin with a machine format), exit."""
    from collabctl.config import redact

    secrets = current_state().secrets
    emit_error(
        env, code, redact(text, secrets), redact(hint, secrets) if hint else None, fmt, extra
    )
    raise typer.Exit(exit_code)


def handles_errors(func: F) -> F:
    """Turn every failure of a command into ``error[CODE]`` + hint and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state = current_state()
        env = state.env
        fmt = kwargs.get("fmt")
        try:
            if state.problem is not None:
                raise state.problem
            env.fields = parse_fields(kwargs.get("fields"))
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except CollabError as exc:
            hint = exc.hint
            if exc.code == "not-found" and isinstance(kwargs.get("customer"), str):
                hint = _leading_zeros(state, kwargs["customer"]) or hint
            fail(env, exc.code, exc.message, hint, fmt, exc.exit_code, exc.shown_details())
        except UsageError as exc:
            fail(env, "invalid-input", exc.message, exc.hint, fmt, EXIT_USAGE)
        except Cancelled as exc:
            # the person said no: an outcome with its code (cancelled, exit 1), not a failure
            text = exc.message.removeprefix("cancelled: ")
            fail(env, "cancelled", text, CANCELLED_HINT, fmt, EXIT_RULE)
        except (KeyboardInterrupt, EOFError):
            with contextlib.suppress(BrokenPipeError):
                close_json_array(env)  # rows already out stay one JSON document
            message(env, "\ninterrupted: nothing was changed by the unfinished step")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            raise  # standard output is gone: closed_output_exits, around every command
        except Exception as exc:
            error = state.database_error(exc)
            if error is not None:
                fail(env, error.code, error.message, error.hint, fmt, error.exit_code)
            if os.environ.get("COLLABCTL_DEBUG"):
                import traceback

                from collabctl.config import redact

                env.stderr.write(redact(traceback.format_exc(), state.secrets))
            fail(
                env,
                "internal",
                f"unexpected failure: {type(exc).__name__}: {exc}",
                INTERNAL_HINT,
                fmt,
                1,
            )

    return wrapper  # type: ignore[return-value]


def _leading_zeros(state: Any, customer: str) -> str | None:
    """A customer number that is not found but is one with leading zeros added or taken
    away: the hint names it (``did you mean 0042 (Café Hörnet HB)?``). None when there is
    none, or when looking fails: the not-found stands on its own."""
    number = customer.strip()
    if not (number.isascii() and number.isdigit()):
        return None
    try:
        from collabctl.operations.companies import similar_customers

        found = state.operations.query(similar_customers, number)
    except Exception:
        return None
    if not found:
        return None
    names = " or ".join(f"{key} ({name})" for key, name in found)
    return f"did you mean {names}? customer numbers keep their leading zeros"


@contextlib.contextmanager
def closed_output_exits() -> Iterator[None]:
    """Standard output closed or its reader gone: exit 141, silently."""
    try:
        yield
    except BrokenPipeError:
        silence_stdout()
        raise typer.Exit(EXIT_OUTPUT_CLOSED) from None


# -- the parser's errors ---------------------------------------------------------------


class ContractGroup(Group):
    """The root command: the command line's conventions (``options.apply_conventions``)
    on every command, and Click's usage errors as ``error[invalid-input]`` + hint, exit 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from collabctl.cli.options import apply_conventions

        apply_conventions(self)
        from collabctl.cli.global_options import inherit

        inherit(self)
        self._argv: list[str] = []

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        # the command line as typed: --format may stand after what the parser refused
        self._argv = [str(a) for a in (sys.argv[1:] if args is None else args)]
        return super().main(self._argv, *rest, **kwargs)

    def make_context(self, *args: Any, **kwargs: Any) -> Any:  # the root's own options
        with closed_output_exits(), _usage_errors(self._argv, kwargs.get("obj"), None):
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:  # the command's options, and the command
        with closed_output_exits(), _usage_errors(self._argv, ctx.obj, ctx):
            return super().invoke(ctx)


@contextlib.contextmanager
def _usage_errors(argv: list[str], obj: object, ctx: Any) -> Iterator[None]:
    from collabctl.cli import typer_internals as click_errors

    try:
        yield
    except click_errors.NoArgsIsHelpError:
        raise  # `collabctl` or `collabctl db` alone: the help, as Click prints it
    except click_errors.UsageError as exc:
        from collabctl.cli.usage_errors import describe, machine_format, secrets_in

        where = "collabctl"
        if ctx is not None:  # the command being parsed, when the error does not say
            where = " ".join(filter(None, (ctx.command_path, ctx.invoked_subcommand)))
        text, hint = describe(exc, argv, where)
        env = obj.env if hasattr(obj, "env") else obj
        if not isinstance(env, Environment):
            env = Environment.detect()
        from collabctl.config import redact

        secrets = secrets_in(argv)
        emit_error(
            env,
            "invalid-input",
            redact(text, secrets),
            redact(hint, secrets),
            machine_format(argv),
        )
        raise typer.Exit(EXIT_USAGE) from None


def reserve_standard_fds() -> None:
    """Put /dev/null on a standard descriptor (0, 1, 2) the program was started without.

    The next file opened (the SQLite database, a backup) would get that number, and a
    write meant for the terminal could land in it. ``sys.stdout`` stays None, so the
    program still knows that its output is closed.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            spare = os.open(os.devnull, os.O_RDWR)
            if spare != fd:
                os.dup2(spare, fd)
                os.close(spare)


def guard_main(run: Callable[[], Any]) -> None:
    """Run the program; a failure that escaped every command still ends in ``error[internal]``."""
    reserve_standard_fds()
    try:
        try:
            run()
        finally:
            with contextlib.suppress(Exception):
                _flush_stdout()
    except KeyboardInterrupt:  # outside a command body, e.g. while parsing
        _stderr().write("\ninterrupted\n")
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit:
        raise
    except Exception as exc:  # last line of defence: never a traceback by default
        from collabctl.config import redact

        state = last_state()
        secrets = state.secrets if state is not None else ()
        stderr = _stderr()
        if os.environ.get("COLLABCTL_DEBUG"):
            import traceback

            stderr.write(redact(traceback.format_exc(), secrets))
        stderr.write(
            redact(f"error[internal]: unexpected failure: {type(exc).__name__}: {exc}\n", secrets)
        )
        stderr.write(
            "hint: this is a bug in collabctl; run again with COLLABCTL_DEBUG=1 and report it\n"
        )
        sys.exit(1)


def _flush_stdout() -> None:
    """Flush what is left for standard output now, while a closed pipe can still exit 141
    (at interpreter exit it would print a warning and exit 120)."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        sys.exit(EXIT_OUTPUT_CLOSED)


def _stderr() -> Any:
    return sys.stderr if sys.stderr is not None else open(os.devnull, "w")
