"""Ending a collaboration: the pre-flight (:mod:`collabctl.operations.preflight`), then
one transaction that ends it, changes the subscription per the outcome, deletes
records for ``delete`` (after a private backup), and writes one audit event.

Every end passes through :func:`end_collaboration` (single, interactive, each
item of a bulk run), and every change an end makes is applied in one place,
:func:`_apply_end`, in the caller's transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from collabctl.domain.catalogue import OUTCOMES
from collabctl.domain.errors import AlreadyEnded, CollabError, Conflict
from collabctl.operations import files, notify
from collabctl.operations.checklist import ChecklistState
from collabctl.operations.context import Context, change_time
from collabctl.operations.files import make_private_directory
from collabctl.operations.preflight import (
    CHECK_NAMES,
    Check,
    EndRequest,
    Preflight,
    preflight,
    require_answers,
    run_preflight,
)
from collabctl.store import end_queries as q
from collabctl.store import schedules
from collabctl.store.audit import insert_audit_event
from collabctl.store.statements import Statements

__all__ = [
    "CHECK_NAMES",
    "Check",
    "ChecklistState",
    "EndRequest",
    "EndResult",
    "IncompleteEnd",
    "Preflight",
    "end_collaboration",
    "preflight",
    "require_answers",
    "write_backup",
]


@dataclass
class EndResult:
    collaboration: dict[str, Any]
    subscription_after: str
    checklist: list[ChecklistState]
    forced: list[str]
    backup_path: str | None
    records_deleted: int

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.collaboration,
            "subscription_state": self.subscription_after,
            "forced": self.forced,
            "backup_path": self.backup_path,
            "records_deleted": self.records_deleted,
        }


class IncompleteEnd(RuntimeError):
    """An end failed after its first change: the transaction must not be committed."""


def end_collaboration(
    session: Session,
    ctx: Context,
    req: EndRequest,
    backup_dir: Path,
    *,
    statements: Statements | None = None,
) -> EndResult:
    """Checks 1–5 under lock, then the change, in the caller's transaction.

    A refusal (a :class:`CollabError`) leaves nothing changed, so a caller that
    ends many in one transaction can carry on after one is refused.
    Any failure after the first change is some other exception, which the
    caller's transaction does not survive: an end is all done or not at all.
    ``statements`` lets such a caller reuse one :class:`Statements`.
    """
    sql = statements or Statements(session)
    pre = run_preflight(sql, ctx, req, lock=True)
    require_answers(pre)
    return _apply_end(sql, ctx, req, pre, backup_dir)


def _apply_end(
    sql: Statements, ctx: Context, req: EndRequest, pre: Preflight, backup_dir: Path
) -> EndResult:
    """Every change of an end: the collaboration, the backup and records (``delete``), the
    subscription, the audit event. Whatever else must happen in the same transaction as an
    end belongs here."""
    assert pre.collaboration is not None and pre.collaboration_id is not None
    assert pre.ended_by is not None and pre.outcome is not None
    number, service, outcome = req.customer_number, pre.service.code, pre.outcome
    at = change_time(sql)
    backup_path = backup_sha256 = None
    if outcome == "delete" and req.backup:
        # The backup shows the collaboration ended (restoring it brings back the data, not
        # the collaboration), so it is written after the row changed; the savepoint makes
        # a backup that cannot be written a refusal that leaves nothing changed.
        q.savepoint(sql)
        try:
            _end_row(sql, ctx, req, pre, at)
            written, backup_sha256 = write_backup(sql.session, number, service, backup_dir, at)
            backup_path = str(written)
        except CollabError:
            q.rollback_to_savepoint(sql)
            raise
        q.release_savepoint(sql)
    else:
        _end_row(sql, ctx, req, pre, at)
    # From here on a failure is not a refusal: the collaboration already changed.
    try:
        after = OUTCOMES[outcome].subscription_state
        forced = pre.forced
        deleted = q.delete_records(sql, number, service) if outcome == "delete" else 0
        if pre.subscription_state is None:
            q.insert_subscription(sql, number, service, after)
        elif deleted or pre.subscription_state != after:
            q.update_subscription(
                sql, number, service, after, records_changed_at=at if deleted else None
            )
        if req.schedule_id is None:
            # ended by hand: a scheduled end of it will not run (nor fail for nothing)
            schedules.ended_by_hand(sql, pre.collaboration_id, _ended_by_hand(ctx.actor))
        insert_audit_event(
            sql,
            at=at,
            actor=ctx.actor,
            scope=ctx.scope,
            action="end",
            customer_number=number,
            service=service,
            details={
                "office_org_number": pre.collaboration["office_org_number"],
                "ended_by": pre.ended_by,
                "outcome": outcome,
                "reason": req.reason,
                "subscription": {"before": pre.subscription_state, "after": after},
                "checklist": {c.item: c.by for c in pre.checklist},
                "confirmed": [c.item for c in pre.checklist if c.by == "attested"],
                "forced": forced,
                "backup_path": backup_path,
                "records_deleted": deleted,
                # what `restore` accepts: the backup of the latest delete, unchanged
                **({"backup_sha256": backup_sha256} if backup_sha256 else {}),
                **({} if req.schedule_id is None else {"schedule_id": req.schedule_id}),
            },
            locked=True,  # run_preflight took the company's row lock
        )
        notify.queue_end(
            sql,
            ctx,
            at=at,
            customer_number=number,
            company_name=pre.collaboration["company_name"],
            service=pre.service,
            office_org_number=pre.collaboration["office_org_number"],
            office_name=pre.collaboration["office_name"],
            ended_by=pre.ended_by,
            outcome=outcome,
            reason=req.reason,
            backup_path=backup_path,
        )
    except CollabError as exc:
        raise IncompleteEnd(f"the end of {number} {service} failed halfway: {exc}") from exc
    collaboration = {
        **pre.collaboration,
        "state": "ended",
        "ended_at": at,
        "ended_by": pre.ended_by,
        "outcome": outcome,
        "reason": req.reason,
    }
    return EndResult(collaboration, after, pre.checklist, forced, backup_path, deleted)


@lru_cache(maxsize=16)
def _ended_by_hand(actor: str) -> str:
    """The note (JSON text) a scheduled end carries when its collaboration was ended by
    hand; the same for every end of one actor, so a bulk end builds it once."""
    note = AlreadyEnded(
        f"the collaboration was ended by hand (`end`, by {actor}) before this scheduled end "
        "was due; it will not run",
        "nothing to do; `collabctl log --action end` shows the end",
    ).to_dict()
    return json.dumps(note, ensure_ascii=False)


def _end_row(sql: Statements, ctx: Context, req: EndRequest, pre: Preflight, at: str) -> None:
    assert pre.collaboration_id is not None and pre.ended_by is not None
    assert pre.outcome is not None
    ended = q.end_collaboration_row(
        sql,
        pre.collaboration_id,
        at=at,
        ended_by=pre.ended_by,
        actor=ctx.actor,
        outcome=pre.outcome,
        reason=req.reason,
    )
    if not ended:  # nothing changed: still a plain refusal
        raise Conflict(
            "the collaboration changed while it was being ended",
            "run the command again; it will report the current state",
        )


def write_backup(
    session: Session, number: str, service: str, directory: Path, at: str
) -> tuple[Path, str]:
    """Everything ``delete`` is about to remove, as a private JSON file (importable);
    returns the file and the SHA-256 it is sealed with."""
    from collabctl.operations.backup_file import HEADER, SHA256, seal_backup
    from collabctl.operations.exporting import company_document

    # sealed with the SHA-256 of its content, which `collabctl restore` checks
    document = seal_backup(company_document(session, number, [service], at))
    stamp = at.replace("-", "").replace(":", "").replace(".", "")
    hint = (
        f"make {directory} a directory you can write to, "
        "or pass --no-backup to delete without a backup"
    )
    make_private_directory(directory, hint=hint)
    path = directory / f"{number}-{service}-{stamp}.json"
    return files.write_private_json(path, document, hint=hint), document[HEADER][SHA256]
