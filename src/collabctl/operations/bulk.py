"""``end --from``: many ends from a stream, each item on its own.

Each line is a bare customer number or a JSON object with any of
``customer_number``, ``service``, ``outcome``, ``by``, ``reason``, ``confirm``,
``force``; the command-line flags fill in what a line leaves out. Blank lines
and lines starting with ``#`` are skipped.

Every item goes through the same ``end_collaboration`` as a single end. A
refused item changes nothing, so it never undoes or stops another; any other
failure discards the whole uncommitted batch and stops the run. Items are
committed in batches for speed, and a result is reported only after its batch
is committed: a run killed at any moment leaves each item either fully ended
(collaboration, subscription, audit event) or untouched, and a re-run reports
what was done as ``already-ended``.

Input and output are streams: the memory used does not grow with the input.
"""

from __future__ import annotations

import json
import os
import select
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from collabctl.domain import validation
from collabctl.domain.errors import AlreadyEnded, CollabError, InvalidInput
from collabctl.operations.context import Context
from collabctl.operations.ending import EndRequest, end_collaboration, preflight, require_answers
from collabctl.store.database import Database
from collabctl.store.retry import DEFAULT_BACKOFF
from collabctl.store.statements import Statements

ITEM_KEYS = ("customer_number", "service", "outcome", "by", "reason", "confirm", "force")
STATUSES = ("ended", "already-ended", "would-end", "failed")
#: Items per transaction. Larger batches commit less often; smaller ones report
#: sooner and hold the write lock for less time.
BATCH_ITEMS = 500
#: A batch is also closed when reading it took this long, so slow input still
#: gets its results promptly.
BATCH_SECONDS = 0.25
_LINE_HINT = 'a line is a customer number or a JSON object such as {"customer_number": "1001"}'


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


# -- reading ------------------------------------------------------------------------


class LineReader:
    """The lines of a stream, read in large blocks.

    Yields ``None`` whenever the input is a pipe or terminal with no further
    line ready yet, so that the items read so far can be finished (and their
    results shown) instead of waiting for the producer. ``position`` and
    ``size`` (for regular files) let a progress display show how far it got.
    """

    BLOCK = 1 << 16

    def __init__(self, stream: IO[Any]) -> None:
        self.stream = stream
        self.position = 0
        self.size: int | None = None
        self._fd: int | None = None
        self._regular = False
        try:
            fd = stream.fileno()
            info = os.fstat(fd)
        except (AttributeError, OSError, ValueError):  # in-memory streams (tests, libraries)
            return
        self._fd = fd
        self._regular = stat.S_ISREG(info.st_mode)
        if self._regular:
            self.size = max(info.st_size - os.lseek(fd, 0, os.SEEK_CUR), 0)

    def __iter__(self) -> Iterator[str | bytes | None]:
        if self._fd is None:
            for line in self.stream:
                self.position += len(line)
                yield line
            return
        fd, tail = self._fd, b""
        while True:
            if not self._regular and not _ready(fd):
                yield None
            block = os.read(fd, self.BLOCK)
            if not block:
                break
            lines = (tail + block).split(b"\n") if tail else block.split(b"\n")
            tail = lines.pop()
            for line in lines:
                self.position += len(line) + 1
                yield line
        if tail:
            self.position += len(tail)
            yield tail


def _ready(fd: int) -> bool:
    """Whether reading ``fd`` would return at once (data or end of input)."""
    if os.name == "nt":  # select() does not take pipes there; never pause
        return True
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def parse_line(line: str | bytes, defaults: EndRequest) -> EndRequest | None:
    """One input line as a request; None for a blank or comment line."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("the line is not UTF-8 text", "save the input as UTF-8") from None
    text = line.strip().lstrip("\ufeff")  # a byte-order mark from spreadsheet exports
    if not text or text.startswith("#"):
        return None
    if not text.startswith(("{", "[")):
        # the common line of a big run: built directly, several times cheaper than
        # dataclasses.replace (a test checks that every field is carried over)
        return EndRequest(
            customer_number=validation.customer_number(text, "customer number"),
            service=defaults.service,
            outcome=defaults.outcome,
            by=defaults.by,
            confirm=defaults.confirm,
            force=defaults.force,
            reason=defaults.reason,
            backup=defaults.backup,
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON ({exc.msg})", _LINE_HINT) from None
    if not isinstance(data, dict):
        raise InvalidInput("expected a JSON object", _LINE_HINT)
    unknown = sorted(set(data) - set(ITEM_KEYS))
    if unknown:
        raise InvalidInput(f"{unknown[0]}: unknown field", f"known fields: {', '.join(ITEM_KEYS)}")
    if data.get("customer_number") is None:
        raise InvalidInput("customer_number: required field is missing", _LINE_HINT)
    # a key that is absent or null takes the value of the command-line flag
    values: dict[str, Any] = {key: data[key] for key in ITEM_KEYS[1:] if data.get(key) is not None}
    for key in ("service", "outcome", "by", "reason"):
        if key in values and not isinstance(values[key], str):
            raise InvalidInput(f"{key}: expected a string")
    if "confirm" in values:
        confirm = values["confirm"]
        if not isinstance(confirm, list) or not all(isinstance(c, str) for c in confirm):
            raise InvalidInput(
                "confirm: expected a list of checklist items",
                'e.g. "confirm": ["data-synchronised"]',
            )
        values["confirm"] = tuple(confirm)
    if "force" in values and not isinstance(values["force"], bool):
        raise InvalidInput("force: expected true or false")
    return replace(
        defaults, customer_number=validation.customer_number(data["customer_number"]), **values
    )


def _identify(line: str | bytes, defaults: EndRequest) -> tuple[str | None, str | None]:
    """The customer number and service of a line that failed to parse, when they can be told."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, defaults.service
    if not isinstance(data, dict):
        return None, defaults.service
    number, service = data.get("customer_number"), data.get("service")
    return (
        str(number) if isinstance(number, str | int) and not isinstance(number, bool) else None,
        service if isinstance(service, str) else defaults.service,
    )


