"""Validation of keys, identifiers and text: customer and organisation numbers, e-mail,
names, times, free JSON. Pure rules, no I/O.

Every function takes the value and the field it came from, returns the value in
its stored form, and raises :class:`InvalidInput` as ``"FIELD: problem"`` (just
``"problem"`` when the field is empty, which is how the import's input models
put the path in front themselves).

Keys are ASCII digits only: ``str.isdigit`` and ``\\d`` also accept full-width
(``１``) and Arabic-Indic (``٥``) digits, which would make lookalike keys.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from collabctl.domain.errors import InvalidInput
from collabctl.domain.suggest import did_you_mean

_CUSTOMER_RE = re.compile(r"[0-9]{1,10}")
_ORG_RE = re.compile(r"([0-9]{6})-?([0-9]{4})")
# Deliberately simple: one @, no spaces, a dot in the domain. Delivery is not our job.

ROLES = ("administrator", "user", "auditor")
#: who a collaboration is ended by: one of its two parties
ENDED_BY = ("customer", "office")
#: how deep a free JSON value (a record's payload) may nest
MAX_JSON_DEPTH = 64
_TIME_HINT = "use ISO 8601, e.g. 2024-01-31T09:00:00Z"
_TEXT_PROBLEM = "contains a NUL character, a lone surrogate or bytes that are not UTF-8"
_TEXT_HINT = "remove the character, or save the input as UTF-8"


def problem(field: str, text: str, hint: str | None = None) -> InvalidInput:
    """The error for ``field``: ``"field: text"``, or the text alone without a field.

    ``details`` keeps the two apart, so a caller can put its own path in front.
    """
    return InvalidInput(
        f"{field}: {text}" if field else text, hint, details={"field": field, "text": text}
    )


def show(value: object, limit: int = 40) -> str:
    """A short, safe rendering of a value for an error message (never a huge or deep repr)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool) or value is None:
        return "true" if value is True else "false" if value is False else "null"
    if isinstance(value, int) and value.bit_length() > 128:
        return "a very large number"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: a digit doubled, with the digits of the result added (Luhn)
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


#: the largest count a command takes (``--limit``): 2^31, so it fits every database's
#: integers and never reaches a driver as an overflow
MAX_COUNT = 2**31


def count(value: int, option: str, example: str) -> int:
    """A count from the command line: 1 to :data:`MAX_COUNT`, or ``invalid-input``."""
    if not 1 <= value <= MAX_COUNT:
        raise InvalidInput(
            f"{option}: {value} is not a count from 1 to {MAX_COUNT}",
            f"e.g. {option} {example}",
        )
    return value


def luhn_valid(digits: str) -> bool:
    """The Luhn mod-10 check over a string of digits (Swedish org and personal numbers)."""
    total = sum(map(int, digits[-1::-2])) + sum(_DOUBLED[int(c)] for c in digits[-2::-2])
    return total % 10 == 0


def readable_text(value: str) -> bool:
    """Whether a string can be stored as text: no NUL, no lone surrogate.

    A lone surrogate comes from a ``\\ud800`` escape in JSON or from bytes that
    were not UTF-8 (decoded with ``surrogateescape``); PostgreSQL refuses both,
    and NUL as well, so they are refused on every backend.
    """
    if value.isascii():
        return "\x00" not in value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def text(value: object, field: str = "", *, max_length: int | None = None) -> str:
    """A non-empty string, stripped, that can be stored as text (and fits its column)."""
    if not isinstance(value, str):
        raise problem(field, f"expected a non-empty string, found {show(value)}")
    stripped = value.strip()
    if not stripped:
        raise problem(field, "expected a non-empty string")
    if not readable_text(stripped):
        raise problem(field, _TEXT_PROBLEM, _TEXT_HINT)
    if max_length is not None and len(stripped) > max_length:
        raise problem(
            field,
            f"longer than {max_length} characters ({len(stripped)})",
            f"shorten it to at most {max_length} characters",
        )
    return stripped


