"""Read import input as a stream of items, whatever its size.

Two forms are accepted: one JSON document (``{"offices": [...], "companies":
[...]}``, possibly pretty-printed and very large) and JSON Lines (one object a
line, either ``{"office": {...}}`` / ``{"company": {...}}`` / ``{"service":
{...}}`` or a small document of its own). Only one item is in memory at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from collabctl.domain.errors import InvalidInput

#: document key -> (JSON Lines key, item kind)
SECTIONS = {"services": "service", "offices": "office", "companies": "company"}
KINDS = tuple(SECTIONS.values())
_CHUNK = 1 << 16
_decoder = json.JSONDecoder()


@dataclass(frozen=True)
class Item:
    kind: str  # service | office | company | invalid
    where: str  # "line 3: company" or "companies[7]": prefix for error messages
    data: Any
    #: Set on an ``invalid`` item: a JSON Lines line that cannot be read. Each line stands
    #: alone, so it is reported as a failed item and the lines after it are still read.
    error: InvalidInput | None = None


def iter_items(stream: TextIO) -> Iterator[Item]:
    first = _first_meaningful_line(stream)
    if first is None:
        return
    line_number, line = first
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        value = None
    if isinstance(value, dict):
        yield from _line_items(line_number, value)
        yield from _json_lines(stream, line_number)
    else:
        yield from _document(line, stream, line_number)


def _first_meaningful_line(stream: TextIO) -> tuple[int, str] | None:
    for number, line in enumerate(stream, start=1):
        if line.strip():
            return number, line
    return None


def _items_from_line(number: int, value: dict[str, Any]) -> Iterator[Item]:
    if len(value) == 1:
        ((key, data),) = value.items()
        if key in KINDS:
            yield Item(key, f"line {number}: {key}", data)
            return
    if any(key in SECTIONS for key in value):
        for section, kind in SECTIONS.items():
            entries = value.get(section, [])
            if not isinstance(entries, list):
                raise InvalidInput(f"line {number}: {section}: expected a list")
            for index, data in enumerate(entries):
                yield Item(kind, f"line {number}: {section}[{index}]", data)
        return
    raise InvalidInput(
        f'line {number}: expected {{"office": ...}}, {{"company": ...}} or {{"service": ...}}',
        "see the import format in `collabctl import --help`",
    )


def _json_lines(stream: TextIO, after: int) -> Iterator[Item]:
    for number, line in enumerate(stream, start=after + 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield _invalid(
                number,
                InvalidInput(
                    f"line {number}: not valid JSON ({exc.msg}, column {exc.colno})",
                    "each line must be one JSON object",
                ),
            )
            continue
        if not isinstance(value, dict):
            yield _invalid(
                number,
                InvalidInput(
                    f"line {number}: expected a JSON object", "each line must be one JSON object"
                ),
            )
            continue
        yield from _line_items(number, value)


def _invalid(number: int, error: InvalidInput) -> Item:
    return Item("invalid", f"line {number}", None, error)


def _line_items(number: int, value: dict[str, Any]) -> Iterator[Item]:
    """The items of one line, or one ``invalid`` item when the line's shape is wrong."""
    try:
        items = list(_items_from_line(number, value))
    except InvalidInput as exc:
        items = [_invalid(number, exc)]
    yield from items


class _Reader:
    """A moving window over the stream, with the line number of its start."""

    def __init__(self, initial: str, stream: TextIO, first_line: int) -> None:
        self.buf = initial
        self.pos = 0
        self.stream = stream
        self.eof = False
        self.line = first_line

    def _more(self) -> bool:
        if self.eof:
            return False
        chunk = self.stream.read(_CHUNK)
        if not chunk:
            self.eof = True
            return False
        # drop what is consumed, keeping line numbers right
        self.line += self.buf.count("\n", 0, self.pos)
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def where(self) -> str:
        return f"line {self.line + self.buf.count(chr(10), 0, self.pos)}"

    def skip_ws(self) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def expect(self, chars: str) -> str:
        char = self.skip_ws()
        if not char or char not in chars:
            found = repr(char) if char else "end of input"
            raise InvalidInput(
                f"{self.where()}: expected {' or '.join(repr(c) for c in chars)}, found {found}",
                "the input must be a JSON document or JSON Lines",
            )
        self.pos += 1
        return char

    def value(self) -> Any:
        self.skip_ws()
        while True:
            try:
                value, end = _decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self._more():
                    continue
                raise InvalidInput(
                    f"{self.where()}: not valid JSON ({exc.msg})",
                    "the input must be a JSON document or JSON Lines",
                ) from None
            # A number or literal that touches the end of the buffer may continue in the next chunk.
            if end == len(self.buf) and not self.eof and self._more():
                continue
            self.pos = end
            return value


def _document(initial: str, stream: TextIO, first_line: int) -> Iterator[Item]:
    reader = _Reader(initial, stream, first_line)
    reader.expect("{")
    if reader.skip_ws() == "}":
        reader.pos += 1
        return
    while True:
        key = reader.value()
        if not isinstance(key, str):
            raise InvalidInput(f"{reader.where()}: expected a key")
        reader.expect(":")
        kind = SECTIONS.get(key)
        if kind is None:
            reader.value()  # metadata such as the header of an export: not imported
        else:
            reader.expect("[")
            index = 0
            if reader.skip_ws() == "]":
                reader.pos += 1
            else:
                while True:
                    reader.skip_ws()  # name the line the item starts on, not the comma's
                    where = f"{reader.where()}: {key}[{index}]"
                    yield Item(kind, where, reader.value())
                    index += 1
                    if reader.expect(",]") == "]":
                        break
        if reader.expect(",}") == "}":
            break
    if reader.skip_ws():
        raise InvalidInput(f"{reader.where()}: unexpected data after the JSON document")
