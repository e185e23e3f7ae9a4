"""The one JSON decoder of collabctl's input (``import``, ``end --from``).

json's own parser (C), with what Python's json accepts and JSON does not
refused: NaN and Infinity, and a key twice in one object (which of the two would
count is anybody's guess). Python itself refuses an integer of more than 4300
digits; a number too large for a float (``1e999``) is read as infinity, which the
checks of the field it is in refuse, naming the field. :func:`problem` says what is
wrong with a value that could not be parsed, and how to fix it, in the same
words for every input.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["DECODER", "DuplicateKey", "NotANumber", "problem"]


class DuplicateKey(ValueError):
    """A key twice in one object."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class NotANumber(ValueError):
    """NaN or Infinity."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return obj


def _constant(name: str) -> Any:
    raise NotANumber(f"{name} is not valid JSON")


#: json's own parser (C), refusing what JSON does not allow and Python's json accepts
DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant)


def problem(exc: BaseException, hint: str) -> tuple[str, str]:
    """What is wrong with a value :data:`DECODER` could not parse, and how to fix it
    (``hint``: what the input should look like, for broken syntax)."""
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg}, column {exc.colno})", hint
    if isinstance(exc, DuplicateKey):
        key = exc.key if len(exc.key) <= 40 else exc.key[:37] + "..."
        return f"duplicate key {key!r} in one object", "each key may appear once in an object"
    if isinstance(exc, NotANumber):
        return str(exc), "use a finite number, or null"
    if isinstance(exc, RecursionError):
        return "nested too deeply to read", "an item nests a few levels, not hundreds"
    if "integer string conversion" in str(exc):
        return "a number has too many digits", "numbers have at most 4300 digits"
    return f"cannot be read ({str(exc).split(';')[0]})", hint
