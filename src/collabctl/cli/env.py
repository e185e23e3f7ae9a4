"""One place that knows about the terminal: streams, whether they are terminals,
and whether collabctl may prompt. Commands ask this object, never ``isatty``.

A test hands its own Environment to the app instead of the detected one, as
``CliRunner().invoke(app, args, obj=Environment.for_test(tty=True))``: the
root callback uses an Environment it finds in ``obj``.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from collabctl.domain.errors import UsageError


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class ClosedOutput(io.TextIOBase):
    """Standard output of a program started with it closed (``>&-``): every write fails as
    a write to a pipe without a reader does, which ends the program with exit 141."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, "standard output is closed")

    def flush(self) -> None:
        pass


def silence_stdout() -> None:
    """Point standard output at /dev/null, so that what is still buffered flushes quietly."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):  # None (closed at start), or not a file
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _stdin() -> TextIO:
    return sys.stdin if sys.stdin is not None else io.StringIO()  # closed at start: no input


def _stdout() -> TextIO:
    return sys.stdout if sys.stdout is not None else ClosedOutput()  # type: ignore[return-value]


def _stderr() -> TextIO:
    # closed at start (2>&-): messages go nowhere, the exit code still tells
    return sys.stderr if sys.stderr is not None else open(os.devnull, "w")


@dataclass
class Environment:
    stdin: TextIO = field(default_factory=_stdin)
    stdout: TextIO = field(default_factory=_stdout)
    stderr: TextIO = field(default_factory=_stderr)
    stdin_tty: bool = False
    stdout_tty: bool = False
    stderr_tty: bool = False
    no_input: bool = False
    #: ``--color``: "auto" (colour on a terminal unless NO_COLOR is set), "always" or
    #: "never"; ``detect`` makes it "auto", a test's streams have none unless it asks
    color: str = "never"
    #: long output goes through a pager: a real terminal only (never a test's streams)
    pager: bool = False
    #: prompt_toolkit ``input``/``output`` for the questions; None: the real terminal
    prompt_input: Any = None
    prompt_output: Any = None
    #: a JSON array begun on stdout and not yet closed: how many elements it has
    #: (an error that stops the stream closes it, so stdout stays one JSON document)
    open_json_array: int | None = None
    #: ``--fields``: the keys (machine formats) or columns (tables) to print, in order
    fields: tuple[str, ...] | None = None

    @classmethod
    def detect(cls, *, no_input: bool = False) -> Environment:
        env = cls()
        env.stdin_tty = _isatty(env.stdin)
        env.stdout_tty = _isatty(env.stdout)
        env.stderr_tty = _isatty(env.stderr)
        env.pager = env.stdout_tty
        env.color = "auto"
        env.no_input = no_input or os.environ.get("COLLABCTL_NO_INPUT", "") not in ("", "0")
        return env

    @classmethod
    def for_test(
        cls,
        stdin: str = "",
        *,
        tty: bool = False,
        no_input: bool = False,
        prompt_input: Any = None,
        prompt_output: Any = None,
    ) -> Environment:
        """In-memory streams (``io.StringIO``: read ``env.stdout.getvalue()``) that claim to
        be terminals when ``tty``; questions read ``prompt_input`` (e.g. prompt_toolkit's
        ``create_pipe_input()``) and draw on ``prompt_output`` (e.g. ``DummyOutput()``)."""
        return cls(
            stdin=io.StringIO(stdin),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
            stdin_tty=tty,
            stdout_tty=tty,
            stderr_tty=tty,
            no_input=no_input,
            prompt_input=prompt_input,
            prompt_output=prompt_output,
        )

    @property
    def can_prompt(self) -> bool:
        """Prompt only when a person can answer: both ends are terminals and input is allowed."""
        return self.stdin_tty and self.stdout_tty and not self.no_input

    @property
    def why_no_prompt(self) -> str:
        """Why collabctl does not ask, in a few words: for a message that needs a flag instead."""
        if self.no_input:
            return "--no-input is set"
        return "no terminal to ask in"

    @property
    def prompt_streams(self) -> dict[str, Any]:
        """Keyword arguments for a question: where it reads and draws, when not the terminal."""
        streams = {"input": self.prompt_input, "output": self.prompt_output}
        return {name: stream for name, stream in streams.items() if stream is not None}

    def open_input(self, name: str) -> TextIO:
        """The file a command reads, ``-`` meaning standard input."""
        if name == "-":
            return self.stdin
        try:
            return open(name, encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"cannot read {name}: {exc.strerror}", "check the path, or use - for stdin"
            ) from None


def terminal_size(env: Environment) -> tuple[int, int]:
    """Columns and lines of the terminal (COLUMNS and LINES win, as Rich has it)."""
    from rich.console import Console

    size = Console(file=env.stdout, force_terminal=True).size
    return size.width, size.height
