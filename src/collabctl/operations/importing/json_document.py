"""Parsing the import's JSON: the item type, the strict decoder, and a document read
as a stream.

The decoder is the one of all of collabctl's input (``operations/strict_json``):
json's own (C) with NaN, Infinity and a key twice in one object refused. A document's entries
are parsed from a buffer that grows geometrically while it ends inside the
entry, so a large entry costs a logarithmic number of parse attempts, each on
twice the text of the one before: linear in its size. An entry that cannot be
read (nested too deeply, a number too long to convert, NaN, a key twice) is
skipped to its end without recursion and reported alone; only broken JSON
syntax, after which no entry boundary can be trusted, stops the reading.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from collabctl.domain.errors import InvalidInput
from collabctl.operations.strict_json import DECODER, problem

#: document key -> item kind (also the JSON Lines key of one item)
SECTIONS = {"services": "service", "offices": "office", "companies": "company"}
KINDS = tuple(SECTIONS.values())
LINE_HINT = "each line must be one JSON object"
_FORMAT_HINT = "the input must be a JSON document or JSON Lines"
_WHITESPACE = re.compile(r"[ \t\r\n]*")
_BRACKET_OR_QUOTE = re.compile(r'["\[\]{}]')
_STRING_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_SCALAR = re.compile(r"[^,\]}\s]*")


class Source(Protocol):
    """Where a document's bytes come from."""

    def read(self, size: int | None = None) -> bytes: ...

    def block(self) -> int:
        """The size of one ordinary read."""
        ...


@dataclass(frozen=True, slots=True)
class Item:
    #: service | office | company; invalid for a line that cannot be read as any of them
    kind: str
    where: str  # "line 3: company" or "line 9: companies[7]": prefix for error messages
    data: Any
    #: Set on an ``invalid`` item: a line or document entry that cannot be read. It is
    #: reported as a failed item and the items after it are still read.
    error: InvalidInput | None = None
    #: the line the item starts on
    line: int | None = None


# -- parsing one value ------------------------------------------------------------


def unreadable(exc: BaseException) -> tuple[str, str]:
    """What is wrong with a value that could not be parsed, and how to fix it."""
    return problem(exc, LINE_HINT)


# -- a document ---------------------------------------------------------------------


