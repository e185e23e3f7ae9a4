"""What a run over many items (``import``, ``end --from``) says on stderr while it runs
and when it ends: the count of each status, a progress display showing it, a line said
above the display instead of through it, and the summary's count of items.

Each command keeps what is its own: its statuses, how its results are written to
stdout in each format, the words of its summary around the counts, and its exit code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

from collabctl.cli.env import Environment, silence_stdout
from collabctl.cli.errors import EXIT_OUTPUT_CLOSED
from collabctl.cli.output import close_json_array, emit_error, error_lines, message
from collabctl.cli.progress import ProgressDisplay
from collabctl.domain.errors import EXIT_INTERRUPTED
from collabctl.domain.wording import counted


class RunReport:
    """``with RunReport(env, reader, "importing", STATUSES, streamed=False) as report:``,
    then per item ``report.count(status)``, and ``report.update()`` whenever the
    progress display should show what was counted; at the end ``report.summary()``.

    ``streamed``: the results go to stdout as they come. On a terminal they are the
    progress themselves, so a display is shown only when stderr is a terminal and
    such results are not. ``progress_statuses``: the statuses whose counts the display
    shows beside the number of items (``3 items, 1 failed``).
    """

    def __init__(
        self,
        env: Environment,
        reader: Any,
        label: str,
        statuses: Iterable[str],
        *,
        streamed: bool,
        progress_statuses: Iterable[str] = (),
    ) -> None:
        self.env = env
        self.counts = dict.fromkeys(statuses, 0)
        self._progress_statuses = tuple(progress_statuses)
        self.display: ProgressDisplay | None = None
        if env.stderr_tty and not (streamed and env.stdout_tty):
            self.display = ProgressDisplay(env, reader, label)

    @property
    def total(self) -> int:
        """The items counted so far."""
        return sum(self.counts.values())

    def count(self, status: str) -> None:
        self.counts[status] += 1

    def update(self) -> None:
        """The display (if any) shows what was counted and how far the input was read."""
        if self.display is not None:
            items = [counted(self.total, "item")]
            items += [f"{self.counts[s]} {s}" for s in self._progress_statuses if self.counts[s]]
            self.display.update(", ".join(items))

    def say(self, text: str) -> None:
        """A line on stderr: above the display while there is one."""
        if self.display is not None:
            self.display.say(text)
        else:
            message(self.env, text)

    def error(self, error: Any) -> None:
        """An error (``code``, ``message``, ``hint``) on stderr: above the display while
        there is one, else as any command's error."""
        if self.display is not None:
            self.display.say(error_lines(error.code, error.message, error.hint))
        else:
            emit_error(self.env, error.code, error.message, error.hint, None)

    def summary(self, *, done: int | None = None, every_status: bool = False) -> str:
        """``5 items: 4 ended, 1 failed``: the items and each status counted (with
        ``every_status``, the ones counted 0 too); ``4 of 5 items`` when ``done`` (the
        items that went through) is not all of them."""
        total = self.total
        items = counted(total, "item")
        if done is not None and done != total:
            items = f"{done} of {items}"
        parts = [f"{n} {status}" for status, n in self.counts.items() if n or every_status]
        return items + (f": {', '.join(parts)}" if parts else "")

    def stopped_early(self, exc: BaseException, summary: str, hint: str) -> NoReturn:
        """After Ctrl-C (``KeyboardInterrupt``) or with standard output closed or its reader
        gone (``BrokenPipeError``, ``| head``): say how far the run got (``summary``) and
        what to do (``hint``), and exit 130 or 141; exit 0 would claim that every item was
        done. What went to stdout stays one JSON document with ``--format json``."""
        import typer

        closed = isinstance(exc, BrokenPipeError)
        if closed:
            silence_stdout()
        else:
            try:
                close_json_array(self.env)
            except BrokenPipeError:
                silence_stdout()
        why = "output closed" if closed else "interrupted"
        message(self.env, f"\n{why}: {summary}")
        message(self.env, f"hint: {hint}")
        raise typer.Exit(EXIT_OUTPUT_CLOSED if closed else EXIT_INTERRUPTED) from None

    def __enter__(self) -> RunReport:
        if self.display is not None:
            self.display.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.display is not None:
            self.display.__exit__(*exc)
