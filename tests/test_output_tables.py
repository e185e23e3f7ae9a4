"""Tables for people: fitted to a terminal (key values whole, free text wrapped, columns of
least use left out and named), plain aligned columns in a pipe, streamed in chunks."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collabctl.cli import tables
from collabctl.cli.env import Environment
from collabctl.cli.output import Format, console, emit_rows
from collabctl.cli.tables import BELOW, KEY, TEXT, Column

COLUMNS = (
    Column("number", kind=KEY, priority=1),
    Column("name", kind=TEXT, priority=2),
    Column("email", kind=KEY, priority=1),
    Column("date", kind=KEY, priority=3),
    Column("extra", kind=KEY, priority=9),
)


def terminal(width: int) -> tuple[Any, io.StringIO]:
    env = Environment.for_test(tty=True)
    return console(env.stdout, env, is_stdout=True, width=width), env.stdout  # type: ignore[return-value]


def row(i: int, name: str = "Bolaget AB") -> dict[str, Any]:
    return {
        "number": f"{1000 + i}",
        "name": name,
        "email": f"someone.long.address{i}@example-company.se",
        "date": "2024-01-31",
        "extra": "x" * 12,
    }


def words(text: str) -> set[str]:
    return set(text.split())


# -- in a pipe -------------------------------------------------------------------------


def test_a_piped_table_is_one_row_a_line_aligned_and_whole() -> None:
    out = io.StringIO()
    rows = [row(1, "A"), row(2, "Trädgårdsdesign Syd med ett mycket långt namn AB")]
    assert tables.write_plain(out, rows, COLUMNS) == 2
    header, first, second = out.getvalue().splitlines()
    assert header.split() == ["number", "name", "email", "date", "extra"]
    assert second.startswith("1002    Trädgårdsdesign Syd med ett mycket långt namn AB  some")
    # aligned: every column starts where its header does
    for name in ("email", "date", "extra"):
        at = header.index(name)
        assert first[at - 2 : at] == "  " and first[at] != " "
        assert second[at - 2 : at] == "  " and second[at] != " "
    assert not re.search("[│┃━─╭…]", out.getvalue())


def test_a_later_wider_value_widens_its_column_and_is_never_cut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tables, "CHUNK_ROWS", 2)
    out = io.StringIO()
    rows = [row(1, "A"), row(2, "B"), row(3, "A far longer name than the first chunk had")]
    tables.write_plain(out, rows, COLUMNS)
    lines = out.getvalue().splitlines()
    assert "A far longer name than the first chunk had  someone.long.address3" in lines[3]
    assert lines[1].index("someone") == lines[2].index("someone")  # the first chunk aligned


def test_rows_are_read_a_chunk_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """100 000 rows start printing at once: the first chunk is written before the rest
    is read, and no more than a chunk is ever held."""
    pulled = 0
    written_after: list[int] = []

    class Out(io.StringIO):
        def write(self, text: str) -> int:
            written_after.append(pulled)
            return super().write(text)

    def rows() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for i in range(100_000):
            pulled += 1
            yield row(i)

    assert tables.write_plain(Out(), rows(), COLUMNS) == 100_000
    assert written_after[0] <= tables.CHUNK_ROWS
    # a write at least every chunk: never more than a chunk read ahead of the output
    steps = [b - a for a, b in zip([0, *written_after], written_after, strict=False)]
    assert max(steps) <= tables.CHUNK_ROWS

    pulled, written_after[:] = 0, []
    env = Environment.for_test(tty=True)
    out = Out()
    assert tables.write_terminal(console(out, env, is_stdout=True, width=80), rows(), COLUMNS, 80)
    assert written_after[0] <= tables.TERMINAL_CHUNK_ROWS
    assert out.getvalue().count("\n") > 100_000


# -- on a terminal -----------------------------------------------------------------------


def test_at_80_columns_keys_stay_whole_and_the_least_useful_column_goes() -> None:
    shown, out = terminal(80)
    tables.write_terminal(shown, [row(1), row(2, "Resor & Möten i Väst AB")], COLUMNS, 80)
    text = out.getvalue()
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "someone.long.address2@example-company.se" in words(text)
    assert "2024-01-31" in words(text)
    assert "x" * 12 not in text  # "extra" (priority 9) was left out...
    assert "not shown at 80 columns: extra" in " ".join(text.split())  # ...and it says so
    assert "--format csv or json" in " ".join(text.split())


def test_free_text_wraps_inside_its_column() -> None:
    shown, out = terminal(70)
    name = "Fiskebolaget i Göteborg med ett långt namn AB"
    tables.write_terminal(shown, [row(1, name)], COLUMNS[:3], 70)
    lines = out.getvalue().splitlines()
    assert len(lines) > 2  # the header, then the row over several lines
    assert all(len(line) <= 70 for line in lines)
    assert (
        " ".join(" ".join(lines[1:]).split()).count("someone.long.address1@example-company.se") == 1
    )
    for part in name.split():
        assert part in words(out.getvalue())


def test_a_below_column_is_written_under_its_row() -> None:
    columns = (*COLUMNS[:2], Column("details", kind=BELOW, show=lambda v: list(v)))
    shown, out = terminal(80)
    rows = [{**row(1), "details": ["outcome: continue", "reason: moving"]}]
    tables.write_terminal(shown, rows, columns, 80)
    lines = out.getvalue().splitlines()
    assert lines[1].split() == ["1001", "Bolaget", "AB"]
    assert lines[2:] == [
        tables.BELOW_INDENT + "outcome: continue",
        tables.BELOW_INDENT + "reason: moving",
    ]

    piped = io.StringIO()
    tables.write_plain(piped, rows, columns)
    assert piped.getvalue().splitlines()[1].endswith("outcome: continue; reason: moving")


def test_a_column_with_nothing_in_it_is_not_shown() -> None:
    shown, out = terminal(120)
    tables.write_terminal(shown, [{**row(1), "date": None}], COLUMNS, 120)
    assert "date" not in out.getvalue().splitlines()[0].split()


KEY_TEXT = st.text(alphabet="0123456789abcdefghij@.-", min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "number": KEY_TEXT,
                "name": st.text(alphabet="abcdef åäö", max_size=60),
                "email": KEY_TEXT,
                "date": KEY_TEXT,
                "extra": KEY_TEXT,
            }
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(min_value=40, max_value=120),
)
def test_a_key_value_is_whole_on_one_line_or_its_column_is_named_as_left_out(
    rows: list[dict[str, Any]], width: int
) -> None:
    shown, out = terminal(width)
    table = tables.TerminalTable(shown, COLUMNS, width)
    table.write(rows)
    lines = out.getvalue().splitlines()
    for column in COLUMNS:
        if column.kind != KEY or column.title in table.left_out:
            continue
        for r in rows:
            assert any(r[column.key] in line.split() for line in lines), (column.key, r, lines)
    if table.left_out:
        assert table.note() is not None and all(t in table.note() for t in table.left_out)


# -- through emit_rows -------------------------------------------------------------------


def test_emit_rows_picks_the_layout_from_the_terminal_flag() -> None:
    rows = [row(1), row(2)]
    piped = Environment.for_test()
    emit_rows(piped, iter(rows), Format.table, ["number", "name"], table_columns=COLUMNS)
    assert "extra" in piped.stdout.getvalue().splitlines()[0]  # type: ignore[attr-defined]

    narrow = Environment.for_test(tty=True)
    import os

    os.environ["COLUMNS"] = "60"
    try:
        emit_rows(narrow, iter(rows), Format.table, ["number", "name"], table_columns=COLUMNS)
    finally:
        del os.environ["COLUMNS"]
    out = narrow.stdout.getvalue()  # type: ignore[attr-defined]
    assert all(len(line) <= 60 for line in out.splitlines())
    assert "not shown at 60 columns" in out


def test_nothing_to_show_is_said_on_stderr() -> None:
    env = Environment.for_test()
    assert emit_rows(env, iter([]), Format.table, ["number"], empty="no rows match") == 0
    assert env.stdout.getvalue() == ""  # type: ignore[attr-defined]
    assert env.stderr.getvalue() == "no rows match\n"  # type: ignore[attr-defined]


# -- without Rich where Rich adds nothing ----------------------------------------------


def test_a_width_without_rich_is_richs() -> None:
    """Below U+0300 a printable character takes one cell, so Latin text is measured
    without Rich's tables (tables._width); every other text still goes to Rich."""
    from rich.cells import cell_len

    for code in range(0x300):
        char = chr(code)
        if char.isprintable():
            assert tables._width(char * 3) == cell_len(char * 3), hex(code)
    for text in ("Exempelbyrån AB", "Café Hörnet", "漢字 wide", "e\u0301", "soft\u00adhyphen"):
        assert tables._width(text) == cell_len(text), text


