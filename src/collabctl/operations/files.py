"""Files collabctl writes for people (exports, backups): private, whole, and only where asked.

:func:`write_private_json` is the one way such a file is written:

- the content goes to a temporary file created exclusively (``mkstemp``: a new
  name, ``O_EXCL``, mode 0600) in the target's own directory, so a file or link
  planted at a guessable temporary name is never followed or overwritten;
- the target must be absent or a regular file: a symbolic link, a directory, a
  FIFO, a device or a socket is refused with ``invalid-input`` naming it;
- an existing file is replaced only when the caller says ``overwrite``; without
  it the file appears only if nothing is there (a hard link, which never
  replaces anything, where the file system has them);
- the temporary file becomes the target by an atomic rename: a reader sees the
  old file or the whole new one, never half of it, and a failure leaves no
  temporary file behind;
- the function returns the real path written (symbolic links in the directory
  part resolved), which is what the audit log records.

collabctl changes the mode only of files and directories it created.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from collabctl.domain.errors import InvalidInput
from collabctl.domain.json_text import dump_indented

PRIVATE_FILE = 0o600
PRIVATE_DIRECTORY = 0o700


def write_private_json(
    path: Path, document: Any, *, overwrite: bool = False, hint: str | None = None
) -> Path:
    """Write ``document`` as indented JSON to ``path``, readable by its owner only.

    Returns the real path written. A refusal or a failed write raises
    :class:`InvalidInput` (with ``hint`` when given) and leaves ``path`` as it was.
    """

    def dump(handle: IO[str]) -> None:
        dump_indented(document, handle)

    return write_private_file(path, dump, overwrite=overwrite, hint=hint)


def write_private_file(
    path: Path,
    write: Callable[[IO[str]], None],
    *,
    overwrite: bool = False,
    hint: str | None = None,
) -> Path:
    """Write a text file through ``write(handle)``, as :func:`write_private_json` describes."""
    path = Path(path)
    hint = hint or "choose another path"
    try:
        directory = path.parent.resolve(strict=True)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {_reason(exc)} ({path.parent})", hint) from None
    target = directory / path.name
    _check_target(path, target, overwrite=overwrite, hint=hint)
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {_reason(exc)}", hint) from None
    try:
        os.fchmod(fd, PRIVATE_FILE)  # ours: private even if the umask asked for less
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        _move_into_place(temporary, target, overwrite=overwrite)
    except OSError as exc:
        _remove(temporary)
        if exc.errno == errno.EEXIST:
            raise _exists(path, hint) from None
        raise InvalidInput(f"cannot write {path}: {_reason(exc)}", hint) from None
    except BaseException:
        _remove(temporary)
        raise
    return target


def make_private_directory(directory: Path, *, hint: str | None = None) -> Path:
    """Make ``directory`` (and its parents) if absent; one collabctl makes is private.

    A directory that already exists keeps the mode its owner gave it.
    """
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        try:
            directory.mkdir(mode=PRIVATE_DIRECTORY)
        except FileExistsError:
            if not directory.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "not a directory") from None
        else:
            os.chmod(directory, PRIVATE_DIRECTORY)  # the umask may have taken some away
    except OSError as exc:
        raise InvalidInput(f"cannot use the directory {directory}: {_reason(exc)}", hint) from None
    return directory


def readable_by_others(path: Path) -> bool:
    """Whether a file exists and its mode lets anyone but its owner read or write it."""
    return path.exists() and bool(stat.S_IMODE(path.stat().st_mode) & 0o077)


def _check_target(path: Path, target: Path, *, overwrite: bool, hint: str) -> None:
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {_reason(exc)}", hint) from None
    if stat.S_ISLNK(info.st_mode):
        try:
            points_to = f" (it points to {os.readlink(target)})"
        except OSError:
            points_to = ""
        raise InvalidInput(
            f"{path} is a symbolic link{points_to}: collabctl does not write through links",
            f"name the file itself, or {hint}",
        )
    if stat.S_ISDIR(info.st_mode):
        raise InvalidInput(f"{path} is a directory", f"name a file in it, or {hint}")
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInput(
            f"{path} is not a regular file (a {_kind(info.st_mode)})",
            f"collabctl writes only regular files; {hint}",
        )
    if not overwrite:
        raise _exists(path, hint)


def _move_into_place(temporary: str, target: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(
            temporary, target
        )  # a rename replaces a link or file at target, never follows it
        return
    try:
        os.link(temporary, target)  # fails with EEXIST if anything appeared there meanwhile
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTDIR) or not _no_hard_links(exc):
            raise
        # a file system without hard links: check again, then rename
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "exists") from None
        os.replace(temporary, target)
        return
    os.unlink(temporary)


def _no_hard_links(exc: OSError) -> bool:
    return exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV)


def _exists(path: Path, hint: str) -> InvalidInput:
    return InvalidInput(f"{path} already exists: collabctl does not replace it", hint)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _remove(temporary: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(temporary)
