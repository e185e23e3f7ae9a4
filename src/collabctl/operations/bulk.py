"""``end --from``: many ends from a stream, each item on its own.

Each line is a bare customer number or a JSON object with any of
``customer_number``, ``service``, ``outcome``, ``by``, ``reason``, ``confirm``,
``force``; the command-line flags fill in what a line leaves out.

Every item runs in its own savepoint, so a bad item never undoes another; items
are committed in small batches for speed, and a result is reported only after
its batch is committed. A run killed at any moment therefore leaves each item
either fully ended (collaboration, subscription, audit event) or untouched, and
a re-run reports what was done as ``already-ended``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError

from collabctl.domain import validation
from collabctl.domain.errors import CollabError, InvalidInput
from collabctl.operations.context import Context
from collabctl.operations.ending import EndRequest, end_collaboration, preflight
from collabctl.store.database import Database, is_retryable

ITEM_KEYS = ("customer_number", "service", "outcome", "by", "reason", "confirm", "force")
BATCH_ITEMS = 200
BATCH_SECONDS = 0.25


@dataclass
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


def parse_line(number: int, line: str, defaults: EndRequest) -> EndRequest:
    text = line.strip()
    if not text.startswith("{"):
        return replace(
            defaults, customer_number=validation.customer_number(text, "customer number")
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"not valid JSON ({exc.msg})", "a line is a customer number or a JSON object"
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput("expected a JSON object", "a line is a customer number or a JSON object")
    unknown = sorted(set(data) - set(ITEM_KEYS))
    if unknown:
        raise InvalidInput(f"{unknown[0]}: unknown field", f"known fields: {', '.join(ITEM_KEYS)}")
    if "customer_number" not in data:
        raise InvalidInput("customer_number: required field is missing")
    confirm = data.get("confirm", list(defaults.confirm))
    if not isinstance(confirm, list) or not all(isinstance(c, str) for c in confirm):
        raise InvalidInput("confirm: expected a list of checklist items")
    force = data.get("force", defaults.force)
    if not isinstance(force, bool):
        raise InvalidInput("force: expected true or false")
    for key in ("service", "outcome", "by", "reason"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            raise InvalidInput(f"{key}: expected a string")
    return replace(
        defaults,
        customer_number=validation.customer_number(data["customer_number"]),
        service=data.get("service", defaults.service),
        outcome=data.get("outcome", defaults.outcome),
        by=data.get("by", defaults.by),
        reason=data.get("reason", defaults.reason),
        confirm=tuple(confirm),
        force=force,
    )


def end_many(
    db: Database,
    ctx: Context,
    lines: Iterable[str],
    defaults: EndRequest,
    *,
    dry_run: bool,
    backup_dir: Path,
) -> Iterator[BulkResult]:
    """Yield one result per non-empty line, in input order, each after its commit."""
    batch: list[tuple[int, EndRequest | None, BulkResult | None]] = []
    started = time.monotonic()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            request: EndRequest | None = parse_line(number, line, defaults)
            batch.append((number, request, None))
        except CollabError as exc:
            batch.append(
                (number, None, BulkResult(number, None, defaults.service, "failed", error=exc))
            )
        if len(batch) >= BATCH_ITEMS or time.monotonic() - started > BATCH_SECONDS:
            yield from _run_batch(db, ctx, batch, dry_run, backup_dir)
            batch = []
            started = time.monotonic()
    if batch:
        yield from _run_batch(db, ctx, batch, dry_run, backup_dir)


def _run_batch(
    db: Database,
    ctx: Context,
    batch: list[tuple[int, EndRequest | None, BulkResult | None]],
    dry_run: bool,
    backup_dir: Path,
) -> list[BulkResult]:
    for attempt in range(8):
        try:
            return _try_batch(db, ctx, batch, dry_run, backup_dir)
        except DBAPIError as exc:
            if attempt < 7 and is_retryable(exc):
                time.sleep(0.05 * 2**attempt)
                continue
            raise db.translate(exc) from exc
    raise AssertionError("unreachable")


def _try_batch(
    db: Database,
    ctx: Context,
    batch: list[tuple[int, EndRequest | None, BulkResult | None]],
    dry_run: bool,
    backup_dir: Path,
) -> list[BulkResult]:
    results: list[BulkResult] = []
    with db.session(write=not dry_run) as session:
        for number, request, failed in batch:
            if request is None:
                assert failed is not None
                results.append(failed)
                continue
            result = BulkResult(
                number, request.customer_number, request.service, "failed", request.outcome
            )
            try:
                if dry_run:
                    pre = preflight(session, ctx, request)
                    result.outcome = pre.outcome
                    if pre.error is not None:
                        raise pre.error
                    result.status = "would-end"
                else:
                    with session.begin_nested():
                        ended = end_collaboration(session, ctx, request, backup_dir)
                    result.status = "ended"
                    result.outcome = ended.collaboration["outcome"]
            except CollabError as exc:
                if exc.code == "already-ended":
                    result.status = "already-ended"
                result.error = exc if result.status == "failed" else None
            results.append(result)
        if not dry_run:
            session.commit()
    return results
