"""Read import input as a stream of items, whatever its size.

Two forms are accepted: one JSON document (``{"offices": [...], "companies":
[...]}``, possibly pretty-printed and very large) and JSON Lines (one object a
line, either ``{"office": {...}}`` / ``{"company": {...}}`` / ``{"service":
{...}}`` or a small document of its own). The first line decides: a line that
is a whole JSON object makes the input JSON Lines. Only one item is in memory
at a time.

Input is read as bytes, by the reader that ``end --from`` uses too
(``operations.input_stream``). Each JSON Lines line is decoded and parsed on
its own, so a line that is not UTF-8, not JSON, nested too deeply, holds a number too
long to convert, NaN, or the same key twice in one object is that line's
failed item and the next line is read as usual. In a document, such an item is
skipped to its end and reported the same way; only broken JSON syntax, after
which no item boundary can be trusted, stops the reading. A leading byte-order
mark is ignored.

A document is read by ``json_document.Document``, linear in the size of its items.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from collabctl.domain.errors import InvalidInput
from collabctl.operations.importing.json_document import (
    KINDS,
    LINE_HINT,
    SECTIONS,
    Document,
    Item,
    unreadable,
)
from collabctl.operations.input_stream import InputStream, StreamReader
from collabctl.operations.strict_json import DECODER

__all__ = ["KINDS", "SECTIONS", "Item", "ItemReader", "iter_items"]

#: bytes of one ordinary read
_CHUNK = 1 << 16
#: a first line longer than this is read as a document, streamed, not as one line
_FIRST_LINE_LIMIT = 1 << 20


class ItemReader(StreamReader):
    """The items of an input stream, in order; ``None`` when the input pauses.

    A pause (a pipe or terminal with nothing more to read yet) lets the caller
    finish and report the items read so far instead of waiting. ``position``
    and ``size`` (for a regular file) let a progress display show how far it got.
    """

    def __init__(self, stream: IO[Any]) -> None:
        super().__init__(stream, _CHUNK)
        self._document: Document | None = None

    @property
    def decode_attempts(self) -> int:
        """Parse attempts of the document reader (a measure of its linearity)."""
        return self._document.attempts if self._document is not None else 0

    def __iter__(self) -> Iterator[Item | None]:
        start = _read_start(self.input)
        if start is None:
            raise InvalidInput(
                "the input is empty",
                'give a JSON document ({"companies": [...]}) or JSON Lines ({"company": ...} a line)',
            )
        initial, first_line = start
        if first_line is not None:
            yield from _json_lines(self.input, initial)
            return
        self._document = Document(initial, self.input)
        yield from self._document.items()


def iter_items(stream: IO[Any]) -> Iterator[Item]:
    """The items of a stream, without the pauses."""
    return (item for item in ItemReader(stream) if item is not None)


def _read_start(source: InputStream) -> tuple[bytes, Any] | None:
    """The start of the input, up to the end of its first non-blank line; None when empty.

    Returns the bytes read and the first line's object when that line is a whole JSON
    object (JSON Lines), else None in its place (a document).
    """
    data = b""
    while True:
        content = len(data) - len(data.lstrip())
        end = data.find(b"\n", content) if content < len(data) else -1
        if end >= 0 or len(data) > _FIRST_LINE_LIMIT:
            break
        block = source.read()
        if not block:
            break
        data += block
    if not data.strip():
        return None
    stripped = data.lstrip()
    line = stripped[: end - content] if end >= 0 else stripped
    if len(line) > _FIRST_LINE_LIMIT or not line.startswith(b"{"):
        return data, None
    try:
        value = DECODER.decode(line.decode("utf-8"))
    except (ValueError, RecursionError):
        return data, None
    return (data, value) if isinstance(value, dict) else (data, None)


# -- JSON Lines ---------------------------------------------------------------------


def _json_lines(source: InputStream, initial: bytes) -> Iterator[Item | None]:
    number = 0
    for line in source.lines(initial):
        if line is None:
            yield None
            continue
        number += 1
        assert isinstance(line, bytes)  # no limit: every line is kept
        if line.strip():
            yield from _line_items(number, line)


def _invalid(number: int, message: str, hint: str) -> Item:
    return Item("invalid", f"line {number}", None, InvalidInput(message, hint), number)


def _line_items(number: int, raw: bytes) -> Iterator[Item]:
    """The items of one line, or one ``invalid`` item when the line cannot be read."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        yield _invalid(
            number,
            f"line {number}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start + 1})",
            "save the input as UTF-8",
        )
        return
    try:
        value = DECODER.decode(text[1:] if text.startswith("\ufeff") else text)
    except (ValueError, RecursionError) as exc:
        message, hint = unreadable(exc)
        yield _invalid(number, f"line {number}: {message}", hint)
        return
    if not isinstance(value, dict):
        yield _invalid(number, f"line {number}: expected a JSON object", LINE_HINT)
        return
    try:
        items = list(_items_from_line(number, value))
    except InvalidInput as exc:
        items = [Item("invalid", f"line {number}", None, exc, number)]
    yield from items


def _items_from_line(number: int, value: dict[str, Any]) -> Iterator[Item]:
    if len(value) == 1:
        ((key, data),) = value.items()
        if key in KINDS:
            yield Item(key, f"line {number}: {key}", data, None, number)
            return
    if any(key in SECTIONS for key in value):
        for section, kind in SECTIONS.items():
            entries = value.get(section, [])
            if not isinstance(entries, list):
                raise InvalidInput(f"line {number}: {section}: expected a list")
            for index, data in enumerate(entries):
                yield Item(kind, f"line {number}: {section}[{index}]", data, None, number)
        return
    raise InvalidInput(
        f'line {number}: expected {{"office": ...}}, {{"company": ...}} or {{"service": ...}}',
        "see the import format in `collabctl import --help`",
    )
