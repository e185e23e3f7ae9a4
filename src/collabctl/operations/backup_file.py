"""Backup files of ``end --outcome delete``: how they are sealed, read and checked.

A backup is the company's document in the import format, limited to the deleted
service, whose header (``collabctl_export``) carries a SHA-256 of the content:

    sha256 = SHA-256 of the canonical JSON of the whole document without the
             header's "sha256" field: keys sorted, no whitespace, non-ASCII
             characters as \\uXXXX escapes (so the bytes are ASCII).

The hash is over the parsed content, not the file's bytes, so re-indenting the
file keeps it valid while any change to a value (one digit of an amount, one
letter of an id) does not. Anyone can recompute it, so on its own it guards
against damage and mistakes only; the ``delete``'s audit event records it too
(``backup_sha256``), and ``restore`` accepts only the backup that the latest
delete recorded (collabctl.operations.restore).

A file larger than :data:`MAX_BYTES` is refused before it is read.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collabctl.domain import validation
from collabctl.domain.errors import InvalidInput

#: the header of an export or backup document, and the field of the header with the hash
HEADER = "collabctl_export"
SHA256 = "sha256"
#: the largest file ``restore`` reads (a backup of one service of one company)
MAX_BYTES = 256 * 1024 * 1024

#: lengths the schema allows (PostgreSQL enforces them; checked first on both backends)
_STATUS_MAX = 40


# -- the hash -------------------------------------------------------------------------


def canonical_content(document: dict[str, Any]) -> bytes:
    """The bytes the SHA-256 of a backup is computed over (see the module's docstring)."""
    header = {k: v for k, v in document.get(HEADER, {}).items() if k != SHA256}
    content = {**document, HEADER: header}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return text.encode("ascii")


def content_digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_content(document)).hexdigest()