def customer_number(value: object, field: str = "customer_number") -> str:
    """A customer number: 1–10 ASCII digits, kept as a string so leading zeros survive."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**10:
        return str(value)
    text_value = value.strip() if isinstance(value, str) else ""
    if not _CUSTOMER_RE.fullmatch(text_value):
        raise problem(
            field,
            f"{show(value)} is not a customer number",
            "a customer number is 1 to 10 digits (0-9), e.g. 1001 or 0042",
        )
    return text_value


def org_number(value: object, field: str = "org_number") -> str:
    """A Swedish organisation number, accepted with or without the dash, returned with it."""
    text_value = value.strip() if isinstance(value, str) else ""
    match = _ORG_RE.fullmatch(text_value)
    if not match:
        raise problem(
            field,
            f"{show(value)} is not an organisation number",
            "write it as NNNNNN-NNNN, e.g. 556036-0793",
        )
    digits = match.group(1) + match.group(2)
    if not luhn_valid(digits):
        raise problem(
            field,
            f"{text_value} has a wrong check digit",
            "the last digit is a Luhn mod-10 check over all ten digits; check for a typo",
        )
    return f"{match.group(1)}-{match.group(2)}"


@functools.cache
def _email_validator() -> tuple[type[Exception], Callable[..., Any]]:
    """email-validator's error and check, imported on the first address (not at start,
    which most commands make without one), then kept: a ``from ... import`` of a
    package's names in the function itself cost a microsecond or two on every address."""
    from email_validator import EmailNotValidError, validate_email

    return EmailNotValidError, validate_email


def email(value: object, field: str = "email") -> str:
    """One bare address (``anna@example.se``), checked by email-validator's parser of RFC
    5321/5322 (no display name, no list, no control character); kept as written."""
    not_valid, validate_email = _email_validator()

    text_value = value.strip() if isinstance(value, str) else ""
    try:
        if not text_value or not readable_text(text_value):
            raise not_valid("unreadable")
        validate_email(text_value, check_deliverability=False, allow_display_name=False)
    except not_valid:
        raise problem(
            field, f"{show(value)} is not an e-mail address", "e.g. anna@example.se"
        ) from None
    return text_value


def email_key(value: str) -> str:
    """E-mail addresses are compared case-insensitively within a company."""
    return value.strip().casefold()


def role(value: object, field: str = "role") -> str:
    if value not in ROLES:
        raise problem(
            field,
            f"{show(value)} is not a role",
            did_you_mean(value, ROLES) + f"use one of: {', '.join(ROLES)}",
        )
    return str(value)


def choice(value: object, choices: tuple[str, ...], field: str = "") -> str:
    """One of a fixed set of words (a state, an outcome, who ended it)."""
    if not isinstance(value, str) or value not in choices:
        raise problem(field, f"{show(value)} is not allowed", f"use one of: {', '.join(choices)}")
    return value


def name(value: object, field: str = "name") -> str:
    if not isinstance(value, str) or not value.strip():
        raise problem(field, "a non-empty name is required")
    return text(value, field)


def format_timestamp(moment: datetime) -> str:
    """The stored form of a time: fixed-width ISO 8601 in UTC, which sorts as text."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    m = moment.astimezone(UTC)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond:06d}Z"
    )


def timestamp(value: object, field: str = "timestamp") -> str:
    """Any ISO-8601 time (a date alone means midnight UTC) in the stored fixed-width form.

    A time whose UTC equivalent falls outside years 1–9999 (``0001-01-01T00:00:00+05:00``)
    is refused like any other invalid time.
    """
    if not isinstance(value, str) or not value.strip():
        raise problem(field, f"{show(value)} is not a time", _TIME_HINT)
    stripped = value.strip()
    if stripped.endswith(("Z", "z")):
        stripped = stripped[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        raise problem(field, f"{show(value)} is not a time", _TIME_HINT) from None
    try:
        return format_timestamp(moment)
    except OverflowError:
        raise problem(
            field, f"{show(value)} is out of range", "use a time in years 1 to 9999 (UTC)"
        ) from None


def json_value(value: object, field: str = "") -> None:
    """Check a free JSON value (a record's payload) can be stored on every backend.

    Refuses NaN and infinite numbers (not JSON; PostgreSQL refuses them), strings
    and keys that are not storable text, and nesting deeper than MAX_JSON_DEPTH.
    Walks without recursion, so a deep value is refused rather than crashing.
    """
    stack: list[tuple[object, str, int]] = [(value, field, 0)]
    while stack:
        current, path, depth = stack.pop()
        if isinstance(current, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise problem(
                    field,  # the whole path would be as deep as the value
                    f"nested deeper than {MAX_JSON_DEPTH} levels",
                    "keep free data a few levels deep",
                )
            if isinstance(current, list):
                stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(current))
                continue
            for key, item in current.items():
                if not isinstance(key, str) or not readable_text(key):
                    raise problem(path, f"the key {show(key)} is not storable text", _TEXT_HINT)
                stack.append((item, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(current, float):
            if not math.isfinite(current):
                raise problem(path, f"{current} is not a JSON number", "use a finite number")
        elif isinstance(current, str):
            if not readable_text(current):
                raise problem(path, _TEXT_PROBLEM, _TEXT_HINT)
        elif not (current is None or isinstance(current, int)):
            raise problem(path, f"{show(current)} is not a JSON value", "use JSON values only")
