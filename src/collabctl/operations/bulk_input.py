"""The input of ``end --from``: lines read from a stream, each parsed on its own.

A line is a bare customer number or a JSON object with any of
:data:`ITEM_KEYS`; blank lines and lines starting with ``#`` are skipped. Any
fault of one line (bad UTF-8, a NUL, JSON nested too deep, a number of
thousands of digits, NaN, a lone surrogate, a value too long) is that line's
``invalid-input``, never the run's: :func:`parse_line` raises nothing else.
A UTF-8 byte-order mark is accepted at the start of the input, as import
accepts it; anywhere else it is part of the line.
"""

from __future__ import annotations

import json
import math
import os
import select
import stat
from collections.abc import Iterator
from dataclasses import replace
from typing import IO, Any

from collabctl.domain import validation
from collabctl.domain.errors import CollabError, InvalidInput
from collabctl.operations.preflight import EndRequest, check_reason

ITEM_KEYS = ("customer_number", "service", "outcome", "by", "reason", "confirm", "force")
#: The longest line read (bytes); a longer one is skipped and reported as invalid.
MAX_LINE = 1 << 20
#: A JSON number with more digits than this is no customer number nor anything else here.
MAX_DIGITS = 40
_BOM = "\ufeff"
_BOM_BYTES = _BOM.encode("utf-8")
_LINE_HINT = 'a line is a customer number or a JSON object such as {"customer_number": "1001"}'


class OverlongLine:
    """Stands for a line longer than :data:`MAX_LINE`, which is not kept in memory."""

    __slots__ = ("length",)

    def __init__(self, length: int) -> None:
        self.length = length


Line = str | bytes | OverlongLine


class LineReader:
    """The lines of a stream, read in large blocks, without a leading byte-order mark.

    Yields ``None`` whenever the input is a pipe or terminal with no further
    line ready yet, so that the items read so far can be finished (and their
    results shown) instead of waiting for the producer. ``position`` and
    ``size`` (for regular files) let a progress display show how far it got.
    """

    BLOCK = 1 << 16

    def __init__(self, stream: IO[Any]) -> None:
        self.stream = stream
        self.position = 0
        self.size: int | None = None
        self._fd: int | None = None
        self._regular = False
        try:
            fd = stream.fileno()
            info = os.fstat(fd)
        except (AttributeError, OSError, ValueError):  # in-memory streams (tests, libraries)
            return
        self._fd = fd
        self._regular = stat.S_ISREG(info.st_mode)
        if self._regular:
            self.size = max(info.st_size - os.lseek(fd, 0, os.SEEK_CUR), 0)

    def __iter__(self) -> Iterator[Line | None]:
        return self._blocks() if self._fd is not None else self._in_memory()

    def _in_memory(self) -> Iterator[Line]:
        # the bytes under a text stream when there are any, so that a line that is not
        # UTF-8 is that line's error instead of ending the iteration
        source = getattr(self.stream, "buffer", None) or self.stream
        first = True
        for line in source:
            self.position += len(line)
            if first:
                first = False
                line = _without_bom(line)
            yield OverlongLine(len(line)) if len(line) > MAX_LINE else line

    def _blocks(self) -> Iterator[Line | None]:
        assert self._fd is not None
        fd, tail, skipped, start = self._fd, b"", 0, True
        while True:
            if not self._regular and not _ready(fd):
                yield None
            block = os.read(fd, self.BLOCK)
            if not block:
                break
            if start:  # a byte-order mark at the start of the input (maybe over two reads)
                block, tail = tail + block, b""
                if len(block) < len(_BOM_BYTES) and _BOM_BYTES.startswith(block):
                    tail = block
                    continue
                start = False
                if block.startswith(_BOM_BYTES):
                    block = block[len(_BOM_BYTES) :]
                    self.position += len(_BOM_BYTES)
            lines = (tail + block).split(b"\n") if tail else block.split(b"\n")
            tail = lines.pop()
            for line in lines:
                self.position += len(line) + 1
                if skipped:  # the end of a line too long to keep
                    yield OverlongLine(skipped + len(line))
                    skipped = 0
                else:
                    yield OverlongLine(len(line)) if len(line) > MAX_LINE else line
            if len(tail) > MAX_LINE:  # flat memory: drop it, remember only how long it was
                skipped += len(tail)
                self.position += len(tail)
                tail = b""
        if skipped:
            self.position += len(tail)
            yield OverlongLine(skipped + len(tail))
        elif tail:
            self.position += len(tail)
            yield OverlongLine(len(tail)) if len(tail) > MAX_LINE else tail


def _without_bom(line: str | bytes) -> str | bytes:
    if isinstance(line, bytes):
        return line[len(_BOM_BYTES) :] if line.startswith(_BOM_BYTES) else line
    return line[1:] if line.startswith(_BOM) else line


