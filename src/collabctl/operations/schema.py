"""The database a command talks to, and its schema revision (``db upgrade``, ``db current``)."""

from __future__ import annotations

from typing import Any

from collabctl.config import resolve_database_url
from collabctl.domain.errors import CollabError
from collabctl.store.database import HEAD_REVISION, Database

__all__ = ["HEAD_REVISION", "Database", "database_error", "open_database", "status", "upgrade"]


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
    """Upgrade the schema to the newest revision. Keys: database, before, after, head."""
    before = db.upgrade()  # read under the migration lock: right also when upgrades race
    return {
        "database": db.display_url,
        "before": before,
        "after": db.current_revision(),
        "head": HEAD_REVISION,
    }


def status(db: Database) -> dict[str, Any]:
    """The schema revision and whether it is the newest. Keys: database, revision, head, current."""
    revision = db.current_revision()
    return {
        "database": db.display_url,
        "revision": revision,
        "head": HEAD_REVISION,
        "current": revision == HEAD_REVISION,
    }
