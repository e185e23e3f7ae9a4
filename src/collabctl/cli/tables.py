"""Tables for people (``--format table``), streamed in chunks.

**On a terminal** a table fits the screen. Key values (customer and org
numbers, e-mails, service codes, dates, states) are never cut nor wrapped;
free text (names, reasons, details) wraps inside its column. When the columns
do not fit, the ones of lowest priority are left out, and a line under the
table names them and says how to see them (``--format``, a wider terminal).
A column of the kind ``below`` (the audit log's details) is written on lines of
its own under each row, as wide as the screen.

**In a pipe or a file** a table is plain aligned columns, one row a line, no
box drawing, nothing cut or wrapped, every column present.

**Streaming**: rows are laid out ``CHUNK_ROWS`` at a time (``TERMINAL_CHUNK_ROWS``
on a terminal, so the first screen comes at once). The column widths are
measured on the first chunk; a later chunk with a wider value widens its
column from that chunk on (in a pipe: from that row on), so nothing is ever
cut and memory stays flat however many rows there are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, NamedTuple, TextIO

from collabctl.cli.safe_text import visible

#: A key value: never cut, never wrapped.
KEY = "key"
#: Free text: wraps inside its column on a terminal.
TEXT = "text"
#: Free text on lines of its own under the row (terminal); the last column in a pipe.
BELOW = "below"

#: Rows laid out at a time in a pipe, and on a terminal.
CHUNK_ROWS = 1000
TERMINAL_CHUNK_ROWS = 100
#: Between two columns.
GAP = "  "
#: A free-text column is not made narrower than this (or its longest word, if shorter).
TEXT_MIN_WIDTH = 12
#: Indent of a ``below`` column's lines.
BELOW_INDENT = "    "

#: Column names that hold key values in any table (``--format`` keys).
KEY_NAMES = frozenset(
    {
        "id",
        "line",
        "customer_number",
        "org_number",
        "office_org_number",
        "service",
        "state",
        "status",
        "email",
        "to",
        "role",
        "main_contact",
        "outcome",
        "ended_by",
        "action",
        "actor",
        "db_user",
        "scope",
        "event",
        "attempts",
        "check",
        "ok",
        "kind",
        "key",
        "party",
        "access",
        "records",
        "error_code",
    }
)


def cell(value: Any) -> str:
    """A value as people read it in a table (before it is made safe to show)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict | list):
        from collabctl.domain.json_text import dumps

        return dumps(value)
    return str(value)


def minute(value: Any) -> str:
    """A time to the minute: people read dates; scripts use the machine formats."""
    return cell(value)[:16].replace("T", " ")


def day(value: Any) -> str:
    return cell(value)[:10]


class Column(NamedTuple):
    """One column of a table for people.

    ``priority``: 1 is kept longest; on a narrow terminal the column with the
    highest number goes first. ``show`` turns a value into its text (a list of
    lines for a ``below`` column); the text is made safe to show afterwards.
    """

    key: str
    header: str | None = None
    kind: str = KEY
    priority: int = 1
    show: Callable[[Any], str | list[str]] | None = None

    @property
    def title(self) -> str:
        return self.header if self.header is not None else self.key.replace("_", " ")


def columns_for(names: Sequence[str | Column]) -> list[Column]:
    """Columns from names (or columns as they are): a name's kind comes from ``KEY_NAMES``,
    times are shown to the minute, and the first columns are kept longest."""
    columns = []
    for index, name in enumerate(names):
        if isinstance(name, Column):
            columns.append(name)
        elif name == "at" or name.endswith("_at"):
            columns.append(Column(name, kind=KEY, priority=index + 1, show=minute))
        else:
            kind = KEY if name in KEY_NAMES else TEXT
            columns.append(Column(name, kind=kind, priority=index + 1))
    return columns


def _safe(text: str) -> str:
    # isprintable is false for every character visible() escapes (and for a few harmless
    # ones, which visible leaves as they are): the common case costs one C call
    return text if text.isprintable() else visible(text)


def _texts(column: Column, value: Any) -> list[str]:
    """The safe text of one cell, as lines (one line unless a ``below`` column has more)."""
    shown = column.show(value) if column.show is not None else cell(value)
    if isinstance(shown, list):
        return [_safe(part) for part in shown if part]
    return [_safe(shown)] if shown else []


