"""Read import input as a stream of items, whatever its size.

Two forms are accepted: one JSON document (``{"offices": [...], "companies":
[...]}``, possibly pretty-printed and very large) and JSON Lines (one object a
line, either ``{"office": {...}}`` / ``{"company": {...}}`` / ``{"service":
{...}}`` or a small document of its own). The first line decides: a line that
is a whole JSON object makes the input JSON Lines. Only one item is in memory
at a time.

Input is read as bytes. Each JSON Lines line is decoded and parsed on its own,
so a line that is not UTF-8, not JSON, nested too deeply, holds a number too
long to convert, NaN, or the same key twice in one object is that line's
failed item and the next line is read as usual. In a document, such an item is
skipped to its end and reported the same way; only broken JSON syntax, after
which no item boundary can be trusted, stops the reading. A leading byte-order
mark is ignored.

A document's items are parsed from a buffer that grows geometrically while it
ends inside the item, so a large item costs a logarithmic number of parse
attempts, each on twice the text of the one before: linear in its size.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
import select
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from collabctl.domain.errors import InvalidInput

#: document key -> item kind (also the JSON Lines key of one item)
SECTIONS = {"services": "service", "offices": "office", "companies": "company"}
KINDS = tuple(SECTIONS.values())
_CHUNK = 1 << 16
#: a first line longer than this is read as a document, streamed, not as one line
_FIRST_LINE_LIMIT = 1 << 20
_BOM = b"\xef\xbb\xbf"
_FORMAT_HINT = "the input must be a JSON document or JSON Lines"
_LINE_HINT = "each line must be one JSON object"
_WHITESPACE = re.compile(r"[ \t\r\n]*")
_BRACKET_OR_QUOTE = re.compile(r'["\[\]{}]')
_STRING_REST = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_SCALAR = re.compile(r"[^,\]}\s]*")


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


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _NotANumber(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _constant(name: str) -> Any:
    raise _NotANumber(name)


#: json's own parser (C), refusing what JSON does not allow and Python's json accepts
_decoder = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant)


def unreadable(exc: BaseException) -> tuple[str, str]:
    """What is wrong with a value that could not be parsed, and how to fix it."""
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg}, column {exc.colno})", _LINE_HINT
    if isinstance(exc, _DuplicateKey):
        key = exc.key if len(exc.key) <= 40 else exc.key[:37] + "..."
        return f"duplicate key {key!r} in one object", "each key may appear once in an object"
    if isinstance(exc, _NotANumber):
        return f"{exc} is not valid JSON", "use a finite number, or null"
    if isinstance(exc, RecursionError):
        return "nested too deeply to read", "an item nests a few levels, not hundreds"
    if "integer string conversion" in str(exc):
        return "a number has too many digits", "numbers have at most 4300 digits"
    return f"cannot be read ({str(exc).split(';')[0]})", _LINE_HINT


# -- bytes in -----------------------------------------------------------------------


class _Source:
    """The input's bytes, read in blocks; how far it got, and the size of a regular file."""

    def __init__(self, stream: IO[Any]) -> None:
        self.stream = stream  # kept open as long as it is read
        self.position = 0
        self.size: int | None = None
        self._fd: int | None = None
        self._regular = True
        self._read: Callable[[int], bytes]
        try:
            fd = stream.fileno()
            info = os.fstat(fd)
        except (AttributeError, OSError, ValueError):  # in-memory streams (tests, libraries)
            buffer = getattr(stream, "buffer", None)
            if buffer is not None:
                self._read = buffer.read
            elif isinstance(stream.read(0), bytes):
                self._read = stream.read
            else:  # text: lone surrogates stay visible as bytes that are not UTF-8
                self._read = lambda n: stream.read(n).encode("utf-8", "surrogatepass")
            return
        self._fd = fd
        self._regular = stat.S_ISREG(info.st_mode)
        if self._regular:
            self.size = max(info.st_size - os.lseek(fd, 0, os.SEEK_CUR), 0)
        self._read = lambda n: os.read(fd, n)

    def read(self, size: int | None = None) -> bytes:
        data = self._read(size or _CHUNK)
        self.position += len(data)
        return data

    def ready(self) -> bool:
        """Whether a read would return at once (data or end of input)."""
        if self._regular or self._fd is None or os.name == "nt":
            return True
        try:
            return bool(select.select([self._fd], [], [], 0)[0])
        except (OSError, ValueError):
            return True


