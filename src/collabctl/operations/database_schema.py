"""The database a command talks to, and its schema revision (``db upgrade``, ``db current``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collabctl.config import resolve_database_url
from collabctl.domain.errors import CollabError, SchemaOutdated
from collabctl.store.database import HEAD_REVISION, Database, SchemaStatus

__all__ = [
    "HEAD_REVISION",
    "Database",
    "SchemaReport",
    "SchemaStatus",
    "database_error",
    "open_database",
    "status",
    "upgrade",
]


def open_database(option: str | None, config: dict[str, Any]) -> Database:
    """The database named by ``--database-url``, the environment, config.toml, or the default.

    Nothing is connected yet: the first session does.
    """
    resolved = resolve_database_url(option, config)
    return Database(resolved.url, embedded=resolved.embedded, source=resolved.source)


def database_error(db: Database, exc: BaseException) -> CollabError | None:
    """A database library's failure as the error a user sees; None for any other failure."""
    from sqlalchemy.exc import SQLAlchemyError

    return db.translate(exc) if isinstance(exc, SQLAlchemyError) else None


def upgrade(db: Database) -> dict[str, Any]:
    """Upgrade the schema to the newest revision. Keys: database, before, after, head.

    A schema this collabctl cannot place (upgraded by a newer collabctl, or a revision
    not in its history) is ``schema-outdated`` and stays as it is.
    """
    before = db.upgrade()  # read under the migration lock: right also when upgrades race
    return {
        "database": db.display_url,
        "before": before,
        "after": db.current_revision(),
        "head": HEAD_REVISION,
    }


@dataclass(frozen=True)
class SchemaReport:
    """What ``db current`` says: the revision, where it stands, and whether collabctl can use it."""

    database: str
    found: SchemaStatus
    source: str

    def to_dict(self) -> dict[str, Any]:
        """Keys: database, revision, head, current, state."""
        return {
            "database": self.database,
            "revision": self.found.revision,
            "head": self.found.head,
            "current": self.found.current,
            "state": self.found.state,
        }

    @property
    def line(self) -> str:
        """One line for people: ``0002 (head 0003): outdated: run `collabctl db upgrade```."""
        return f"{self.found.revision or 'empty'} (head {self.found.head}): {self.found.note}"

    @property
    def refusal(self) -> SchemaOutdated | None:
        """The error for a schema no command of this collabctl can use (newer or unknown);
        None for one it uses or can upgrade."""
        if self.found.state in ("newer", "unknown"):
            return self.found.error(self.source)
        return None


def status(db: Database) -> SchemaReport:
    """The schema revision and its place in this collabctl's migration history."""
    return SchemaReport(db.display_url, db.schema_status(), db.source)