def _converter(column: Column) -> Callable[[Any], str]:
    """Value -> the safe text of one cell on one line, as fast as the column allows."""
    if column.show is not None or column.kind == BELOW:
        return lambda value: _one(column, value)

    def convert(value: Any) -> str:
        if value.__class__ is str:
            return value if value.isprintable() else visible(value)
        return _safe(cell(value)) if value is not None else ""

    return convert


#: Below this character every printable one takes one cell (Latin-1 and Latin Extended:
#: Swedish names), so such a text's width needs no table of wide and combining characters
#: (tests/test_output_tables.py compares it with Rich's).
_NARROW_BELOW = "\u0300"


def _width(text: str) -> int:
    if text.isascii() or (max(text) < _NARROW_BELOW and text.isprintable()):
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def _pad(text: str, width: int) -> str:
    gap = width - _width(text)
    return text + " " * gap if gap > 0 else text


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


# -- in a pipe: plain aligned columns ---------------------------------------------------


def write_plain(
    out: TextIO, rows: Iterable[dict[str, Any]], columns: Sequence[Column], *, bold: bool = False
) -> int:
    """Plain aligned columns, one row a line; returns the number of rows.

    ``bold``: the header in bold (``--color always``); else no escape code at all.
    """
    pairs = [(c.key, _converter(c)) for c in columns]
    last = len(columns) - 1
    widths: list[int] = []
    count = 0
    for chunk in _chunks(rows, CHUNK_ROWS):
        lines = [[convert(row.get(key)) for key, convert in pairs] for row in chunk]
        if not widths:  # the first chunk sets the widths, with the header
            header = [c.title for c in columns]
            widths = [
                max(_width(h), *(_width(line[i]) for line in lines)) for i, h in enumerate(header)
            ]
            first = _plain_line(header, widths, last)
            out.write(f"\x1b[1m{first[:-1]}\x1b[0m\n" if bold else first)
        out.write("".join([_plain_line(line, widths, last) for line in lines]))
        count += len(chunk)
    return count


def _one(column: Column, value: Any) -> str:
    texts = _texts(column, value)
    return texts[0] if len(texts) == 1 else "; ".join(texts)


def _plain_line(cells: list[str], widths: list[int], last: int) -> str:
    parts = []
    for i, text in enumerate(cells):
        size = len(text) if text.isascii() else _width(text)
        if size > widths[i]:
            widths[i] = size  # wider than the first chunk's: widened from here on
        parts.append(text if i == last else text + " " * (widths[i] - size))
    return GAP.join(parts).rstrip() + "\n"


# -- on a terminal: fitted to the screen ------------------------------------------------


class _Layout(NamedTuple):
    shown: list[Column]
    widths: dict[str, int]
    below: list[Column]
    left_out: list[Column]


