"""Ending a collaboration: the pre-flight (:mod:`collabctl.operations.preflight`), then
the plan of every change the end makes, applied in one transaction: the
collaboration ended, the subscription changed per the outcome, records deleted
for ``delete`` (after a private backup), one audit event and the messages.

Every end passes through :func:`end_in` (single, interactive, each item of a bulk
run and of ``schedule run``): it decides the end (:func:`plan_end`) and hands the
plan to the transaction's :class:`~collabctl.store.end_writes.EndWriter`, which
applies it at once or, in a bulk end, with the rest of its segment. Whatever else
must happen in the same transaction as an end belongs in its plan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from collabctl.domain.catalogue import OUTCOMES
from collabctl.domain.errors import AlreadyEnded, CollabError
from collabctl.operations import files, notify
from collabctl.operations.checklist import ChecklistState
from collabctl.operations.context import Context, now_iso
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
from collabctl.store.audit import AuditEvent
from collabctl.store.end_queries import EndedRow, ReadAhead
from collabctl.store.end_writes import EndPlan, EndWriter, apply_end, end_row
from collabctl.store.statements import Statements

__all__ = [
    "CHECK_NAMES",
    "Check",
    "ChecklistState",
    "EndRequest",
    "EndResult",
    "Ends",
    "IncompleteEnd",
    "Preflight",
    "end_collaboration",
    "end_in",
    "plan_end",
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


@dataclass(frozen=True, slots=True)
class Ends:
    """What the ends of one transaction share: its statements, the writer their plans go
    to, and what a bulk end read ahead for its current segment (None: each end reads
    its own)."""

    sql: Statements
    writer: EndWriter
    ahead: ReadAhead | None = None

    @classmethod
    def one_by_one(cls, sql: Statements) -> Ends:
        return cls(sql, EndWriter(sql, batched=False))


def end_collaboration(
    session: Session, ctx: Context, req: EndRequest, backup_dir: Path
) -> EndResult:
    """One end in the caller's transaction: :func:`end_in` on its own."""
    return end_in(Ends.one_by_one(Statements(session)), ctx, req, backup_dir)


def end_in(ends: Ends, ctx: Context, req: EndRequest, backup_dir: Path) -> EndResult:
    """Checks 1–5 under the company's lock, then the end's plan, applied by ``ends``' writer.

    A refusal (a :class:`CollabError`) leaves nothing changed, so a caller that
    ends many in one transaction can carry on after one is refused.
    Any failure after the first change is some other exception, which the
    caller's transaction does not survive: an end is all done or not at all.
    """
    pre = run_preflight(ends.sql, ctx, req, lock=True, ahead=ends.ahead)
    require_answers(pre)
    at = ends.writer.transaction_time() or now_iso()
    if pre.outcome == "delete":
        # a file is written between its first change and the next: applied on its own,
        # after whatever the writer holds
        ends.writer.flush()
        return _end_and_delete(ends.sql, ctx, req, pre, at, backup_dir)
    plan = plan_end(ctx, req, pre, at)
    ends.writer.apply(plan)
    return _result(pre, plan, None, 0)


def plan_end(
    ctx: Context,
    req: EndRequest,
    pre: Preflight,
    at: str,
    *,
    backup_path: str | None = None,
    backup_sha256: str | None = None,
    records_deleted: int = 0,
) -> EndPlan:
    """Every change of the end that ``pre`` allows, at ``at``; nothing is written."""
    assert pre.collaboration is not None and pre.collaboration_id is not None
    assert pre.ended_by is not None and pre.outcome is not None
    number, service, outcome = req.customer_number, pre.service.code, pre.outcome
    after = OUTCOMES[outcome].subscription_state
    office = pre.collaboration["office_org_number"]
    details = {
        "office_org_number": office,
        "ended_by": pre.ended_by,
        "outcome": outcome,
        "reason": req.reason,
        "subscription": {"before": pre.subscription_state, "after": after},
        "checklist": {c.item: c.by for c in pre.checklist},
        "confirmed": [c.item for c in pre.checklist if c.by == "attested"],
        "forced": pre.forced,
        "backup_path": backup_path,
        "records_deleted": records_deleted,
        # what `restore` accepts: the backup of the latest delete, unchanged
        **({"backup_sha256": backup_sha256} if backup_sha256 else {}),
        **({} if req.schedule_id is None else {"schedule_id": req.schedule_id}),
    }
    return EndPlan(
        customer_number=number,
        service=service,
        row=_ended_row(ctx, req, pre, at),
        subscription_before=pre.subscription_state,
        subscription_after=after,
        records_changed_at=at if records_deleted else None,
        # ended by hand: a scheduled end of it will not run (nor fail for nothing)
        settles_schedule=_ended_by_hand(ctx.actor) if req.schedule_id is None else None,
        event=AuditEvent(at, ctx.actor, ctx.scope, "end", number, service, details),
        messages=notify.end_messages(
            ctx,
            at=at,
            customer_number=number,
            company_name=pre.collaboration["company_name"],
            service=pre.service,
            office_org_number=office,
            office_name=pre.collaboration["office_name"],
            ended_by=pre.ended_by,
            outcome=outcome,
            reason=req.reason,
            backup_path=backup_path,
        ),
    )


def _end_and_delete(
    sql: Statements, ctx: Context, req: EndRequest, pre: Preflight, at: str, backup_dir: Path
) -> EndResult:
    """A ``delete`` end, step by step: the row, the backup file, the records, the rest."""
    number, service = req.customer_number, pre.service.code
    row = _ended_row(ctx, req, pre, at)
    backup_path = backup_sha256 = None
    if req.backup:
        # The backup shows the collaboration ended (restoring it brings back the data, not
        # the collaboration), so it is written after the row changed; the savepoint makes
        # a backup that cannot be written a refusal that leaves nothing changed.
        q.savepoint(sql)
        try:
            end_row(sql, row)
            written, backup_sha256 = write_backup(sql.session, number, service, backup_dir, at)
            backup_path = str(written)
        except CollabError:
            q.rollback_to_savepoint(sql)
            raise
        q.release_savepoint(sql)
    else:
        end_row(sql, row)
    # From here on a failure is not a refusal: the collaboration already changed.
    try:
        deleted = q.delete_records(sql, number, service)
        plan = plan_end(
            ctx,
            req,
            pre,
            at,
            backup_path=backup_path,
            backup_sha256=backup_sha256,
            records_deleted=deleted,
        )
        apply_end(sql, plan, row_written=True)
    except CollabError as exc:
        raise IncompleteEnd(f"the end of {number} {service} failed halfway: {exc}") from exc
    return _result(pre, plan, backup_path, deleted)


def _ended_row(ctx: Context, req: EndRequest, pre: Preflight, at: str) -> EndedRow:
    assert pre.collaboration_id is not None and pre.ended_by is not None
    assert pre.outcome is not None
    return EndedRow(pre.collaboration_id, at, pre.ended_by, ctx.actor, pre.outcome, req.reason)


def _result(pre: Preflight, plan: EndPlan, backup_path: str | None, deleted: int) -> EndResult:
    assert pre.collaboration is not None
    row = plan.row
    collaboration = {
        **pre.collaboration,
        "state": "ended",
        "ended_at": row.at,
        "ended_by": row.ended_by,
        "outcome": row.outcome,
        "reason": row.reason,
    }
    return EndResult(
        collaboration, plan.subscription_after, pre.checklist, pre.forced, backup_path, deleted
    )


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