def seal_backup(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the SHA-256 of its content in its header, ready to be written.

    Hashed after a JSON round trip, so that what a reader parses from the file hashes
    the same (tuples become lists, every key a string).
    """
    content = json.loads(json.dumps(document))
    return {**content, HEADER: {**content[HEADER], SHA256: content_digest(content)}}


# -- reading a backup file (no database) ----------------------------------------------


@dataclass(frozen=True)
class Backup:
    path: Path  # absolute, as given (a symlink is named, not resolved)
    customer_number: str
    org_number: str
    company_name: str
    service: str
    written_at: str | None
    records: list[dict[str, Any]]
    sha256: str  # of the content as read
    verified: bool  # the file carried this hash; False only for a file without one (--force)


def _refuse(path: Path, problem: str, hint: str) -> InvalidInput:
    return InvalidInput(f"{path}: {problem}", hint)


_NOT_A_BACKUP_HINT = (
    "give the file `end --outcome delete` wrote (its path is in the end's result and in "
    "`collabctl log`, action end, detail backup_path)"
)


def read_backup(path: str | Path, *, force: bool = False) -> Backup:
    """Read and check a backup file: complete, a collabctl backup of one service, unchanged.

    Every problem is ``invalid-input`` naming the file; nothing is read from a database.
    ``force`` accepts a file without a hash (written before backups carried one),
    never a file whose hash does not match.
    """
    given = Path(path)
    where = Path(os.path.abspath(given))
    try:
        info = os.stat(given)
    except FileNotFoundError:
        raise _refuse(where, "no such file", "check the path; " + _NOT_A_BACKUP_HINT) from None
    except OSError as exc:
        raise _refuse(
            where, f"cannot read it: {exc.strerror or exc}", "check the path and its permissions"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(where, "not a regular file", _NOT_A_BACKUP_HINT)
    if info.st_size > MAX_BYTES:
        raise _refuse(
            where,
            f"{info.st_size} bytes, more than a backup of one service can be "
            f"({MAX_BYTES // (1024 * 1024)} MiB): not read",
            _NOT_A_BACKUP_HINT,
        )
    try:
        raw = given.read_bytes()
    except OSError as exc:
        raise _refuse(
            where, f"cannot read it: {exc.strerror or exc}", "check the file's permissions"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse(
            where, "not a collabctl backup (not UTF-8 text)", _NOT_A_BACKUP_HINT
        ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _refuse(
            where,
            f"not a complete JSON document ({exc.msg} at line {exc.lineno}, column {exc.colno}): "
            "the file is truncated or damaged",
            "restore from an undamaged copy of the backup",
        ) from None
    except (ValueError, RecursionError):
        raise _refuse(
            where, "not a collabctl backup (unreadable JSON)", _NOT_A_BACKUP_HINT
        ) from None
    return _check_backup(where, document, force=force)


def _check_backup(where: Path, document: Any, *, force: bool) -> Backup:
    header = document.get(HEADER) if isinstance(document, dict) else None
    if not isinstance(header, dict):
        raise _refuse(where, f"not a collabctl backup (no {HEADER!r} header)", _NOT_A_BACKUP_HINT)
    number, services = header.get("customer_number"), header.get("services")
    if not isinstance(number, str) or not isinstance(services, list) or len(services) != 1:
        raise _refuse(
            where,
            "not a backup of one service (an export of a whole company cannot be restored)",
            _NOT_A_BACKUP_HINT,
        )
    service = services[0]
    digest = content_digest(document)
    stored = header.get(SHA256)
    if stored is None:
        if not force:
            raise _refuse(
                where,
                "has no SHA-256, so collabctl cannot tell whether it was changed "
                "(a backup written before collabctl 0.2, or an export)",
                f"if you are sure it is the unchanged backup, run again with --force: "
                f"collabctl restore {shlex.quote(str(where))} --force",
            )
    elif stored != digest:
        raise _refuse(
            where,
            "the content does not match its SHA-256: the file was changed or damaged "
            "after it was written",
            "restore from an unchanged copy of the backup (--force does not override this)",
        )
    companies = document.get("companies")
    company = companies[0] if isinstance(companies, list) and len(companies) == 1 else None
    if not isinstance(company, dict) or company.get("customer_number") != number:
        raise _refuse(where, f"not a backup of customer {number!r}", _NOT_A_BACKUP_HINT)
    try:
        number = validation.customer_number(number, "customer_number")
        org_number = validation.org_number(company.get("org_number"), "org_number")
    except InvalidInput as exc:
        raise _refuse(where, exc.message, _NOT_A_BACKUP_HINT) from None
    records = company.get("records", [])
    if not isinstance(records, list):
        raise _refuse(where, "records: expected a list", _NOT_A_BACKUP_HINT)
    checked = [_check_record(where, index, r, service) for index, r in enumerate(records)]
    seen: set[str] = set()
    for record in checked:
        if record["id"] in seen:
            raise _refuse(where, f"record {record['id']!r} appears twice", _NOT_A_BACKUP_HINT)
        seen.add(record["id"])
    written_at = header.get("exported_at")
    return Backup(
        path=where,
        customer_number=number,
        org_number=org_number,
        company_name=str(company.get("name", "")),
        service=str(service),
        written_at=written_at if isinstance(written_at, str) else None,
        records=checked,
        sha256=digest,
        verified=stored is not None,
    )


def _check_record(where: Path, index: int, record: Any, service: object) -> dict[str, Any]:
    at = f"records[{index}]"
    if not isinstance(record, dict):
        raise _refuse(where, f"{at}: expected an object", _NOT_A_BACKUP_HINT)
    if record.get("service") != service:
        raise _refuse(
            where,
            f"{at}: belongs to {record.get('service')!r}, not {service!r}",
            _NOT_A_BACKUP_HINT,
        )
    values: dict[str, Any] = {}
    for key in ("id", "kind", "status"):
        value = record.get(key)
        if not isinstance(value, str) or not value.strip() or "\x00" in value:
            raise _refuse(where, f"{at}.{key}: {value!r} is not allowed", _NOT_A_BACKUP_HINT)
        values[key] = value
    if len(values["status"]) > _STATUS_MAX:
        raise _refuse(where, f"{at}.status: longer than {_STATUS_MAX}", _NOT_A_BACKUP_HINT)
    owner = record.get("owner")
    if owner is not None and (not isinstance(owner, str) or "\x00" in owner):
        raise _refuse(where, f"{at}.owner: {owner!r} is not allowed", _NOT_A_BACKUP_HINT)
    payload = record.get("payload", {})
    if not isinstance(payload, dict) or not _finite(payload):
        raise _refuse(
            where, f"{at}.payload: expected an object of finite values", _NOT_A_BACKUP_HINT
        )
    return {**values, "owner": owner, "payload": payload}


def _finite(value: Any) -> bool:
    """No NaN or infinity anywhere: JSON has none, and PostgreSQL refuses them."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True
