"""Long output on a terminal goes through a pager, as git and gh do.

The pager is ``COLLABCTL_PAGER``, then ``PAGER``, else ``less -FRX``; an empty
value or ``cat`` means none. ``--no-pager`` and an output that is not a
terminal bypass it (``Environment.pager`` is false then).

Output that fits on the screen is written straight to the terminal: ``Paged``
holds what comes until more lines than the screen has arrived, then starts the
pager, hands it what it held and writes everything after that to the pager's
stdin as it comes, so a table of 100 000 rows starts showing at once and is
never held in memory. Quitting the pager early ends the command quietly, with
exit 0: the reader has seen enough.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, TextIO, cast

from collabctl.cli.env import terminal_size

if TYPE_CHECKING:
    from collabctl.cli.env import Environment

DEFAULT_PAGER = "less -FRX"


class PagerQuit(Exception):
    """The pager exited before the output ended: stop writing, quietly."""


def pager_command(environ: dict[str, str] | os._Environ[str] = os.environ) -> list[str] | None:
    """The pager to run, as argv; None when it is switched off or cannot be found."""
    for name in ("COLLABCTL_PAGER", "PAGER"):
        if name in environ:
            value = environ[name].strip()
            break
    else:
        value = DEFAULT_PAGER
    try:
        argv = shlex.split(value)
    except ValueError:
        return None
    if not argv or argv[0] == "cat" or shutil.which(argv[0]) is None:
        return None
    return argv


class Paged(io.TextIOBase):
    """A text stream for stdout that turns into the pager's stdin once the output is long."""

    def __init__(self, out: TextIO, argv: list[str], lines: int) -> None:
        self._out = out
        self._argv = argv
        self._lines = max(lines - 1, 1)  # the last line of the screen is the shell's prompt
        self._held: list[str] = []
        self._count = 0
        self._proc: subprocess.Popen[str] | None = None
        self._pipe: IO[str] | None = None

    @property
    def paging(self) -> bool:
        return self._proc is not None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._pipe is not None:
            try:
                self._pipe.write(text)
            except (BrokenPipeError, ValueError):  # ValueError: the pipe was closed
                raise PagerQuit from None
            return len(text)
        self._held.append(text)
        self._count += text.count("\n")
        if self._count > self._lines:
            self._start()
        return len(text)

    def flush(self) -> None:
        if self._pipe is not None:
            try:
                self._pipe.flush()
            except (BrokenPipeError, ValueError):
                raise PagerQuit from None

    def _start(self) -> None:
        env = dict(os.environ)
        env.setdefault("LESS", "FRX")  # as git does, for a bare PAGER=less
        env.setdefault("LV", "-c")
        encoding = getattr(self._out, "encoding", None) or "utf-8"
        try:
            self._out.flush()
            self._proc = subprocess.Popen(
                self._argv,
                stdin=subprocess.PIPE,
                env=env,
                text=True,
                encoding=encoding,
                errors="replace",
            )
        except OSError:  # it cannot start: write to the terminal as if there were none
            self._proc = None
            self._out.write("".join(self._held))
            self._held.clear()
            self._pipe = self._out
            return
        self._pipe = self._proc.stdin
        held, self._held = "".join(self._held), []
        self.write(held)

    def finish(self) -> None:
        """Write what is still held (short output), or close the pager's input and wait for it."""
        if self._proc is None:
            if self._held:
                self._out.write("".join(self._held))
                self._held.clear()
            self._out.flush()
            return
        with contextlib.suppress(BrokenPipeError, ValueError, OSError):
            if self._pipe is not None:
                self._pipe.close()
        self.wait()

    def wait(self) -> None:
        """Wait for the pager to exit: the shell's prompt must not come back under it."""
        if self._proc is None:
            return
        while True:
            try:
                self._proc.wait()
                return
            except KeyboardInterrupt:  # Ctrl-C is the pager's to handle (less stays open)
                continue


@contextlib.contextmanager
def paged(env: Environment, enabled: bool = True) -> Iterator[TextIO]:
    """Where a command writes long output: the pager on a terminal, else stdout itself."""
    argv = pager_command() if enabled and env.pager and env.stdout_tty else None
    if argv is None:
        yield env.stdout
        return
    stream = Paged(env.stdout, argv, terminal_size(env)[1])
    try:
        yield cast(TextIO, stream)
    except PagerQuit:
        stream.wait()
        return
    except BaseException:
        with contextlib.suppress(PagerQuit, BrokenPipeError, OSError, ValueError):
            stream.finish()
        raise
    try:
        stream.finish()
    except PagerQuit:
        stream.wait()
