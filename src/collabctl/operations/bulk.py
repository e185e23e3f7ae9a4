"""``end --from``: many ends from a stream, each item on its own.

Each line is a bare customer number or a JSON object with any of
``customer_number``, ``service``, ``outcome``, ``by``, ``reason``, ``confirm``,
``force``; the command-line flags fill in what a line leaves out. Blank lines
and lines starting with ``#`` are skipped. Reading and parsing are in
:mod:`collabctl.operations.bulk_input`.

Every item goes through the same ``end_in`` as a single end. One
item never costs another: a line that cannot be parsed, a refused item and an
item the database itself refuses are each that item's failed result, and the
run goes on. A refused item changes nothing; an item the database refuses
rolls its uncommitted batch back, and the batch runs again without it. Only a
failure that is no item's (the database went away) stops the run.

Items are committed in batches for speed, by the batch runner ``import`` uses too
(:mod:`collabctl.operations.batches`), and a result is reported only after
its batch is committed: a run killed at any moment leaves each item either
fully ended (collaboration, subscription, audit event) or untouched, and a
re-run reports what was done as ``already-ended``. Within a batch the items'
statements are batched too: the companies locked and read in one go for a
segment of items (``store.end_queries.ReadAhead``), and the plans of their ends
written together (``store.end_writes.apply_ends``).

Input and output are streams: the memory used does not grow with the input.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from collabctl.domain.errors import AlreadyEnded, CollabError, InvalidInput
from collabctl.operations import batches
from collabctl.operations.bulk_input import (
    ITEM_KEYS,
    Line,
    LineReader,
    OverlongLine,
    identify,
    parse_line,
)
from collabctl.operations.context import Context
from collabctl.operations.ending import (
    EndRequest,
    Ends,
    IncompleteEnd,
    end_in,
    require_answers,
)
from collabctl.operations.long_run import collector_set_aside
from collabctl.operations.preflight import run_preflight
from collabctl.store.database import Database
from collabctl.store.end_queries import ReadAhead
from collabctl.store.end_writes import BatchMismatch, EndWriter
from collabctl.store.statements import Statements

__all__ = [
    "BATCH_ITEMS",
    "BATCH_SECONDS",
    "ITEM_KEYS",
    "STATUSES",
    "BulkResult",
    "LineReader",
    "OverlongLine",
    "end_many",
    "parse_line",
]

STATUSES = ("ended", "already-ended", "would-end", "scheduled", "would-schedule", "failed")
#: Items per transaction. Larger batches commit less often; smaller ones report
#: sooner and hold the write lock for less time.
BATCH_ITEMS = 500
#: A batch is also closed when reading it took this long, so slow input still
#: gets its results promptly.
BATCH_SECONDS = 0.25


@dataclass(slots=True)
class BulkResult:
    line: int
    customer_number: str | None
    service: str | None
    status: str  # ended | already-ended | would-end | failed
    outcome: str | None = None
    error: CollabError | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "customer_number": self.customer_number,
            "service": self.service,
            "status": self.status,
            "outcome": self.outcome,
            "error": self.error.to_dict() if self.error else None,
        }


# -- ending -------------------------------------------------------------------------

_Item = tuple[int, EndRequest | None, BulkResult | None]


class Act(Protocol):
    """What each item does, in the batch's transaction: end it (the default), or schedule
    its end (``end --from --at``). Sets the item's status and outcome in ``result``; a
    refusal is a :class:`CollabError`, which leaves nothing changed."""

    def __call__(
        self,
        ends: Ends,
        ctx: Context,
        request: EndRequest,
        dry_run: bool,
        backup_dir: Path,
        result: BulkResult,
    ) -> None: ...


class Claims(Protocol):
    """Items that must be claimed in the transaction that performs them (``schedule run``):
    :meth:`claim` says which of the batch's items this transaction may perform, before
    any of them runs; :meth:`settle` records their results before the commit."""

    def claim(self, sql: Statements, lines: list[int]) -> set[int]: ...

    def settle(self, sql: Statements, results: list[BulkResult]) -> None: ...


def end_item(
    ends: Ends,
    ctx: Context,
    request: EndRequest,
    dry_run: bool,
    backup_dir: Path,
    result: BulkResult,
) -> None:
    """The end of one item (:class:`Act`), or its pre-flight in a dry run."""
    if dry_run:
        pre = run_preflight(ends.sql, ctx, request, lock=False, ahead=ends.ahead)
        result.outcome = pre.outcome or request.outcome
        require_answers(pre)
        result.status = "would-end"
        return
    # No savepoint needed: a refusal leaves nothing changed, and any other
    # failure ends this whole uncommitted batch (see end_in).
    ended = end_in(ends, ctx, request, backup_dir)
    result.status = "ended"
    result.outcome = ended.collaboration["outcome"]


def end_many(
    db: Database,
    ctx: Context,
    lines: Iterable[Line | None],
    defaults: EndRequest,
    *,
    dry_run: bool,
    backup_dir: Path,
    act: Act = end_item,
) -> Iterator[list[BulkResult]]:
    """Batches of results, one result per item, in input order; each after its commit.

    ``lines`` may yield ``None`` to say that no further input is ready now: the
    items read so far are then finished before waiting for more.
    """
    with collector_set_aside():
        yield from _end_batches(
            db, ctx, lines, defaults, dry_run=dry_run, backup_dir=backup_dir, act=act
        )


def _end_batches(
    db: Database,
    ctx: Context,
    lines: Iterable[Line | None],
    defaults: EndRequest,
    *,
    dry_run: bool,
    backup_dir: Path,
    act: Act,
) -> Iterator[list[BulkResult]]:
    items = _items(lines, defaults)
    for batch in batches.gather(items, size=BATCH_ITEMS, seconds=BATCH_SECONDS):
        done = run_batch(db, ctx, batch, dry_run, backup_dir, act)
        batch.clear()  # its requests go before the next batch is read
        yield done


def _items(lines: Iterable[Line | None], defaults: EndRequest) -> Iterator[_Item | None]:
    """The input's items, numbered by line; a line that cannot be parsed is its failed
    result already. Blank and comment lines are skipped; ``None`` (a pause) passes."""
    number = 0
    for line in lines:
        if line is None:
            yield None
            continue
        number += 1
        try:
            request = parse_line(line, defaults)
        except CollabError as exc:
            customer, service = identify(line, defaults)
            yield (number, None, BulkResult(number, customer, service, "failed", None, exc))
        else:
            if request is not None:
                yield (number, request, None)


def run_batch(
    db: Database,
    ctx: Context,
    batch: list[_Item],
    dry_run: bool,
    backup_dir: Path,
    act: Act = end_item,
    claims: Claims | None = None,
) -> list[BulkResult]:
    """One transaction for the batch (:func:`collabctl.operations.batches.run`); lock
    conflicts roll it back and run it again, and an item the database refuses is taken
    out of it (its result: failed) before it runs again.

    The batch first runs with its statements batched (read ahead per segment, the ends'
    plans written together: :mod:`collabctl.store.end_writes`). When the database
    refuses a batched write, which names no item, or a batched end did not change its
    row, the batch is rolled back and runs item by item, where the refusal is the
    item's own."""
    from sqlalchemy.exc import DBAPIError

    def work(items: list[_Item], batched: bool, refused: dict[Any, Any]) -> list[BulkResult]:
        return _try_batch(db, ctx, items, dry_run, backup_dir, batched, act, claims, refused)

    try:
        done, refused = batches.run(batch, work, key=_line_of)
    except DBAPIError as exc:
        raise db.translate(exc) from exc
    if not refused or claims is not None:  # claimed: done has the refused it owns
        return done
    results = {result.line: result for result in done} | refused
    return [results[number] for number, _, _ in batch]


