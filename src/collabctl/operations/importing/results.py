"""What importing one item did: the changes it made, or why it failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collabctl.domain.errors import CollabError


class Changes(list[str]):
    """What one item changed: a line a change, as the import reports it, and for the
    audit log the fields each updated row had ``before`` and has ``after``, by row."""

    __slots__ = ("after", "before")  # two per item: made quickly

    def __init__(self, *lines: str) -> None:
        super().__init__(lines)
        self.before: dict[str, dict[str, Any]] = {}
        self.after: dict[str, dict[str, Any]] = {}

    def record(self, row: str, before: dict[str, Any], after: dict[str, Any]) -> None:
        # a field changed twice in one item keeps its first value as the one before
        for key, value in before.items():
            self.before.setdefault(row, {}).setdefault(key, value)
        self.after.setdefault(row, {}).update(after)

    def update(self, label: str, current: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
        """Note the fields of ``wanted`` that differ from ``current``; returns their names."""
        changed = [key for key, value in wanted.items() if current[key] != value]
        if changed:
            self.append(f"updated {label} ({', '.join(changed)})")
            self.record(label, {k: current[k] for k in changed}, {k: wanted[k] for k in changed})
        return changed

    def details(self) -> dict[str, Any]:
        """For the audit event: the lines, and the values of the fields that were updated."""
        details: dict[str, Any] = {"changes": list(self)}
        if self.before:  # rows that were only created have nothing before
            details.update(before=self.before, after=self.after)
        return details


@dataclass(slots=True)
class ItemResult:
    #: service | office | company; None for input that could not be read as an item
    kind: str | None
    #: the customer number, org number or service code, whenever it could be read
    key: str | None
    #: where the item is in the input ("line 3: company"), the prefix of its errors
    where: str
    changes: Changes = field(default_factory=Changes)
    error: CollabError | None = None
    #: the line the item starts on
    line: int | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "failed"
        return "changed" if self.changes else "unchanged"

    def to_dict(self) -> dict[str, Any]:
        """One line of ``import --format jsonl``."""
        return {
            "line": self.line,
            "kind": self.kind,
            "key": self.key,
            "status": self.status,
            "changes": list(self.changes),
            "error": self.error.to_dict() if self.error else None,
        }