class _BadValue(Exception):
    """One entry of a document cannot be read; the reader is already past it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class Document:
    """A moving window over a document's text, with line numbers."""

    def __init__(self, initial: bytes, source: Source) -> None:
        self.source = source
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.buf = self.decoder.decode(initial)
        self.pos = 0
        self.eof = False
        self.attempts = 0
        self._line_no = 1  # the line of buf[_line_pos]
        self._line_pos = 0

    # the window

    def _more(self, at_least: int = 0) -> bool:
        """Read at least ``at_least`` more bytes; drop what is consumed. False at the end."""
        if self.eof:
            return False
        data = self.source.read(max(self.source.block(), at_least))
        text = self.decoder.decode(data, final=not data)
        self.eof = not data
        self.line_at(self.pos)
        self.buf = self.buf[self.pos :] + text
        self._line_pos -= self.pos
        self.pos = 0
        return bool(text)

    def line_at(self, pos: int) -> int:
        if pos >= self._line_pos:
            self._line_no += self.buf.count("\n", self._line_pos, pos)
            self._line_pos = pos
            return self._line_no
        return self._line_no - self.buf.count("\n", pos, self._line_pos)

    def stop(self, message: str, pos: int | None = None) -> InvalidInput:
        line = self.line_at(self.pos if pos is None else pos)
        return InvalidInput(f"line {line}: {message}", _FORMAT_HINT)

    def skip_ws(self) -> str:
        while True:
            self.pos = _WHITESPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def expect(self, chars: str) -> str:
        char = self.skip_ws()
        if not char or char not in chars:
            found = repr(char) if char else "end of input"
            raise self.stop(f"expected {' or '.join(repr(c) for c in chars)}, found {found}")
        self.pos += 1
        return char

    # values

    def value(self) -> Any:
        """The JSON value at the current position, parsed as a whole."""
        self.skip_ws()
        while True:
            self.attempts += 1
            try:
                value, end = DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if not self.eof and not self._definitive(exc):
                    self._more(len(self.buf) - self.pos)  # twice what is pending
                    continue
                raise self.stop(f"not valid JSON ({exc.msg})", exc.pos) from None
            except (ValueError, RecursionError) as exc:
                message, hint = unreadable(exc)
                self._skip_value()
                raise _BadValue(message, hint) from None
            # a number that touches the end of the buffer may go on in the next block
            if (
                end == len(self.buf)
                and isinstance(value, int | float)
                and not isinstance(value, bool)
                and not self.eof
            ):
                length = end - self.pos
                if self._more():
                    continue
                end = self.pos + length
            self.pos = end
            return value

    def _definitive(self, exc: json.JSONDecodeError) -> bool:
        """Whether a parse error is in the text itself, not just where the buffer ends."""
        return exc.pos + 64 < len(self.buf) and not exc.msg.startswith("Unterminated string")

    def _skip_value(self) -> None:
        """Move past the value at the current position without parsing it (no recursion)."""
        while True:
            end = _value_end(self.buf, self.pos)
            if end is not None:
                self.pos = end
                return
            if not self._more(len(self.buf) - self.pos):
                raise self.stop("not valid JSON (the input ends inside a value)")

    # the structure

    def items(self) -> Iterator[Item]:
        while True:
            yield from self._top_level()
            before = self.line_at(self.pos)
            if not self.skip_ws():
                return
            if self.line_at(self.pos) == before:
                raise self.stop("unexpected data after the JSON document")

    def _top_level(self) -> Iterator[Item]:
        self.expect("{")
        if self.skip_ws() == "}":
            self.pos += 1
            return
        seen: set[str] = set()
        while True:
            try:
                key = self.value()
            except _BadValue as bad:
                raise self.stop(bad.message) from None
            if not isinstance(key, str):
                raise self.stop("expected a key")
            if key in seen:
                raise self.stop(f"duplicate key {key!r} in the document")
            seen.add(key)
            self.expect(":")
            kind = SECTIONS.get(key)
            if kind is not None:
                yield from self._section(key, kind)
            elif key in KINDS:
                yield self._entry(key, key)
            else:
                with contextlib.suppress(_BadValue):
                    self.value()  # metadata such as the header of an export: not imported
            if self.expect(",}") == "}":
                return

    def _section(self, key: str, kind: str) -> Iterator[Item]:
        self.expect("[")
        if self.skip_ws() == "]":
            self.pos += 1
            return
        index = 0
        while True:
            yield self._entry(kind, f"{key}[{index}]")
            index += 1
            if self.expect(",]") == "]":
                return

    def _entry(self, kind: str, label: str) -> Item:
        self.skip_ws()  # name the line the item starts on, not the comma's
        line = self.line_at(self.pos)
        where = f"line {line}: {label}"
        try:
            return Item(kind, where, self.value(), None, line)
        except _BadValue as bad:
            # the entry's kind is known from its section, though its content is not
            error = InvalidInput(f"{where}: {bad.message}", bad.hint)
            return Item(kind, where, None, error, line)


def _value_end(text: str, pos: int) -> int | None:
    """Where the JSON value starting at ``pos`` ends, or None when ``text`` ends first."""
    if pos >= len(text):
        return None
    char = text[pos]
    if char == '"':
        match = _STRING_REST.match(text, pos + 1)
        return match.end() if match else None
    if char not in "[{":
        end = _SCALAR.match(text, pos).end()  # type: ignore[union-attr]
        return end if end < len(text) else None
    depth = 0
    index = pos
    while True:
        found = _BRACKET_OR_QUOTE.search(text, index)
        if found is None:
            return None
        index = found.end()
        char = found.group()
        if char == '"':
            rest = _STRING_REST.match(text, index)
            if rest is None:
                return None
            index = rest.end()
        elif char in "[{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return index