def _line_of(item: _Item) -> int:
    return item[0]


class _ItemRefused(batches.ItemRefused):
    """The database refused one item: its batch is rolled back and runs again without it."""

    def __init__(self, result: BulkResult) -> None:
        super().__init__(result.line, result)


class _BatchRefused(batches.BatchRefused):
    """The database refused a batched write: the batch runs again item by item."""


def _refused_by_database(exc: BaseException) -> bool:
    """Whether a failure is the item's own (a value or constraint the database refuses),
    not the database's (unreachable, locked): the item fails, the others go on."""
    from sqlalchemy.exc import DataError, IntegrityError

    if isinstance(exc, DataError | IntegrityError | IncompleteEnd | UnicodeError):
        return True
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    return sqlstate.startswith(("22", "23"))  # data exception, integrity constraint violation


def _try_batch(
    db: Database,
    ctx: Context,
    batch: list[_Item],
    dry_run: bool,
    backup_dir: Path,
    batched: bool,
    act: Act = end_item,
    claims: Claims | None = None,
    refused: dict[int, BulkResult] | None = None,
) -> list[BulkResult]:
    results: dict[int, BulkResult] = {}
    with db.session(write=not dry_run) as session:
        sql = Statements(session)
        ahead = ReadAhead(sql, lock=not dry_run) if batched else None
        ends = Ends(sql, EndWriter(sql, batched=batched), ahead)
        if claims is not None:
            # what this transaction performs: the items no other run has, claimed before
            # any of them runs, settled before the commit
            owned = claims.claim(sql, [n for n, _, _ in batch] + list(refused or ()))
            batch = [item for item in batch if item[0] in owned]
        # Every run locks the companies of a batch in customer-number order, so runs over
        # the same customers in different orders queue for each other instead of deadlocking.
        for segment in _segments(sorted(batch, key=_lock_order)):
            if ahead is not None:
                ahead.read(_targets(ctx, segment))
            for number, request, failed in segment:
                if request is None:
                    assert failed is not None
                    results[number] = failed
                    continue
                results[number] = _end_one(ends, ctx, number, request, dry_run, backup_dir, act)
            try:
                ends.writer.flush()
            except BatchMismatch:
                raise _BatchRefused() from None
            except Exception as exc:
                if not _refused_by_database(exc):
                    raise
                raise _BatchRefused() from exc
        if claims is not None:
            for number, result in (refused or {}).items():
                if number in owned:
                    results[number] = result
            done = sorted(results.values(), key=lambda result: result.line)
            claims.settle(sql, done)
        if not dry_run:
            session.commit()
    if claims is not None:
        return done
    return [results[number] for number, _, _ in batch]


