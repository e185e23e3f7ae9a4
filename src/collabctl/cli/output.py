"""Rendering: tables for people, json/jsonl/csv for scripts, errors for both.

Data goes to stdout, everything else to stderr. Every format streams: a list
of 100 000 rows is written as it is read, never built in memory (tables in
chunks, ``cli/tables.py``). Long output on a terminal goes through a pager
(``cli/pager.py``).

Whatever a person reads (table cells, rendered objects, messages, errors) is
made safe to show first (``cli/safe_text.py``): a control character or a bidi
override from the data is shown as an escape, never obeyed. Machine formats
stay exact: JSON escapes every control character, line separator and bidi
override (``domain/json_text.py``), and CSV cells are neutralised against
formula injection (``csv_cell``).

Colour (SPEC §7.1): only on a terminal, never when ``NO_COLOR`` is set to a
non-empty value; ``--color always|never`` (or ``COLLABCTL_COLOR``) overrides
both. Rich does the rest (``TERM=dumb``, how many colours the terminal has).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import functools
import os
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TextIO

from collabctl.cli.env import Environment, silence_stdout, terminal_size
from collabctl.cli.fields import check_fields, selected
from collabctl.cli.plain_console import PIPE_WIDTH, PlainConsole
from collabctl.cli.safe_text import csv_cell, visible
from collabctl.domain.json_text import dumps, dumps_indented

if TYPE_CHECKING:
    from collabctl.cli.tables import Column


class Format(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class ColorMode(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return csv_cell(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return csv_cell(dumps(value))
    return str(value)


# -- the console: colour and width ------------------------------------------------------


@functools.cache
def _console_class() -> Any:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # Rich would exit 1 here; the command line's rule for a closed output applies
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, "the reader of the output went away")

        def render_str(self, text: str, **options: Any) -> Any:
            # every string printed, markup or not, from any renderer: made safe to show
            return super().render_str(visible(text, layout=True), **options)

    return _Console


def colour_system(env: Environment, *, is_stdout: bool) -> str | None:
    """The ``color_system`` for Rich: None (no escape codes at all), or what to use."""
    tty = env.stdout_tty if is_stdout else env.stderr_tty
    mode = env.color
    if mode == ColorMode.never:
        return None
    if mode == ColorMode.always:
        return "auto" if tty else "standard"
    if not tty or os.environ.get("NO_COLOR", ""):
        return None
    return "auto"


def console(stream: TextIO, env: Environment, *, is_stdout: bool, width: int | None = None) -> Any:
    """A Rich console writing to ``stream``, with colour as SPEC §7.1 has it.

    Without colour it writes no escape code at all, bold included. Not on a
    terminal, lines are never wrapped at a width of Rich's choosing.
    """
    Console = _console_class()
    tty = env.stdout_tty if is_stdout else env.stderr_tty
    system = colour_system(env, is_stdout=is_stdout)
    made = Console(
        file=stream,
        force_terminal=tty,
        color_system=system,
        no_color=False,  # NO_COLOR is decided above, where --color can override it
        highlight=False,
        emoji=False,  # data is shown as it is: a name with :warning: in it stays text
        width=width if width is not None else (None if tty else PIPE_WIDTH),
        soft_wrap=not tty,  # a pipe gets each line whole; a terminal, lines cut between words
    )
    if env.color == ColorMode.always and made.color_system is None:  # e.g. TERM=dumb
        made = Console(
            file=stream,
            force_terminal=tty,
            color_system="standard",
            no_color=False,
            highlight=False,
            emoji=False,
            width=width if width is not None else (None if tty else PIPE_WIDTH),
            soft_wrap=not tty,
        )
    return made


# -- data -------------------------------------------------------------------------------


def emit_rows(
    env: Environment,
    rows: Iterable[dict[str, Any]],
    fmt: Format,
    columns: Sequence[str],
    *,
    table_columns: Sequence[str | Column] | None = None,
    empty: str = "nothing to show",
    page: bool = False,
) -> int:
    """Write rows in the chosen format; returns how many were written.

    ``table_columns`` are the columns of the table for people (names, or
    ``tables.Column`` with a kind and a priority); ``page`` sends long output on
    a terminal through the pager.
    """
    if env.fields is not None:
        columns, table_columns = selected(env.fields, columns, table_columns)
        chosen = columns
        if fmt in (Format.json, Format.jsonl):
            rows = ({key: row.get(key) for key in chosen} for row in rows)
    count = -1  # still so when the pager was quit before the end: nothing more to say
    with _destination(env, page) as out:
        count = _write_rows(env, out, rows, fmt, columns, table_columns)
        out.flush()
    if count == 0 and fmt is Format.table:
        message(env, empty)
    env.stdout.flush()
    return max(count, 0)


def _destination(env: Environment, page: bool) -> contextlib.AbstractContextManager[TextIO]:
    """Where data goes: stdout, or the pager when output may be long on a terminal."""
    if not (page and env.pager and env.stdout_tty):
        return contextlib.nullcontext(env.stdout)
    from collabctl.cli.pager import paged

    return paged(env)


def _write_rows(
    env: Environment,
    out: TextIO,
    rows: Iterable[dict[str, Any]],
    fmt: Format,
    columns: Sequence[str],
    table_columns: Sequence[str | Column] | None,
) -> int:
    count = 0
    if fmt is Format.jsonl:
        for row in rows:
            out.write(dumps(row) + "\n")
            count += 1
    elif fmt is Format.json:
        out.write("[")
        # an error or Ctrl-C that stops the rows closes the array (close_json_array)
        tracked = out is env.stdout
        if tracked:
            env.open_json_array = 0
        for row in rows:
            out.write(("\n" if count == 0 else ",\n") + dumps(row))
            count += 1
            if tracked:
                env.open_json_array = count
        env.open_json_array = None
        out.write("\n]\n" if count else "]\n")
    elif fmt is Format.csv:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(row.get(c)) for c in columns])
            count += 1
    else:
        from collabctl.cli import tables

        shown = tables.columns_for(table_columns or columns)
        if env.stdout_tty:
            width = terminal_size(env)[0]
            count = tables.write_terminal(
                console(out, env, is_stdout=True, width=width), rows, shown, width
            )
        else:
            bold = colour_system(env, is_stdout=True) is not None  # --color always
            count = tables.write_plain(out, rows, shown, bold=bold)
    return count


def emit_object(
    env: Environment,
    obj: dict[str, Any],
    fmt: Format,
    render: Callable[[Any, dict[str, Any]], None] | None = None,
    *,
    page: bool = False,
) -> None:
    """One object: ``render`` draws it for people; machine formats print it as data.

    Without ``render`` the table format prints nothing: the command tells people
    what happened in a message of its own. ``page``: through the pager when long.
    With ``--fields``, the keys chosen (a table: one "key: value" line each).
    """
    if env.fields is not None:
        check_fields(env.fields, list(obj))
        obj = {key: obj[key] for key in env.fields}
        if render is not None:
            render = _key_values
    if fmt is Format.json:
        out: TextIO = env.stdout
        out.write(dumps_indented(obj) + "\n")
    elif fmt is Format.jsonl:
        env.stdout.write(dumps(obj) + "\n")
    elif fmt is Format.csv:
        writer = csv.writer(env.stdout, lineterminator="\n")
        writer.writerow(list(obj))
        writer.writerow([_csv_cell(v) for v in obj.values()])
    elif render is not None:
        with _destination(env, page) as out:
            render(_object_console(env, out), obj)
            out.flush()
    env.stdout.flush()


def _object_console(env: Environment, out: TextIO) -> Any:
    """The console an object is drawn with: Rich's on a terminal or with colour, else one
    that writes plain lines without importing Rich (``PlainConsole``)."""
    if env.stdout_tty:
        return console(out, env, is_stdout=True, width=terminal_size(env)[0])
    if colour_system(env, is_stdout=True) is not None:
        return console(out, env, is_stdout=True)
    return PlainConsole(
        out, PIPE_WIDTH, functools.partial(console, out, env, is_stdout=True, width=PIPE_WIDTH)
    )


def _key_values(console: Any, obj: dict[str, Any]) -> None:
    for key, value in obj.items():
        text = "" if value is None else value if isinstance(value, str) else dumps(value)
        console.print(f"{key}: {text}", markup=False, soft_wrap=True)


# -- messages and errors ----------------------------------------------------------------


def message(env: Environment, text: str) -> None:
    """A line for the person at the terminal, on stderr (made safe to show): wrapped at
    word boundaries on a terminal, one line a line in a pipe."""
    env.stderr.write(wrapped(env, visible(text, layout=True)) + "\n")
    env.stderr.flush()


def wrapped(env: Environment, text: str) -> str:
    """``text`` wrapped to the width of the terminal on stderr at word boundaries, each
    line's continuation under its text (``hint: `` lines included); unchanged in a pipe,
    where a reader or a program sees each line whole. A word longer than the width (a
    path, a command) is never broken."""
    width = _stderr_width(env)
    if width is None:
        return text
    import textwrap

    lines = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
            continue
        spaces = len(line) - len(line.lstrip(" "))
        more = 6 if line.startswith("hint: ") else 2 if line.startswith("error[") else 0
        indent = " " * min(spaces + more, width // 2)
        lines.append(
            textwrap.fill(
                line,
                width=width,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)


def _stderr_width(env: Environment) -> int | None:
    if not env.stderr_tty:
        return None
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(env.stderr.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None


def error_lines(code: str, text: str, hint: str | None) -> str:
    """``error[CODE]: text`` and the hint, made safe to show."""
    lines = [f"error[{code}]: {visible(text, layout=True)}"]
    if hint:
        first, *rest = visible(hint, layout=True).splitlines()
        lines.append(f"hint: {first}")
        lines.extend(f"      {line}" for line in rest)
    return "\n".join(lines)


def emit_error(
    env: Environment,
    code: str,
    text: str,
    hint: str | None,
    fmt: Format | None,
    extra: dict[str, Any] | None = None,
) -> None:
    """``error[CODE]: text`` and the hint on stderr; with a machine format also the JSON
    error on stdout, with the ``extra`` keys (an error's details that scripts need)."""
    lines = wrapped(env, error_lines(code, text, hint))
    if colour_system(env, is_stdout=False) is None:
        env.stderr.write(lines + "\n")
    else:
        from rich.text import Text

        shown = console(env.stderr, env, is_stdout=False)
        style = "bold red"
        for line in lines.split("\n"):
            if line.startswith("hint: "):
                style = "yellow"
            shown.print(Text(line, style=style), soft_wrap=True)
    env.stderr.flush()
    if fmt is not None and fmt is not Format.table:
        error = dumps({"error": {"code": code, "message": text, "hint": hint, **(extra or {})}})
        try:
            if env.open_json_array is not None:
                # rows of a JSON array went out before the error stopped them: the error
                # is the array's last element, so stdout is still one JSON document
                close_json_array(env, error)
            else:
                env.stdout.write(error + "\n")
            env.stdout.flush()
        except BrokenPipeError:
            # nobody reads stdout: the error is on stderr, and the exit code says it
            silence_stdout()


def close_json_array(env: Environment, last: str | None = None) -> None:
    """Close a JSON array that a stopped stream left open on stdout (nothing if none is),
    with ``last`` (JSON text) as its last element."""
    count = env.open_json_array
    if count is None:
        return
    env.open_json_array = None
    if last is not None:
        env.stdout.write(("\n" if count == 0 else ",\n") + last)
        count += 1
    env.stdout.write("\n]\n" if count else "]\n")
    env.stdout.flush()
