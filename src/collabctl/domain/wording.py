"""Words about numbers: "1 problem", "2 problems", never "problem(s)"."""

from __future__ import annotations


def counted(count: int, word: str, plural: str | None = None) -> str:
    """``1 item``, ``2 items``; ``plural`` for a word that is not made plural with an s."""
    if count == 1:
        return f"{count} {word}"
    return f"{count} {plural if plural is not None else word + 's'}"
