"""``collabctl restore``: undo the data loss of ``end --outcome delete`` from its backup.

The backup file is read and checked first (collabctl.operations.backup_file):
complete, a collabctl backup of one service, its content matching the SHA-256
in its header. That hash anyone can recompute, so restore then holds it
against the audit log: the ``delete``'s event records the backup's SHA-256
(``backup_sha256``), and a backup is accepted only when its hash is the one
the *latest* delete of that company and service recorded:

- another hash that an earlier delete recorded: ``conflict``, naming the
  latest backup's file (restoring the earlier one would drop what the later
  delete backed up);
- any other hash: ``invalid-input`` (the file was changed and resealed, or is
  not a backup of this deletion);
- a latest delete that recorded no hash (an older collabctl), or none: only with
  ``--force``, and the restore's event says it was forced.

Restore checks everything before it changes anything: the file; the company
and the service exist; the company is the one the backup was taken of (same
organisation number); the subscription is ``deleted`` and holds no records
(``conflict`` otherwise, which is also what a second restore of the same file
gets); the backup is the latest delete's. Then, in one transaction: the
records back, the subscription ``active``, one audit event naming the file and
its hash. The ended collaboration stays ended; ``start`` begins a new one.
"""

from __future__ import annotations

import shlex
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from collabctl.domain.errors import CollabError, Conflict, InvalidInput, NotAParty, NotFound
from collabctl.operations import scope
from collabctl.operations.backup_file import (
    HEADER,
    MAX_BYTES,
    SHA256,
    Backup,
    canonical_content,
    content_digest,
    read_backup,
    seal_backup,
)
from collabctl.operations.context import Context, audit, change_time
from collabctl.store.locks import lock_companies
from collabctl.store.models import AuditEvent, Collaboration, Company, ServiceRecord, Subscription

__all__ = [
    "HEADER",
    "MAX_BYTES",
    "SHA256",
    "Backup",
    "canonical_content",
    "check_restore",
    "content_digest",
    "read_backup",
    "restore_backup",
    "seal_backup",
]


# -- restoring ------------------------------------------------------------------------


def _plan(
    session: Session, ctx: Context, backup: Backup, *, lock: bool, force: bool
) -> dict[str, Any]:
    """Every database check, in order; the result a restore would have. Nothing changes."""
    number, code = backup.customer_number, backup.service
    if lock:
        lock_companies(session, [number])
    stmt = select(Company).where(col(Company.customer_number) == number)
    company = session.scalars(stmt).first()
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
    forced = _check_bound_to_log(session, backup, number, service.code, force=force)
    return {
        "customer_number": number,
        "company_name": company.name,
        "service": service.code,
        "backup_path": str(backup.path),
        "sha256": backup.sha256,
        "verified": backup.verified,
        "forced": forced,
        "backup_written_at": backup.written_at,
        "records": len(backup.records),
        "record_ids": [r["id"] for r in backup.records],
        "subscription_before": sub.state,
        "subscription_state": "active",
        "next": f"collabctl start {number} --service {service.code} "
        f"--office {last_office or 'ORG_NUMBER'}",
    }


def _check_bound_to_log(
    session: Session, backup: Backup, number: str, code: str, *, force: bool
) -> bool:
    """Is ``backup`` the one the latest delete of this service recorded? Returns whether
    it is accepted only because of ``force`` (a delete that recorded no hash)."""
    deletes = [
        details
        for details in session.scalars(
            select(col(AuditEvent.details))
            .where(
                col(AuditEvent.customer_number) == number,
                col(AuditEvent.service) == code,
                col(AuditEvent.action) == "end",
            )
            .order_by(col(AuditEvent.id).desc())
        )
        if isinstance(details, dict) and details.get("outcome") == "delete"
    ]
    latest = deletes[0] if deletes else {}
    recorded = latest.get("backup_sha256")
    if recorded == backup.sha256:
        return False
    latest_path = latest.get("backup_path")
    if any(d.get("backup_sha256") == backup.sha256 for d in deletes[1:]):
        where = (
            f"the latest one backed up {latest_path}"
            if latest_path
            else "the latest one made no backup"
        )
        raise Conflict(
            f"{backup.path} is the backup of an earlier deletion of {code} for customer "
            f"{number}, and {where}: restoring it would drop what was recorded since",
            f"restore the latest backup: collabctl restore {shlex.quote(latest_path)}"
            if latest_path
            else f"see what the log says: collabctl log --customer {number} --service {code}",
        )
    if recorded is not None or (deletes and latest_path is None):
        raise InvalidInput(
            f"{backup.path}: not the backup the latest delete of {code} for customer {number} "
            "recorded (its SHA-256 is not the one in the audit log): the file was changed "
            "and resealed, or is another file",
            (
                f"restore the file that delete wrote: {latest_path}"
                if latest_path
                else "that delete made no backup (--no-backup): there is nothing to restore"
            )
            + " (--force does not override this)",
        )
    if not force:
        raise InvalidInput(
            f"{backup.path}: the audit log holds no SHA-256 of the backup of the latest delete "
            f"of {code} for customer {number} (a delete by an older collabctl, or none), so "
            "collabctl cannot tell whether this file is that backup, unchanged",
            f"if you are sure it is, run again with --force: "
            f"collabctl restore {shlex.quote(str(backup.path))} --force",
        )
    return True


def check_restore(
    session: Session, ctx: Context, backup: Backup, *, force: bool = False
) -> dict[str, Any]:
    """What ``restore --dry-run`` shows: the checks passed and what would be restored."""
    return {**_plan(session, ctx, backup, lock=False, force=force), "status": "would-restore"}


def restore_backup(
    session: Session, ctx: Context, backup: Backup, *, force: bool = False
) -> dict[str, Any]:
    """Checks under the company's lock, then the restore, in the caller's transaction.

    ``force``: accept a backup that the latest delete recorded no hash of (and a file
    without a hash of its own, which :func:`read_backup` checks)."""
    plan = _plan(session, ctx, backup, lock=True, force=force)
    number, code = plan["customer_number"], plan["service"]
    at = change_time(session)
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
            "forced": plan["forced"],
            "backup_written_at": backup.written_at,
            "subscription": {"before": plan["subscription_before"], "after": "active"},
            "records": {"before": 0, "after": len(backup.records)},
        },
        at,
    )
    return {**plan, "status": "restored"}
