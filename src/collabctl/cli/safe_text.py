"""Text from the data, made safe to show a person.

Company names, e-mails, reasons and actors come from other systems and other
people. Written raw to a terminal, an ESC sequence in one of them can clear the
screen, draw a hidden hyperlink or retitle the window, and a bidi override can
make ``1001`` read as ``1001`` while the bytes say otherwise. Every human-facing
stream (tables, messages, errors, prompts) passes its data through ``visible``,
which shows such characters as escapes (``\\x1b``, ``\\u202e``) instead of
obeying them. Machine formats are not touched: JSON writes such characters as its own
escapes (``domain/json_text.py``), and CSV goes through ``csv_cell``.
"""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls; the bidi embeddings/overrides U+202A-U+202E
# and isolates U+2066-U+2069; the invisible marks that reorder or hide text
# (U+200E/U+200F directional marks, U+061C Arabic letter mark).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_KEEP_LAYOUT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str, *, layout: bool = False) -> str:
    """``text`` with every control character shown as an escape.

    ``layout=True`` keeps newline and tab, for free text that may wrap (a
    message, a hint); cells of a table keep nothing, so one value stays on one
    line.
    """
    pattern = _UNSAFE_KEEP_LAYOUT if layout else _UNSAFE
    if pattern.search(text) is None:  # the common case: no copy, no substitution
        return text
    return pattern.sub(_escape, text)


# OWASP's advice for CSV injection: a cell that a spreadsheet would read as a
# formula (it starts with = + - @, or a tab or carriage return) gets a leading
# single quote, so it is shown as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """A CSV cell that a spreadsheet shows as text and that holds no NUL byte."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text
