"""The sanitiser every human-facing stream uses, and the CSV cell guard."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collabctl.cli.safe_text import csv_cell, visible

UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        (
            "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\",
            "\\x1b]8;;http://evil\\x1b\\click\\x1b]8;;\\x1b\\",
        ),
        ("a\x00b", "a\\x00b"),
        ("bell\x07", "bell\\x07"),
        ("csi\x9b31m", "csi\\x9b31m"),
        ("del\x7f", "del\\x7f"),
        ("\u202eAB 1001", "\\u202eAB 1001"),
        ("iso\u2066late\u2069", "iso\\u2066late\\u2069"),
        ("two\nlines\tand tab", "two\\x0alines\\x09and tab"),
        ("Café Hörnet HB [Norr] :warning:", "Café Hörnet HB [Norr] :warning:"),
    ],
)
def test_control_characters_are_shown_not_obeyed(raw: str, shown: str) -> None:
    assert visible(raw) == shown


def test_free_text_keeps_its_layout_but_not_its_escapes() -> None:
    assert visible("line one\n\tline two\x1b[1m", layout=True) == "line one\n\tline two\\x1b[1m"
    assert visible("carriage\rreturn", layout=True) == "carriage\\x0dreturn"


@given(st.text())
def test_nothing_unsafe_survives(text: str) -> None:
    assert UNSAFE.search(visible(text)) is None
    assert UNSAFE.search(visible(text, layout=True).replace("\n", "").replace("\t", "")) is None


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf"))))
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert visible(text) == text


@pytest.mark.parametrize(
    ("raw", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+46 8 123", "'+46 8 123"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("nul\x00byte", "nul\\x00byte"),
        ("Kund AB", "Kund AB"),
        ("1001", "1001"),
        ("", ""),
    ],
)
def test_csv_cells_are_never_formulas_nor_nul(raw: str, cell: str) -> None:
    assert csv_cell(raw) == cell
