"""``schedule run``: perform every scheduled end that is due, each exactly as ``end`` would.

Due means due by the clock of the machine the run is on (``now``), not the
database's. The ends go through the batch runner of ``end --from``
(:func:`collabctl.operations.bulk.run_batch`), so each is the same end: the
same checks under the company's lock, backup for ``delete``, the audit event
(its details name the schedule id) and the notifications. Each on its own: a
rule that no longer holds marks that scheduled end ``failed`` with its error,
and the others go on.

Exactly once: each batch claims its rows in the transaction that performs
their ends (:func:`collabctl.store.schedules.claim`) and marks them done or
failed before it commits. Runs at the same time divide the rows between them;
a run killed at any moment leaves each row done (its end committed with it)
or still due, and the next run performs it.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from collabctl.domain.errors import AlreadyEnded
from collabctl.operations.bulk import BATCH_ITEMS, BulkResult, run_batch
from collabctl.operations.context import Context, format_timestamp, now_iso
from collabctl.operations.long_run import collector_set_aside
from collabctl.operations.preflight import EndRequest
from collabctl.store import schedules
from collabctl.store.database import Database
from collabctl.store.schedules import DueRow
from collabctl.store.statements import Statements

#: a run's result per scheduled end: done | failed
RUN_STATES = ("done", "failed")


@dataclass(slots=True)
class RunResult:
    """One scheduled end a run performed (or found it could not)."""

    id: int
    customer_number: str
    service: str
    status: str  # done | failed
    outcome: str | None
    error: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "customer_number": self.customer_number,
            "service": self.service,
            "status": self.status,
            "outcome": self.outcome,
            "error": self.error,
        }


def run_token() -> str:
    """Who a run is, as the rows it performs record it: host, process and a random part
    (a process id alone is reused, and means nothing behind a connection pooler)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(6)}"


def _error_of(result: BulkResult) -> dict[str, Any] | None:
    if result.status == "ended":
        return None
    if result.error is not None:
        return result.error.to_dict()
    # already-ended is no error to a bulk end (a re-run), but this end cannot happen now
    return AlreadyEnded(
        f"the {result.service} collaboration of customer {result.customer_number} "
        "had already ended when its scheduled end was due",
        "nothing to do; see `collabctl show " + str(result.customer_number) + "`",
    ).to_dict()


class _Claims:
    """The batch runner's claims for a run (:class:`collabctl.operations.bulk.Claims`)."""

    def __init__(self, rows: dict[int, DueRow], now: str, token: str) -> None:
        self.rows = rows
        self.now = now
        self.token = token

    def claim(self, sql: Statements, lines: list[int]) -> set[int]:
        return schedules.claim(sql, lines, self.now)

    def settle(self, sql: Statements, results: list[BulkResult]) -> None:
        schedules.settle(
            sql,
            ((r.line, "done" if r.status == "ended" else "failed", _error_of(r)) for r in results),
            run=self.token,
            at=now_iso(),
        )


def _request(row: DueRow) -> EndRequest:
    return EndRequest(
        customer_number=row.customer_number,
        service=row.service,
        outcome=row.outcome,
        by=row.ended_by,
        confirm=row.confirmed,
        force=bool(row.force),
        reason=row.reason,
        backup=True,
        collaboration_id=row.collaboration_id,
        schedule_id=row.id,
    )


def run_due(
    db: Database,
    ctx: Context,
    *,
    now: datetime,
    backup_dir: Path,
    batch_items: int = BATCH_ITEMS,
    token: str | None = None,
) -> Iterator[list[RunResult]]:
    """Perform the ends due at ``now``, a batch per transaction; yields each batch's results
    after its commit. Ends another run performs are left to it (and not reported here).

    ``ctx`` acts for no party (a run performs what every party scheduled); each end is
    on behalf of the party the scheduled end names.
    """
    with collector_set_aside():  # as a bulk end does: a run over many items
        yield from _run_due(db, ctx, now, backup_dir, batch_items, token)


def _run_due(
    db: Database,
    ctx: Context,
    now: datetime,
    backup_dir: Path,
    batch_items: int,
    token: str | None,
) -> Iterator[list[RunResult]]:
    moment = format_timestamp(now)
    token = token or run_token()
    after = ("", 0)
    while True:
        with db.session(write=False) as session:
            rows = schedules.due(Statements(session), moment, after=after, limit=batch_items)
        if not rows:
            return
        after = (rows[-1].due_at, rows[-1].id)
        by_id = {row.id: row for row in rows}
        items: list[tuple[int, EndRequest | None, BulkResult | None]] = [
            (row.id, _request(row), None) for row in rows
        ]
        claims = _Claims(by_id, moment, token)
        done = run_batch(db, ctx, items, False, backup_dir, claims=claims)
        if done:
            yield [
                RunResult(
                    r.line,
                    by_id[r.line].customer_number,
                    by_id[r.line].service,
                    "done" if r.status == "ended" else "failed",
                    r.outcome,
                    _error_of(r),
                )
                for r in done
            ]
