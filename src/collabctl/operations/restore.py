"""``collabctl restore``: undo the data loss of ``end --outcome delete`` from its backup.

A backup is the company's document in the import format, limited to the deleted
service, whose header (``collabctl_export``) carries a SHA-256 of the content:

    sha256 = SHA-256 of the canonical JSON of the whole document without the
             header's "sha256" field: keys sorted, no whitespace, non-ASCII
             characters as \\uXXXX escapes (so the bytes are ASCII).

The hash is over the parsed content, not the file's bytes, so re-indenting the
file keeps it valid while any change to a value (one digit of an amount, one
letter of an id) does not. It guards against damage and mistakes, not against
someone who recomputes it: the audit log is where the restore is accounted for.

Restore checks everything before it changes anything: the file is a complete,
unchanged collabctl backup of one service; the company and the service exist;
the company is the one the backup was taken of (same organisation number); the
subscription is ``deleted`` and holds no records (``conflict`` otherwise, which
is also what a second restore of the same file gets). Then, in one transaction:
the records back, the subscription ``active``, one audit event naming the file
and its hash. The ended collaboration stays ended; ``start`` begins a new one.
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

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from collabctl.domain import validation
from collabctl.domain.errors import CollabError, Conflict, InvalidInput, NotAParty, NotFound
from collabctl.operations import scope
from collabctl.operations.context import Context, audit, now_iso
from collabctl.store.models import Collaboration, Company, ServiceRecord, Subscription

#: the header of an export or backup document, and the field of the header with the hash
HEADER = "collabctl_export"
SHA256 = "sha256"

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


# -- restoring ------------------------------------------------------------------------


def _plan(session: Session, ctx: Context, backup: Backup, *, lock: bool) -> dict[str, Any]:
    """Every database check, in order; the result a restore would have. Nothing changes."""
    number, code = backup.customer_number, backup.service
    stmt = select(Company).where(col(Company.customer_number) == number)
    company = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if company is None:
        if ctx.party is not None:
            raise scope.not_found(ctx.party, number)
        raise NotFound(
            f"customer {number} of the backup {backup.path} does not exist here",
            "restore into the database the backup was taken from (--database-url), "
            "or import the company first",
        )
    scope.require_party(session, ctx, number)
    last_office = session.scalars(
        select(col(Collaboration.office_org_number))
        .where(
            col(Collaboration.customer_number) == number,
            col(Collaboration.service) == code,
        )
        .order_by(col(Collaboration.started_at).desc(), col(Collaboration.id).desc())
        .limit(1)
    ).first()
    if not scope.is_party_to(ctx.party, number, last_office):
        # an office restores only the data of its own collaboration
        raise NotAParty(
            f"acting as {ctx.party}, collabctl cannot restore {code} of customer "
            f"{number}: it was not the office's collaboration",
            "the company or a support agent (without --as) can restore it",
        )
    if company.org_number != backup.org_number:
        raise InvalidInput(
            f"{backup.path} is a backup of another company: org number {backup.org_number}, "
            f"but customer {number} here is {company.name} ({company.org_number})",
            "restore it into the database it was taken from (--database-url)",
        )
    try:
        service = ctx.service(code, "service")
    except InvalidInput:
        raise NotFound(
            f"the service {code!r} of the backup is not in the catalogue",
            "add it to the catalogue (a catalogue file, or an imported service) first",
        ) from None
    sub = session.scalars(
        select(Subscription).where(
            col(Subscription.customer_number) == number, col(Subscription.service) == service.code
        )
    ).first()
    if sub is None or sub.state != "deleted":
        why = {
            None: "has no subscription: there is nothing to restore into",
            "active": "is active, not deleted: it was restored already or started afresh",
        }.get(sub.state if sub else None, f"is {sub.state if sub else ''}, not deleted")
        raise Conflict(
            f"{service.code} of customer {number} {why}; restore only undoes a delete",
            f"see its data: collabctl show {number}",
        )
    held = session.scalar(
        select(func.count())
        .select_from(ServiceRecord)
        .where(
            col(ServiceRecord.customer_number) == number,
            col(ServiceRecord.service) == service.code,
        )
    )
    if held:
        raise Conflict(
            f"the deleted {service.code} subscription of customer {number} holds {held} "
            "records already: restoring would mix two sets of data",
            f"see them with: collabctl export {number} --service {service.code} -o -",
        )
    return {
        "customer_number": number,
        "company_name": company.name,
        "service": service.code,
        "backup_path": str(backup.path),
        "sha256": backup.sha256,
        "verified": backup.verified,
        "backup_written_at": backup.written_at,
        "records": len(backup.records),
        "record_ids": [r["id"] for r in backup.records],
        "subscription_before": sub.state,
        "subscription_state": "active",
        "next": f"collabctl start {number} --service {service.code} "
        f"--office {last_office or 'ORG_NUMBER'}",
    }


def check_restore(session: Session, ctx: Context, backup: Backup) -> dict[str, Any]:
    """What ``restore --dry-run`` shows: the checks passed and what would be restored."""
    return {**_plan(session, ctx, backup, lock=False), "status": "would-restore"}


def restore_backup(session: Session, ctx: Context, backup: Backup) -> dict[str, Any]:
    """Checks under the company's lock, then the restore, in the caller's transaction."""
    plan = _plan(session, ctx, backup, lock=True)
    number, code = plan["customer_number"], plan["service"]
    at = now_iso()
    if backup.records:
        session.execute(
            insert(ServiceRecord),
            [
                {
                    "customer_number": number,
                    "service": code,
                    "record_id": r["id"],
                    "kind": r["kind"],
                    "owner": r["owner"],
                    "status": r["status"],
                    "payload": r["payload"],
                }
                for r in backup.records
            ],
        )
    changed = session.execute(
        update(Subscription)
        .where(
            col(Subscription.customer_number) == number,
            col(Subscription.service) == code,
            col(Subscription.state) == "deleted",
        )
        .values(state="active", records_changed_at=at)
    )
    if getattr(changed, "rowcount", 1) != 1:  # checked under the lock: cannot happen
        raise CollabError("the subscription changed during the restore", code="conflict")
    audit(
        session,
        ctx,
        "restore",
        number,
        code,
        {
            "backup_path": plan["backup_path"],
            "sha256": backup.sha256,
            "verified": backup.verified,
            "backup_written_at": backup.written_at,
            "subscription": {"before": plan["subscription_before"], "after": "active"},
            "records": {"before": 0, "after": len(backup.records)},
        },
        at,
    )
    return {**plan, "status": "restored"}
