"""The input of ``end --from``: lines read from a stream, each parsed on its own.

A line is a bare customer number or a JSON object with any of
:data:`ITEM_KEYS`; blank lines and lines starting with ``#`` are skipped. Any
fault of one line (bad UTF-8, a NUL, JSON nested too deep, a number of
thousands of digits, NaN, a key twice, a lone surrogate, a value too long) is
that line's ``invalid-input``, never the run's: :func:`parse_line` raises
nothing else. The JSON is read by the decoder of all collabctl's input
(:mod:`collabctl.operations.strict_json`), as ``import`` reads it.
A UTF-8 byte-order mark is accepted at the start of the input, as import
accepts it; anywhere else it is part of the line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from collabctl.domain import validation
from collabctl.domain.errors import CollabError, InvalidInput
from collabctl.operations.input_stream import OverlongLine, StreamReader
from collabctl.operations.preflight import EndRequest, check_reason
from collabctl.operations.strict_json import DECODER, problem

__all__ = ["ITEM_KEYS", "MAX_LINE", "Line", "LineReader", "OverlongLine", "identify", "parse_line"]

ITEM_KEYS = ("customer_number", "service", "outcome", "by", "reason", "confirm", "force")
#: The longest line read (bytes); a longer one is skipped and reported as invalid.
MAX_LINE = 1 << 20
_LINE_HINT = 'a line is a customer number or a JSON object such as {"customer_number": "1001"}'


Line = str | bytes | OverlongLine


class LineReader(StreamReader):
    """The lines of a stream (:meth:`InputStream.lines
    <collabctl.operations.input_stream.InputStream.lines>`): bytes without their ``\\n``,
    a line longer than :data:`MAX_LINE` as an :class:`OverlongLine`, and ``None``
    whenever the input is a pipe or terminal with no further line ready yet, so that
    the items read so far can be finished (and their results shown) instead of waiting
    for the producer. ``position`` and ``size`` (for regular files) let a progress
    display show how far it got.
    """

    def __iter__(self) -> Iterator[Line | None]:
        return self.input.lines(limit=MAX_LINE)


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
        return DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        message, hint = problem(exc, _LINE_HINT)
        raise InvalidInput(message, hint) from None


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
        data = DECODER.decode(text.strip())
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