def _end_one(
    ends: Ends,
    ctx: Context,
    number: int,
    request: EndRequest,
    dry_run: bool,
    backup_dir: Path,
    act: Act = end_item,
) -> BulkResult:
    result = BulkResult(number, request.customer_number, request.service, "failed", request.outcome)
    try:
        act(ends, ctx, request, dry_run, backup_dir, result)
    except AlreadyEnded as exc:
        result.status = "already-ended"
        # what the collaboration ended with, which a re-run may not have repeated
        result.outcome = exc.details.get("collaboration", {}).get("outcome")
    except CollabError as exc:
        result.error = exc
    except BatchMismatch:
        # a delete flushes the plans held before it: one of them did not change its row
        raise _BatchRefused() from None
    except Exception as exc:
        if not _refused_by_database(exc):
            raise
        if ends.writer.batched:
            # a held-back write of an earlier item may be what failed: find out item by item
            raise _BatchRefused() from exc
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["refused"]
        result.error = InvalidInput(
            f"the database refused this item: {reason[0]}",
            "check the item's values; the other items are not affected",
        )
        raise _ItemRefused(result) from exc
    return result


def _segments(items: list[_Item]) -> Iterator[list[_Item]]:
    """Runs of items, in the given (customer-number) order, in which no company comes twice:
    what :meth:`ReadAhead.read` reads for one item must still hold when the item runs."""
    segment: list[_Item] = []
    seen: set[str] = set()
    for item in items:
        request = item[1]
        if request is not None:
            if request.customer_number in seen:
                yield segment
                segment, seen = [], set()
            seen.add(request.customer_number)
        segment.append(item)
    if segment:
        yield segment


def _targets(ctx: Context, segment: list[_Item]) -> list[tuple[str, str]]:
    """What to read ahead for a segment: (customer number, service code) of each item whose
    service is known (an unknown one is that item's invalid-input before anything is read)."""
    targets = []
    for _, request, _ in segment:
        if request is None or not request.service:
            continue
        try:
            code = ctx.service(request.service).code
        except CollabError:
            continue
        targets.append((request.customer_number, code))
    return targets


def _lock_order(item: _Item) -> str:
    # a stable sort: lines for the same company keep their input order
    return item[1].customer_number if item[1] is not None else ""