def _ready(fd: int) -> bool:
    """Whether reading ``fd`` would return at once (data or end of input)."""
    if os.name == "nt":  # select() does not take pipes there; never pause
        return True
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def parse_line(line: Line, defaults: EndRequest) -> EndRequest | None:
    """One input line as a request; None for a blank or comment line.

    Raises only :class:`~collabctl.domain.errors.CollabError` (``invalid-input``).
    """
    try:
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput(
                    "the line is not UTF-8 text", "save the input as UTF-8"
                ) from None
        elif isinstance(line, OverlongLine):
            raise InvalidInput(
                f"the line is {line.length} bytes long (at most {MAX_LINE})",
                "one item a line: a customer number or a small JSON object",
            )
        text = line.strip()
        if not text or text.startswith("#"):
            return None
        if not text.startswith(("{", "[")):
            # the common line of a big run: built directly, several times cheaper than
            # dataclasses.replace (a test checks that every field is carried over)
            return EndRequest(
                customer_number=validation.customer_number(text, "customer number"),
                service=defaults.service,
                outcome=defaults.outcome,
                by=defaults.by,
                confirm=defaults.confirm,
                force=defaults.force,
                reason=defaults.reason,
                backup=defaults.backup,
                collaboration_id=defaults.collaboration_id,
                schedule_id=defaults.schedule_id,
            )
        data = _load(text)
        if not isinstance(data, dict):
            raise InvalidInput("expected a JSON object", _LINE_HINT)
        unknown = sorted(set(data) - set(ITEM_KEYS))
        if unknown:
            raise InvalidInput(
                f"{_shown(unknown[0])}: unknown field", f"known fields: {', '.join(ITEM_KEYS)}"
            )
        if data.get("customer_number") is None:
            raise InvalidInput("customer_number: required field is missing", _LINE_HINT)
        # a key that is absent or null takes the value of the command-line flag
        values: dict[str, Any] = {
            key: data[key] for key in ITEM_KEYS[1:] if data.get(key) is not None
        }
        for key in ("service", "outcome", "by"):
            if key in values:
                values[key] = _text(key, values[key])
        if "reason" in values:
            check_reason(values["reason"])
        if "confirm" in values:
            confirm = values["confirm"]
            if not isinstance(confirm, list) or not all(isinstance(c, str) for c in confirm):
                raise InvalidInput(
                    "confirm: expected a list of checklist items",
                    'e.g. "confirm": ["data-synchronised"]',
                )
            values["confirm"] = tuple(_text("confirm", c) for c in confirm)
        if "force" in values and not isinstance(values["force"], bool):
            raise InvalidInput("force: expected true or false")
        return replace(
            defaults, customer_number=validation.customer_number(data["customer_number"]), **values
        )
    except CollabError:
        raise
    except RecursionError:
        raise InvalidInput("the JSON is nested too deeply", _LINE_HINT) from None
    except (ValueError, TypeError, OverflowError, UnicodeError) as exc:
        raise InvalidInput(f"not a valid item ({type(exc).__name__})", _LINE_HINT) from None


def _load(text: str) -> Any:
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON ({exc.msg})", _LINE_HINT) from None


def _int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_DIGITS:
        raise InvalidInput(f"a number of {len(digits)} digits is too long", _LINE_HINT)
    return int(digits)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInput(f"the number {text[:20]} is out of range", _LINE_HINT)
    return value


def _constant(name: str) -> Any:
    raise InvalidInput(f"{name} is not a JSON value", _LINE_HINT)


_DECODER = json.JSONDecoder(parse_int=_int, parse_float=_float, parse_constant=_constant)


def _text(key: str, value: object) -> str:
    """A short text value that is valid Unicode (it is shown back in the results)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{key}: expected a string")
    if len(value) > 100 or not _encodable(value):
        raise InvalidInput(f"{key}: {_shown(value)} is not allowed")
    return value


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(value: str) -> str:
    """A value for a message as given when it is plain, escaped and cut short when not."""
    if len(value) <= 40 and value.isprintable() and _encodable(value):
        return value
    return ascii(value[:40]) + ("…" if len(value) > 40 else "")


def identify(line: Line, defaults: EndRequest) -> tuple[str | None, str | None]:
    """The customer number and service of a line that failed, when they can be told."""
    if isinstance(line, OverlongLine):
        return None, defaults.service
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        data = _DECODER.decode(text.strip())
    except (CollabError, ValueError, RecursionError, UnicodeError, TypeError):
        return None, defaults.service
    if not isinstance(data, dict):
        return None, defaults.service
    number, service = data.get("customer_number"), data.get("service")
    if isinstance(number, int) and not isinstance(number, bool):
        number = str(number)
    return (
        number if isinstance(number, str) and len(number) <= 40 and _encodable(number) else None,
        service
        if isinstance(service, str) and len(service) <= 100 and _encodable(service)
        else defaults.service,
    )