class TerminalTable:
    """A table fitted to a terminal ``width`` columns wide, written chunk by chunk
    through ``console`` (Rich: colour only when the console has it)."""

    def __init__(self, console: Any, columns: Sequence[Column], width: int) -> None:
        self.console = console
        self.columns = list(columns)
        self.width = max(width, 20)
        self.natural: dict[str, int] = {c.key: 0 for c in self.columns}
        self.filled: set[str] = set()
        self.layout: _Layout | None = None
        self.left_out: list[str] = []  # titles, in the order they were left out

    def _measure(self, rows: list[list[list[str]]]) -> None:
        for i, column in enumerate(self.columns):
            if column.kind == BELOW:
                if any(row[i] for row in rows):
                    self.filled.add(column.key)
                continue
            widest = self.natural[column.key]
            for row in rows:
                for text in row[i]:
                    size = _width(text)
                    if size > widest:
                        widest = size
            if widest:
                self.filled.add(column.key)
            self.natural[column.key] = widest

    def _minimum(self, column: Column) -> int:
        header = max(_width(word) for word in column.title.split())
        natural = max(self.natural[column.key], header)
        if column.kind == KEY:
            return natural
        return min(natural, max(TEXT_MIN_WIDTH, header))

    def _fit(self) -> _Layout:
        inline = [c for c in self.columns if c.kind != BELOW and c.key in self.filled]
        below = [c for c in self.columns if c.kind == BELOW and c.key in self.filled]
        minimum = {c.key: self._minimum(c) for c in inline}

        def needed(shown: list[Column]) -> int:
            return sum(minimum[c.key] for c in shown) + len(GAP) * (len(shown) - 1)

        shown = list(inline)
        left_out = []
        while len(shown) > 1 and needed(shown) > self.width:
            victim = max(shown, key=lambda c: (c.priority, shown.index(c)))
            shown.remove(victim)
            left_out.append(victim)
        widths = {c.key: minimum[c.key] for c in shown}
        spare = self.width - needed(shown)
        growing = [c for c in shown if c.kind == TEXT]
        while spare > 0:
            wants = [c for c in growing if widths[c.key] < max(self.natural[c.key], minimum[c.key])]
            if not wants:
                break
            for c in wants:
                if spare == 0:
                    break
                widths[c.key] += 1
                spare -= 1
        for c in sorted(shown, key=lambda c: c.priority):  # then headers on one line
            grow = min(max(_width(c.title) - widths[c.key], 0), spare)
            widths[c.key] += grow
            spare -= grow
        return _Layout(shown, widths, below, left_out)

    def write(self, chunk: list[dict[str, Any]]) -> None:
        rows = [[_texts(c, row.get(c.key)) for c in self.columns] for row in chunk]
        self._measure(rows)
        layout = self._fit()
        lines: list[tuple[str, str]] = []  # (text, style)
        old = self.layout
        if old is None or [c.key for c in old.shown] != [c.key for c in layout.shown]:
            if old is not None:  # columns came or went: a new header for the rows below
                lines.append(("", ""))
            self._lines(lines, [[c.title] for c in layout.shown], layout, style="bold")
        for c in layout.left_out:
            if c.title not in self.left_out:
                self.left_out.append(c.title)
        index = {c.key: i for i, c in enumerate(self.columns)}
        for row in rows:
            self._lines(lines, [row[index[c.key]] for c in layout.shown], layout)
            for c in layout.below:
                for part in row[index[c.key]]:
                    for line in self._wrap(part, self.width - len(BELOW_INDENT)):
                        lines.append((BELOW_INDENT + line, "dim"))
        self.layout = layout
        self._print(lines)

    def _print(self, lines: list[tuple[str, str]]) -> None:
        if self.console.color_system is None:  # no escape codes to add: the text as it is
            self.console.file.write("".join(line + "\n" for line, _ in lines))
            return
        from rich.text import Text

        text = Text()
        for n, (line, style) in enumerate(lines):
            text.append(line, style=style or None)
            if n < len(lines) - 1:
                text.append("\n")
        self.console.print(text, soft_wrap=True, highlight=False, markup=False)

    def _wrap(self, text: str, width: int) -> list[str]:
        if _width(text) <= width:
            return [text]
        from rich.text import Text

        return [
            line.plain.rstrip() for line in Text(text).wrap(self.console, width, overflow="fold")
        ]

    def _lines(
        self, out: list[tuple[str, str]], cells: list[list[str]], layout: _Layout, style: str = ""
    ) -> None:
        """One row: its cells side by side, free text wrapped over as many lines as it needs."""
        columns = layout.shown
        wrapped = []
        for column, parts in zip(columns, cells, strict=True):
            width = layout.widths[column.key]
            value = " ".join(parts)
            if style or column.kind == TEXT:  # headers wrap at spaces too
                wrapped.append(self._wrap(value, width) if value else [""])
            else:
                wrapped.append([value])
        height = max(len(lines) for lines in wrapped)
        last = len(columns) - 1
        for n in range(height):
            parts = []
            for i, lines in enumerate(wrapped):
                value = lines[n] if n < len(lines) else ""
                parts.append(value if i == last else _pad(value, layout.widths[columns[i].key]))
            out.append((GAP.join(parts).rstrip(), style))

    def note(self) -> str | None:
        """What was left out for want of width, and how to see it."""
        if not self.left_out:
            return None
        names = ", ".join(self.left_out)
        return (
            f"not shown at {self.width} columns: {names} "
            "(see every column with --format csv or json, or in a wider terminal)"
        )


def write_terminal(
    console: Any, rows: Iterable[dict[str, Any]], columns: Sequence[Column], width: int
) -> int:
    """The table fitted to the terminal, chunk by chunk; returns the number of rows."""
    table = TerminalTable(console, columns, width)
    count = 0
    for chunk in _chunks(rows, TERMINAL_CHUNK_ROWS):
        table.write(chunk)
        count += len(chunk)
    note = table.note()
    if note is not None:
        from rich.text import Text

        console.print(Text(note, style="dim"), soft_wrap=False, highlight=False, markup=False)
    return count
