"""Rendering: tables for people (Rich), json/jsonl/csv for scripts, errors for both.

Data goes to stdout, everything else to stderr. Machine formats stream: a list
of 100 000 rows is written row by row, never built in memory.
"""

from __future__ import annotations

import csv
import errno
import functools
import json
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import Any, TextIO

from collabctl.cli.env import Environment, silence_stdout


class Format(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return dumps(value)
    return str(value)


#: Width of tables written to a file or pipe, where there is no terminal to measure.
PIPE_WIDTH = 160


@functools.cache
def _console_class() -> Any:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # Rich would exit 1 here; the command line's rule for a closed output applies
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, "the reader of the output went away")

    return _Console


def console(stream: TextIO, env: Environment, *, is_stdout: bool) -> Any:
    Console = _console_class()
    tty = env.stdout_tty if is_stdout else env.stderr_tty
    return Console(
        file=stream,
        force_terminal=tty,
        no_color=not tty,
        highlight=False,
        emoji=False,  # data is shown as it is: a name with :warning: in it stays text
        width=None if tty else PIPE_WIDTH,
    )


def _table_cell(column: str, value: Any) -> str:
    """Times to the minute in tables: people read dates, scripts use the machine formats."""
    if column == "at" or column.endswith("_at"):
        return _cell(value)[:16].replace("T", " ")
    return _cell(value)


def emit_rows(
    env: Environment,
    rows: Iterable[dict[str, Any]],
    fmt: Format,
    columns: Sequence[str],
    *,
    table_columns: Sequence[str] | None = None,
    empty: str = "nothing to show",
) -> int:
    """Write rows in the chosen format; returns how many were written."""
    out = env.stdout
    count = 0
    if fmt is Format.jsonl:
        for row in rows:
            out.write(dumps(row) + "\n")
            count += 1
    elif fmt is Format.json:
        out.write("[")
        for row in rows:
            out.write(("\n" if count == 0 else ",\n") + dumps(row))
            count += 1
        out.write("\n]\n" if count else "]\n")
    elif fmt is Format.csv:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
            count += 1
    else:
        from rich.table import Table
        from rich.text import Text

        table = Table(show_lines=False, header_style="bold")
        shown = table_columns or columns
        for column in shown:
            table.add_column(column.replace("_", " "))
        for row in rows:
            # Text, not str: a name like "AB [Norr]" is data, not Rich markup
            table.add_row(*(Text(_table_cell(c, row.get(c))) for c in shown))
            count += 1
        if count:
            console(out, env, is_stdout=True).print(table)
        else:
            message(env, empty)
    out.flush()
    return count


def emit_object(
    env: Environment,
    obj: dict[str, Any],
    fmt: Format,
    render: Callable[[Any, dict[str, Any]], None] | None = None,
) -> None:
    """One object: ``render`` draws it for people; machine formats print it as data.

    Without ``render`` the table format prints nothing: the command tells people
    what happened in a message of its own."""
    out = env.stdout
    if fmt is Format.json:
        out.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
    elif fmt is Format.jsonl:
        out.write(dumps(obj) + "\n")
    elif fmt is Format.csv:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(list(obj))
        writer.writerow([_cell(v) for v in obj.values()])
    elif render is not None:
        render(console(out, env, is_stdout=True), obj)
    out.flush()


def message(env: Environment, text: str) -> None:
    """A line for the person at the terminal, on stderr."""
    env.stderr.write(text + "\n")
    env.stderr.flush()


def error_lines(code: str, text: str, hint: str | None) -> str:
    lines = [f"error[{code}]: {text}"]
    if hint:
        first, *rest = hint.splitlines()
        lines.append(f"hint: {first}")
        lines.extend(f"      {line}" for line in rest)
    return "\n".join(lines)


def emit_error(
    env: Environment, code: str, text: str, hint: str | None, fmt: Format | None
) -> None:
    env.stderr.write(error_lines(code, text, hint) + "\n")
    env.stderr.flush()
    if fmt is not None and fmt is not Format.table:
        try:
            env.stdout.write(dumps({"error": {"code": code, "message": text, "hint": hint}}) + "\n")
            env.stdout.flush()
        except BrokenPipeError:
            # nobody reads stdout: the error is on stderr, and the exit code says it
            silence_stdout()
