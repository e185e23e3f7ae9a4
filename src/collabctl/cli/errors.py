"""From a failure to what the user sees: ``error[CODE]``, a hint, and the documented exit code.

``handles_errors`` wraps every command body; ``guard_main`` is the last line of
defence around the whole program. Neither ever lets a traceback or a database
password reach the user.

Standard output closed (``>&-``) or its reader gone (``| head``): the program
stops at the first write that fails and exits 141 (128 + SIGPIPE, what a shell
reports for git, gh or cat in the same spot), silently; only a bulk run says on
stderr how far it got. ``closed_output_exits`` does this for the whole program.
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
from collabctl.cli.output import Format, emit_error, message
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

INTERNAL_HINT = (
    "this is a bug in collabctl; run again with COLLABCTL_DEBUG=1 for the traceback and report it"
)


def fail(
    env: Environment, code: str, text: str, hint: str | None, fmt: Format | None, exit_code: int
) -> NoReturn:
    """Print ``error[CODE]: text`` and the hint (and the JSON twin with a machine format), exit."""
    from collabctl.config import redact

    secrets = current_state().secrets
    emit_error(env, code, redact(text, secrets), redact(hint, secrets) if hint else None, fmt)
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
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except CollabError as exc:
            fail(env, exc.code, exc.message, exc.hint, fmt, exc.exit_code)
        except UsageError as exc:
            fail(env, "invalid-input", exc.message, exc.hint, fmt, EXIT_USAGE)
        except Cancelled as exc:
            message(env, exc.message)
            raise typer.Exit(EXIT_RULE) from None
        except (KeyboardInterrupt, EOFError):
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


@contextlib.contextmanager
def closed_output_exits() -> Iterator[None]:
    """Standard output closed or its reader gone: exit 141, silently."""
    try:
        yield
    except BrokenPipeError:
        silence_stdout()
        raise typer.Exit(EXIT_OUTPUT_CLOSED) from None


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
