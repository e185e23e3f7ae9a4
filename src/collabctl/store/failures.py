"""A database failure as a user sees it: what happened, where (no password), how to fix it.

The hint fits the failure: "check the URL" only when the server could not be
reached or refused the login; a damaged file, a full disk, a lock held too long,
a read-only or foreign file each say what to do about that.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Protocol

from collabctl.domain.errors import CollabError, DatabaseUnavailable, PermissionDenied
from collabctl.store.sqlitefile import explain_access


class Database(Protocol):
    """What a failure's message and hint name of the database (``database.Database`` has it):
    this module is what ``Database.translate`` calls, so it does not import it back."""

    display_url: str
    sqlite_path: Path | None
    busy_timeout: float

    def scrub(self, message: str) -> str: ...


CONNECTION, LOCKED, CORRUPT, FULL, READ_ONLY, ACCESS, DISK, PRIVILEGE, OTHER = (
    "connection",
    "locked",
    "corrupt",
    "full",
    "read-only",
    "access",
    "disk",
    "privilege",
    "other",
)

_DOCTOR = "`collabctl doctor` checks the setup"


def kind_of(exc: BaseException) -> str:
    """Which kind of failure ``exc`` (a driver error, SQLAlchemy's wrapper, or an OSError) is."""
    orig = getattr(exc, "orig", None) or exc
    name = getattr(orig, "sqlite_errorname", None)
    if isinstance(name, str):
        return _sqlite_kind(name)
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return _postgres_kind(sqlstate)
    if type(orig).__module__.startswith("psycopg") and type(orig).__name__ == "OperationalError":
        return CONNECTION  # no SQLSTATE: the connection itself failed or was lost
    if isinstance(orig, OSError):
        if orig.errno in (errno.ENOSPC, errno.EDQUOT):
            return FULL
        if orig.errno == errno.EROFS:
            return READ_ONLY
        if orig.errno in (errno.EACCES, errno.EPERM):
            return ACCESS
    return OTHER


def _sqlite_kind(name: str) -> str:
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return LOCKED
    if name.startswith("SQLITE_CORRUPT") or name == "SQLITE_NOTADB":
        return CORRUPT
    if name == "SQLITE_FULL":
        return FULL
    if name.startswith("SQLITE_READONLY"):
        return READ_ONLY
    if name.startswith("SQLITE_CANTOPEN") or name in ("SQLITE_PERM", "SQLITE_AUTH"):
        return ACCESS
    if name.startswith("SQLITE_IOERR"):
        return DISK
    return OTHER


def _postgres_kind(sqlstate: str) -> str:
    if sqlstate.startswith(("08", "28", "57P")) or sqlstate == "3D000":
        return CONNECTION  # connection exception, bad login, server shutting down, no such database
    if sqlstate in ("55P03", "57014", "40P01", "40001"):
        return LOCKED  # lock not available or timed out, a conflict that outlived its retries
    if sqlstate.startswith("53"):
        return FULL  # disk full, out of memory, too many connections
    if sqlstate == "25006":
        return READ_ONLY
    if sqlstate == "42501":
        return PRIVILEGE
    if sqlstate.startswith("XX"):
        return CORRUPT
    return OTHER


def translate(exc: BaseException, db: Database) -> CollabError:
    """``exc`` as the error a user sees (``database-unavailable``, or ``permission-denied``
    for what the database role may not do): the message names the database, the hint the fix.
    """
    if isinstance(exc, CollabError):
        return exc
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    reason = db.scrub(lines[0].strip() if lines else type(orig).__name__)
    kind = kind_of(exc)
    if kind == PRIVILEGE:
        # PostgreSQL's insufficient_privilege: a grant is missing, or the audit log's
        # append-only trigger refused a change
        return PermissionDenied(
            f"the database role may not do this: {reason}",
            "`collabctl doctor` shows what this role may do; the database owner grants "
            "more with `collabctl db grant ROLE --agent --apply`",
        )
    path = db.sqlite_path
    if path is not None and kind in (READ_ONLY, ACCESS):
        explained = explain_access(path)
        if explained is not None:
            return DatabaseUnavailable(*explained)
    message = f"cannot use the database {db.display_url}: {reason}"
    return DatabaseUnavailable(message, _hint(kind, path, db))


def _hint(kind: str, path: Path | None, db: Database) -> str:
    if path is not None:  # SQLite: a file on this machine
        return {
            LOCKED: f"another process held the write lock on {path} for longer than "
            f"{db.busy_timeout:g} s: wait for it to finish (a long import or bulk end?) and run "
            f"again; `fuser -v {path}` shows who has the file open",
            CORRUPT: f"{path} is damaged or is not a SQLite database: check that the URL names "
            f"the right file; restore it from a backup, or salvage what is left with "
            f"`sqlite3 {path} .recover`",
            FULL: f"the disk holding {path} is full: free some space and run again (the failed "
            "change was rolled back)",
            READ_ONLY: f"{path} cannot be written: check its permissions and those of its directory",
            ACCESS: f"check that {path} and its directory exist and are readable and writable by you",
            DISK: f"the disk holding {path} reported an error: check the disk and the file "
            "system (dmesg), then run again",
        }.get(kind, _DOCTOR)
    return {
        CONNECTION: "check the URL (host, port, user, password, database name) and that the "
        f"server is running; {_DOCTOR}",
        LOCKED: "another session held the rows this change needs for too long: run again; "
        "pg_stat_activity on the server shows who holds locks",
        CORRUPT: "the server reports damaged data: ask the database administrator",
        FULL: "the database server is out of disk space, memory or connections: ask the "
        "database administrator",
        READ_ONLY: "the server accepts no changes (a standby?): use the URL of the primary server",
    }.get(kind, _DOCTOR)
