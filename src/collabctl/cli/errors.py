"""From a failure to what the user sees: ``error[CODE]``, a hint, and the documented exit code.

``handles_errors`` wraps every command body; ``guard_main`` is the last line of
defence around the whole program. Neither ever lets a traceback or a database
password reach the user.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer

from collabctl.cli.env import Environment
from collabctl.cli.output import Format, emit_error, message
from collabctl.cli.state import current_state, last_state
from collabctl.domain.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RULE,
    EXIT_USAGE,
    Cancelled,
    CollabError,
    UsageError,
)

F = TypeVar("F", bound=Callable[..., Any])

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
            # the reader went away (e.g. `| head`); not an error for us
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(EXIT_OK) from None
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


def guard_main(run: Callable[[], Any]) -> None:
    """Run the program; a failure that escaped every command still ends in ``error[internal]``."""
    try:
        run()
    except KeyboardInterrupt:  # outside a command body, e.g. while parsing
        sys.stderr.write("\ninterrupted\n")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # last line of defence: never a traceback by default
        from collabctl.config import redact

        state = last_state()
        secrets = state.secrets if state is not None else ()
        if os.environ.get("COLLABCTL_DEBUG"):
            import traceback

            sys.stderr.write(redact(traceback.format_exc(), secrets))
        sys.stderr.write(
            redact(f"error[internal]: unexpected failure: {type(exc).__name__}: {exc}\n", secrets)
        )
        sys.stderr.write(
            "hint: this is a bug in collabctl; run again with COLLABCTL_DEBUG=1 and report it\n"
        )
        sys.exit(1)
