"""The progress display of a run over an input (``import``, ``end --from``), on stderr.

A bar with the share done and the time left when the input is a file (its size
is known), else the time so far; beside it what the run counted. It is transient:
when the run ends it is gone, and the summary line stays.
"""

from __future__ import annotations

from typing import Any

from collabctl.cli.env import Environment


class ProgressDisplay:
    """``with ProgressDisplay(env, reader, "importing") as shown: shown.update("3 items")``.

    ``reader`` tells how far it got: ``position`` (bytes read) and ``size`` (the
    file's, else None). ``say`` prints a line above the display, not through it.
    """

    def __init__(self, env: Environment, reader: Any, label: str) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        from collabctl.cli.output import console

        self._reader = reader
        columns: list[Any] = [SpinnerColumn(), TextColumn(f"{label}: {{task.fields[items]}}")]
        if reader.size:
            columns += [BarColumn(), TaskProgressColumn(), TimeRemainingColumn()]
        else:
            columns.append(TimeElapsedColumn())
        self._progress = Progress(
            *columns,
            console=console(env.stderr, env, is_stdout=False),
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._progress.add_task(label, total=reader.size or None, items="")

    def update(self, items: str) -> None:
        """What the run has counted so far, and how far it has read."""
        self._progress.update(self._task, completed=self._reader.position, items=items)

    def say(self, text: str) -> None:
        """A message above the progress display instead of through it."""
        self._progress.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def __enter__(self) -> ProgressDisplay:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()
