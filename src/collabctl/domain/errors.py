"""Error types with stable codes, and the exit code each code maps to.

Every failure a user can see is a :class:`CollabError`. The command line
turns it into ``error[CODE]: message`` plus a ``hint:`` line and an exit code;
scripts rely on the codes, so they never change meaning.
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_RULE = 1
EXIT_USAGE = 2
EXIT_DATABASE = 3
EXIT_PARTIAL = 4
EXIT_INTERRUPTED = 130

#: code -> exit code. Domain refusals are 1, bad input 2, storage problems 3.
EXIT_CODES: dict[str, int] = {
    "not-found": EXIT_RULE,
    "already-ended": EXIT_RULE,
    "not-a-party": EXIT_RULE,
    "main-contact-missing": EXIT_RULE,
    "outcome-not-allowed": EXIT_RULE,
    "checklist-incomplete": EXIT_RULE,
    "read-only": EXIT_RULE,
    "duplicate": EXIT_RULE,
    "auditor-cannot-be-main-contact": EXIT_RULE,
    "conflict": EXIT_RULE,
    "main-contact-required": EXIT_RULE,
    "permission-denied": EXIT_RULE,
    "audit-tampered": EXIT_RULE,
    "invalid-input": EXIT_USAGE,
    "database-unavailable": EXIT_DATABASE,
    "schema-outdated": EXIT_DATABASE,
    "config-invalid": EXIT_DATABASE,
    "smtp-insecure": EXIT_DATABASE,
}


class CollabError(Exception):
    """A failure with a stable code, a message and a hint that says how to fix it."""

    code = "invalid-input"
    #: the keys of ``details`` that the JSON error (``--format json``) carries too
    shown: tuple[str, ...] = ()

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if self.code not in EXIT_CODES:
            raise ValueError(f"unknown error code {self.code!r}")
        self.message = message
        self.hint = hint
        self.details = details or {}

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.code]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "hint": self.hint}

    def shown_details(self) -> dict[str, Any]:
        return {key: self.details[key] for key in self.shown if key in self.details}


class NotFound(CollabError):
    code = "not-found"


class AlreadyEnded(CollabError):
    code = "already-ended"


class NotAParty(CollabError):
    code = "not-a-party"


class MainContactMissing(CollabError):
    code = "main-contact-missing"


class OutcomeNotAllowed(CollabError):
    code = "outcome-not-allowed"


class ChecklistIncomplete(CollabError):
    code = "checklist-incomplete"


class ReadOnly(CollabError):
    code = "read-only"


class Duplicate(CollabError):
    code = "duplicate"


class AuditorCannotBeMainContact(CollabError):
    code = "auditor-cannot-be-main-contact"


class InvalidInput(CollabError):
    code = "invalid-input"


class Conflict(CollabError):
    code = "conflict"


class MainContactRequired(CollabError):
    """The change would leave the company without its main contact (demote or remove)."""

    code = "main-contact-required"


class PermissionDenied(CollabError):
    """The database role may not do this (PostgreSQL's insufficient_privilege)."""

    code = "permission-denied"


class AuditTampered(CollabError):
    """The audit log does not match its hash chains, or an earlier digest of them."""

    code = "audit-tampered"
    shown = ("problems", "problem_count")


class DatabaseUnavailable(CollabError):
    code = "database-unavailable"


class SchemaOutdated(CollabError):
    code = "schema-outdated"


class ConfigInvalid(CollabError):
    """config.toml or the catalogue file it names cannot be used as it is."""

    code = "config-invalid"


class SmtpInsecure(CollabError):
    """collabctl would have to send a password over an unencrypted connection."""

    code = "smtp-insecure"


class UsageError(Exception):
    """Input is missing and collabctl may not prompt for it (exit 2)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class Cancelled(Exception):
    """The person at the terminal said no; nothing was changed (exit 1)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