# -- ending -------------------------------------------------------------------------

_Item = tuple[int, EndRequest | None, BulkResult | None]


def end_many(
    db: Database,
    ctx: Context,
    lines: Iterable[str | bytes | None],
    defaults: EndRequest,
    *,
    dry_run: bool,
    backup_dir: Path,
) -> Iterator[list[BulkResult]]:
    """Batches of results, one result per item, in input order; each after its commit.

    ``lines`` may yield ``None`` to say that no further input is ready now: the
    items read so far are then finished before waiting for more.
    """
    batch: list[_Item] = []
    started = 0.0
    number = 0
    for line in lines:
        if line is None:
            if batch:
                yield _run_batch(db, ctx, batch, dry_run, backup_dir)
                batch = []
            continue
        number += 1
        try:
            request = parse_line(line, defaults)
        except CollabError as exc:
            customer, service = _identify(line, defaults)
            item: _Item = (number, None, BulkResult(number, customer, service, "failed", None, exc))
        else:
            if request is None:
                continue
            item = (number, request, None)
        if not batch:
            started = time.monotonic()
        batch.append(item)
        if len(batch) >= BATCH_ITEMS or time.monotonic() - started >= BATCH_SECONDS:
            yield _run_batch(db, ctx, batch, dry_run, backup_dir)
            batch = []
    if batch:
        yield _run_batch(db, ctx, batch, dry_run, backup_dir)


def _run_batch(
    db: Database, ctx: Context, batch: list[_Item], dry_run: bool, backup_dir: Path
) -> list[BulkResult]:
    """One transaction for the batch; lock conflicts roll it back and run it again."""
    from sqlalchemy.exc import DBAPIError

    try:
        return DEFAULT_BACKOFF.call(lambda: _try_batch(db, ctx, batch, dry_run, backup_dir))
    except DBAPIError as exc:
        raise db.translate(exc) from exc


def _try_batch(
    db: Database, ctx: Context, batch: list[_Item], dry_run: bool, backup_dir: Path
) -> list[BulkResult]:
    results: dict[int, BulkResult] = {}
    with db.session(write=not dry_run) as session:
        statements = None if dry_run else Statements(session)
        # Every run locks the companies of a batch in customer-number order, so runs over
        # the same customers in different orders queue for each other instead of deadlocking.
        for number, request, failed in sorted(batch, key=_lock_order):
            if request is None:
                assert failed is not None
                results[number] = failed
                continue
            result = BulkResult(
                number, request.customer_number, request.service, "failed", request.outcome
            )
            try:
                if statements is None:
                    pre = preflight(session, ctx, request)
                    result.outcome = pre.outcome or request.outcome
                    require_answers(pre)
                    result.status = "would-end"
                else:
                    # No savepoint needed: a refusal leaves nothing changed, and any
                    # other failure ends this whole uncommitted batch (see end_collaboration).
                    ended = end_collaboration(
                        session, ctx, request, backup_dir, statements=statements
                    )
                    result.status = "ended"
                    result.outcome = ended.collaboration["outcome"]
            except AlreadyEnded as exc:
                result.status = "already-ended"
                # what the collaboration ended with, which a re-run may not have repeated
                result.outcome = exc.details.get("collaboration", {}).get("outcome")
            except CollabError as exc:
                result.error = exc
            results[number] = result
        if not dry_run:
            session.commit()
    return [results[number] for number, _, _ in batch]


def _lock_order(item: _Item) -> str:
    # a stable sort: lines for the same company keep their input order
    return item[1].customer_number if item[1] is not None else ""