class ItemReader:
    """The items of an input stream, in order; ``None`` when the input pauses.

    A pause (a pipe or terminal with nothing more to read yet) lets the caller
    finish and report the items read so far instead of waiting. ``position``
    and ``size`` (for a regular file) let a progress display show how far it got.
    """

    def __init__(self, stream: IO[Any]) -> None:
        self._source = _Source(stream)
        self._document: _Document | None = None

    @property
    def position(self) -> int:
        return self._source.position

    @property
    def size(self) -> int | None:
        return self._source.size

    @property
    def decode_attempts(self) -> int:
        """Parse attempts of the document reader (a measure of its linearity)."""
        return self._document.attempts if self._document is not None else 0

    def __iter__(self) -> Iterator[Item | None]:
        start = _read_start(self._source)
        if start is None:
            raise InvalidInput(
                "the input is empty",
                'give a JSON document ({"companies": [...]}) or JSON Lines ({"company": ...} a line)',
            )
        initial, first_line = start
        if first_line is not None:
            yield from _json_lines(self._source, initial)
            return
        self._document = _Document(initial, self._source)
        yield from self._document.items()


def iter_items(stream: IO[Any]) -> Iterator[Item]:
    """The items of a stream, without the pauses."""
    return (item for item in ItemReader(stream) if item is not None)


def _read_start(source: _Source) -> tuple[bytes, Any] | None:
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
        if not data and block.startswith(_BOM):
            block = block[len(_BOM) :]
        data += block
    if not data.strip():
        return None
    stripped = data.lstrip()
    line = stripped[: end - content] if end >= 0 else stripped
    if len(line) > _FIRST_LINE_LIMIT or not line.startswith(b"{"):
        return data, None
    try:
        value = _decoder.decode(line.decode("utf-8"))
    except (ValueError, RecursionError):
        return data, None
    return (data, value) if isinstance(value, dict) else (data, None)


# -- JSON Lines ---------------------------------------------------------------------


def _json_lines(source: _Source, initial: bytes) -> Iterator[Item | None]:
    number = 0
    for line in _lines(source, initial):
        if line is None:
            yield None
            continue
        number += 1
        if line.strip():
            yield from _line_items(number, line)


def _lines(source: _Source, initial: bytes) -> Iterator[bytes | None]:
    """Lines without their ending; ``None`` whenever the source has nothing ready yet."""
    tail: list[bytes] = []
    block = initial
    while True:
        if block:
            parts = block.split(b"\n")
            if len(parts) > 1:
                tail.append(parts[0])
                yield b"".join(tail)
                yield from parts[1:-1]
                tail = []
            last = parts[-1]
            if last:
                tail.append(last)
        if not source.ready():
            yield None
        block = source.read()
        if not block:
            break
    if tail:
        yield b"".join(tail)


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
        value = _decoder.decode(text[1:] if text.startswith("\ufeff") else text)
    except (ValueError, RecursionError) as exc:
        message, hint = unreadable(exc)
        yield _invalid(number, f"line {number}: {message}", hint)
        return
    if not isinstance(value, dict):
        yield _invalid(number, f"line {number}: expected a JSON object", _LINE_HINT)
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


# -- a document ---------------------------------------------------------------------


class _BadValue(Exception):
    """One entry of a document cannot be read; the reader is already past it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class _Document:
    """A moving window over a document's text, with line numbers."""

    def __init__(self, initial: bytes, source: _Source) -> None:
        self.source = source
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.buf = self.decoder.decode(initial)
        self.pos = 0
        self.eof = False
        self.attempts = 0
        self._line_no = 1  # the line of buf[_line_pos]
        self._line_pos = 0

    # the window

    def _more(self, at_least: int = _CHUNK) -> bool:
        """Read at least ``at_least`` more bytes; drop what is consumed. False at the end."""
        if self.eof:
            return False
        data = self.source.read(max(_CHUNK, at_least))
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
                value, end = _decoder.raw_decode(self.buf, self.pos)
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
