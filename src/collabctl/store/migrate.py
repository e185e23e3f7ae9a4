"""Alembic, driven from code: the migration scripts ship inside the package.

Schema revisions are compared by their position in the migration history, never
by their text ("1" is not newer than "0001"). A revision the history does not
hold is either one a newer collabctl wrote (revision ids are sequence numbers:
``NNNN_description.py``, each one past its parent) or something this collabctl
cannot place at all.
"""

from __future__ import annotations

from functools import cache

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

SCRIPT_LOCATION = "collabctl.store:migrations"

#: how a database's revision relates to this collabctl's history
EMPTY, BEHIND, CURRENT, NEWER, UNKNOWN = "empty", "behind", "current", "newer", "unknown"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def history() -> tuple[str, ...]:
    """The revision ids this collabctl knows, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    heads = script.get_heads()
    assert len(heads) == 1, f"one migration head expected, found {heads}"
    return tuple(reversed([r.revision for r in script.walk_revisions("base", heads[0])]))


def head_revision() -> str:
    return history()[-1]


def classify(revision: str | None) -> str:
    """Where ``revision`` stands against this collabctl: empty, behind, current, newer, unknown."""
    if revision is None:
        return EMPTY
    known = history()
    if revision in known:
        return CURRENT if revision == known[-1] else BEHIND
    if _sequence_number(revision) > _sequence_number(known[-1]) >= 0:
        return NEWER
    return UNKNOWN


def _sequence_number(revision: str) -> int:
    """The number a revision id is by our naming convention, or -1 when it is not one."""
    return int(revision) if revision.isascii() and revision.isdigit() else -1


def upgrade(connection: Connection, revision: str = "head") -> None:
    command.upgrade(alembic_config(connection), revision)
