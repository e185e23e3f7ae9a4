"""The "did you mean" of an error: the known word closest to a mistyped one.

Pure functions over a fixed vocabulary (outcomes, checklist items, services, who
ends a collaboration, states), so that every place that refuses an unknown word
suggests the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from collabctl.domain.errors import InvalidInput

#: how alike a word must be to be suggested (difflib's ratio, 0..1)
CUTOFF = 0.6


def closest(value: object, choices: Iterable[str]) -> str | None:
    """The choice ``value`` most likely meant, or None when none is close enough.

    Case is ignored, and a word that starts one choice only (``cont`` for
    ``continue``) is taken as that choice.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    options = list(dict.fromkeys(choices))
    typed = value.strip().casefold()
    folded = {choice.casefold(): choice for choice in options}
    if typed in folded:
        return folded[typed]
    starting = [choice for key, choice in folded.items() if key.startswith(typed)]
    if len(starting) == 1 and len(typed) >= 2:
        return starting[0]
    found = difflib.get_close_matches(typed, list(folded), n=1, cutoff=CUTOFF)
    return folded[found[0]] if found else None


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """``"did you mean 'continue'? "`` or the empty string, to put in front of a hint."""
    found = closest(value, choices)
    return f"did you mean {found!r}? " if found is not None else ""


def unknown(field: str, what: str, value: object, choices: Iterable[str]) -> InvalidInput:
    """The error for a word that is not in the vocabulary: what was given, the closest
    word, and every word there is."""
    options = list(dict.fromkeys(choices))
    shown = repr(value) if isinstance(value, str) and len(value) <= 40 else "the value"
    prefix = f"{field}: " if field else ""
    return InvalidInput(
        f"{prefix}unknown {what} {shown}",
        did_you_mean(value, options) + f"choose from: {', '.join(options)}",
        details={"field": field, "text": f"unknown {what} {shown}"},
    )
