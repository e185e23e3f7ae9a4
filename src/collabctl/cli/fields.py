"""``--fields F1,F2,...``: which keys (machine formats) or columns (tables) a command that
prints records shows. ``handles_errors`` reads the option into ``env.fields``; the output
functions (``output.emit_rows``, ``output.emit_object``) apply it. A command takes it by
naming ``fields: FieldsOption = None`` (``cli/options.py``) in its signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collabctl.cli.tables import Column


def parse_fields(text: str | None) -> tuple[str, ...] | None:
    """``--fields F1,F2,...`` as names (None when not given)."""
    if text is None:
        return None
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not names:
        from collabctl.domain.errors import UsageError

        raise UsageError("--fields: no field named", "name fields, e.g. --fields id,name")
    return names


def check_fields(fields: Sequence[str], keys: Sequence[str]) -> None:
    """Every field is one of ``keys``: otherwise invalid-input with a did-you-mean."""
    from collabctl.domain import suggest
    from collabctl.domain.errors import UsageError

    for name in fields:
        if name not in keys:
            raise UsageError(
                f"--fields: unknown field {name!r}",
                suggest.did_you_mean(name, keys) + f"the fields: {','.join(keys)}",
            )


def selected(
    fields: Sequence[str], columns: Sequence[str], table_columns: Sequence[str | Column] | None
) -> tuple[list[str], list[str | Column]]:
    """The keys and the table's columns ``--fields`` chose, in its order."""
    check_fields(fields, columns)
    by_key = {(c if isinstance(c, str) else c.key): c for c in (table_columns or columns)}
    return list(fields), [by_key.get(name, name) for name in fields]
