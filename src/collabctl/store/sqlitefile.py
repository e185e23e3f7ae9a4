"""The SQLite database file: found, created (only when asked), opened, and explained.

collabctl creates a SQLite file in two cases only: the embedded default on first
use, and ``db upgrade`` for a file a URL names. Everything else opens an existing
file and fails with "no database at PATH" rather than create one at a mistyped
path. Modes are set only on files and directories collabctl itself creates (the
file 0600, its directory 0700 when made for it); an owner's own choice (0400 on
the file, 0500 on the directory) stays as it is, and so does anything a URL
names that collabctl did not create (a device file, a shared directory).
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path
from urllib.parse import quote

from collabctl.domain.errors import DatabaseUnavailable

#: what stat calls things that are not regular files, for messages
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
)


def require_file(path: Path, where: str) -> None:
    """Refuse a path that holds no database file; ``where`` says where the path came from."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        hint = (
            f"check the path in {where} (is it mistyped?); collabctl creates a database by "
            "itself only at its default location"
        )
        absolute = Path("/") / path
        if not path.is_absolute() and absolute.is_file():
            # sqlite:///tmp/x.db is tmp/x.db here; /tmp/x.db needs a fourth slash
            hint = (
                f"{path} is relative to the current directory; for the file {absolute}, "
                f"write the URL with four slashes: sqlite:///{absolute}"
            )
        raise DatabaseUnavailable(f"no database at {path}", hint) from None
    except OSError as exc:
        raise access_error(path, exc) from None
    _require_regular(path, mode)


def create_file(path: Path) -> None:
    """Make ``path`` an (empty) database file if there is none, private to its owner.

    Directories made for it are made 0700; an existing file or directory is left
    exactly as it is.
    """
    try:
        _make_directories(path.parent)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
        except FileExistsError:  # there already, or another process made it just now
            _require_regular(path, path.stat().st_mode)
            return
        try:
            os.fchmod(fd, 0o600)  # whatever the umask said
        finally:
            os.close(fd)
    except DatabaseUnavailable:
        raise
    except OSError as exc:
        raise access_error(path, exc) from None


def _make_directories(directory: Path) -> None:
    missing = []
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for made in reversed(missing):
        try:
            made.mkdir(mode=0o700)
        except FileExistsError:  # another process made it just now: theirs, not ours
            continue
        os.chmod(made, 0o700)  # whatever the umask said


def _require_regular(path: Path, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise DatabaseUnavailable(
        f"{path} is not a database file: it is {kind}",
        "a SQLite database is a regular file: check the path in the database URL",
    )


def connect(path: Path, timeout: float) -> sqlite3.Connection:
    """Open an existing database file for reading and writing; never create one.

    (SQLite opens a file it may not write read-only: writes then fail, and are
    explained by :func:`access_error`.)
    """
    uri = f"file:{quote(os.fspath(path))}?mode=rw"
    return sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)


# -- why a file cannot be used ---------------------------------------------------------------


def access_error(path: Path, exc: BaseException | None = None) -> DatabaseUnavailable:
    """What stops this user from using the database at ``path``, and how to fix it."""
    found = explain_access(path)
    if found is None:
        reason = getattr(exc, "strerror", None) or str(exc or "access denied")
        return DatabaseUnavailable(
            f"cannot use the database file {path}: {reason}",
            f"check the permissions of {path} and of its directory",
        )
    return DatabaseUnavailable(*found)


def explain_access(path: Path) -> tuple[str, str] | None:
    """``(message, hint)`` naming the file or directory this user cannot use, or None."""
    if not _exists(path):
        ancestor = next((p for p in path.parents if _exists(p)), None)
        if ancestor is not None and not os.access(ancestor, os.W_OK | os.X_OK):
            return (
                f"cannot create the database {path}: the directory {ancestor} "
                f"({_describe(ancestor)}) is not writable by you",
                f"set COLLABCTL_HOME to a directory of your own, or ask the owner of {ancestor} "
                f"to create {path.parent} for you",
            )
        return None
    directory = path.parent
    if not os.access(path, os.R_OK):
        return (
            f"the database file {path} ({_describe(path)}) is not readable by you",
            _foreign_hint(path),
        )
    if _read_only_mount(directory):
        return (
            f"the database {path} is on a read-only file system",
            "copy it to a writable place, or remount the file system read-write",
        )
    if not os.access(path, os.W_OK):
        if _owned_by_me(path):
            return (
                f"the database file {path} is read-only ({_describe(path)})",
                f"reads work as it is; to allow changes: chmod u+w {path}",
            )
        return (
            f"the database file {path} ({_describe(path)}) is not writable by you",
            _foreign_hint(path),
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        return (
            f"the directory {directory} ({_describe(directory)}) is not writable by you, and "
            f"SQLite keeps its journal ({path.name}-wal, {path.name}-shm) beside the database",
            f"chmod u+w {directory}"
            if _owned_by_me(directory)
            else f"ask the owner of {directory} for write access, or use a database in a "
            "directory of your own",
        )
    for suffix in ("-wal", "-shm"):
        journal = path.with_name(path.name + suffix)
        if _exists(journal) and not os.access(journal, os.R_OK | os.W_OK):
            return (
                f"the journal file {journal} ({_describe(journal)}) is not writable by you",
                _foreign_hint(journal),
            )
    return None


def _foreign_hint(path: Path) -> str:
    owner = _owner(path)
    return (
        f"run collabctl as {owner}, or have {owner} give you access (a shared group and "
        f"chmod g+rw {path}), or use a database of your own (--database-url)"
    )


def _exists(path: Path) -> bool:
    try:
        path.stat()
    except OSError:
        return False
    return True


def _owned_by_me(path: Path) -> bool:
    return path.stat().st_uid == os.geteuid()


def _owner(path: Path) -> str:
    uid = path.stat().st_uid
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"


def _describe(path: Path) -> str:
    info = path.stat()
    return f"owner {_owner(path)}, mode {stat.S_IMODE(info.st_mode):04o}"


def _read_only_mount(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False
