"""The JSON text collabctl writes: exact values, one record per line, nothing a
terminal obeys.

Names stay readable (``"Müller"``, not ``"M\\u00fcller"``), but JSON itself escapes
only the C0 controls. Written as themselves, DEL and the C1 controls
(U+007F-U+009F: U+0085 is a line break to Python's ``str.splitlines``, U+009B a
control sequence introducer to some terminals), the line and paragraph separators
U+2028/U+2029 (line breaks to many line readers) and the bidi overrides, isolates
and marks (they reorder what a person sees) would split a JSON Lines record or act
on the terminal showing it. They are written as ``\\uXXXX`` escapes: a JSON parser
reads exactly the same value.

Outside its strings JSON text is ASCII, so escaping these characters anywhere in
the encoded text escapes them inside strings only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import IO, Any

_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")

#: made once: json.dumps builds a new encoder for every call with options
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_INDENTED = json.JSONEncoder(ensure_ascii=False, indent=2).encode


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def safe(text: str) -> str:
    """``text`` (JSON text) with the characters above written as JSON escapes."""
    if text.isascii() and "\x7f" not in text:  # the common case, at once: DEL is the only one
        return text
    if _UNSAFE.search(text) is None:  # no copy either
        return text
    return _UNSAFE.sub(_escape, text)


def dumps(value: Any) -> str:
    """Compact JSON on one line: a JSON Lines record, a CSV cell's object."""
    return safe(_COMPACT(value))


#: One JSON string as JSON itself writes it, for a line written from a template: the
#: line is made :func:`safe` as a whole once it is put together. (The C function itself,
#: not a wrapper: a bulk run calls it four times a result.)
raw_string: Callable[[str], str] = encode_basestring


def dumps_indented(value: Any) -> str:
    """JSON indented by two spaces, for ``--format json`` and exported files."""
    return safe(_INDENTED(value))


def dump_indented(value: Any, handle: IO[str]) -> None:
    """:func:`dumps_indented` of ``value`` and a newline, written to ``handle``."""
    handle.write(dumps_indented(value) + "\n")