_MARKUPISH = st.text(
    alphabet=st.sampled_from(
        ["a", " ", "[", "]", "/", "\\", "b", "=", "@", "\t", "\n", "\x1b", "é"]
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(_MARKUPISH, min_size=0, max_size=3),
    markup=st.sampled_from([None, True, False]),
    style=st.sampled_from([None, "bold", "dim"]),
    soft_wrap=st.sampled_from([None, True]),
    long=st.booleans(),
)
def test_the_plain_console_writes_what_rich_writes_in_a_pipe(
    texts: list[str], markup: bool | None, style: str | None, soft_wrap: bool | None, long: bool
) -> None:
    """A piped object without colour is drawn by ``PlainConsole``, which writes a line of
    text itself and gives Rich the rest: the same bytes as the Rich console either way."""
    from collabctl.cli.plain_console import PIPE_WIDTH, PlainConsole, print_styled

    if long:
        texts = [*texts, "x" * PIPE_WIDTH + " "]
    env = Environment.for_test()

    def draw(made: Any) -> tuple[str, str | None]:
        out = io.StringIO()
        shown = made(out)
        try:
            shown.print(*texts, style=style, markup=markup, soft_wrap=soft_wrap)
            shown.print()
            print_styled(shown, (texts[0] if texts else "", "bold"), " tail", soft_wrap=soft_wrap)
        except Exception as exc:  # markup Rich refuses: refused the same way
            return out.getvalue(), type(exc).__name__
        return out.getvalue(), None

    rich = draw(lambda out: console(out, env, is_stdout=True))
    plain = draw(
        lambda out: PlainConsole(
            out, PIPE_WIDTH, lambda: console(out, env, is_stdout=True, width=PIPE_WIDTH)
        )
    )
    assert plain == rich


def test_show_in_a_pipe_imports_no_rich_console() -> None:
    import subprocess
    import sys

    code = (
        "import sys, io\n"
        "from collabctl.cli.env import Environment\n"
        "from collabctl.cli.output import Format, emit_object\n"
        "from collabctl.cli.render import render_company\n"
        "company = {'customer_number': '1', 'name': 'A [b] AB', 'org_number': '556036-0793',\n"
        "  'main_contact': None, 'users': [], 'subscriptions': [], 'collaborations': [],\n"
        "  'offices': [], 'access': []}\n"
        "env = Environment.for_test()\n"
        "emit_object(env, company, Format.table, render_company)\n"
        "print(env.stdout.getvalue())\n"
        "print(sorted(m for m in sys.modules if m.startswith('rich.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("1  A [b] AB  (org 556036-0793)\nmain contact: none")
    assert "rich.console" not in result.stdout and "rich.text" not in result.stdout
