"""The import loop: read, validate, batch, compare, write, commit, report.

Each item is parsed (``reader``) and validated (``models``, ``rules``) on its
own, before the database is touched: whatever is wrong with one item is that
item's error. Valid items are gathered into batches, each run in a transaction
by the batch runner that ``end --from`` uses too (``operations.batches``). For
a batch, what is stored is read in one query per table, each item is compared
with it (``plan``), and the batch's rows are written with one ``executemany``
per statement and one audit event per changed item, in one transaction. Results
are reported only after their batch is committed, so a run killed at any
moment leaves every item either fully imported or untouched, and never
reported as written what was rolled back.

When the database refuses a batch (a value it will not store, a key another
import stored a moment ago), the batch is done again item by item, so only the
item it refuses fails and the good items of the batch are kept; an item refused
for a key is read again once before it fails.

After the last batch, the planner statistics of the tables the import wrote
are refreshed (``store.analyze``), so that a command run right after it is
planned for the data as it is now.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from collabctl.domain.catalogue import Catalogue, Service
from collabctl.domain.errors import CollabError, InvalidInput, NotAParty
from collabctl.operations import batches
from collabctl.operations.context import Context, change_time
from collabctl.operations.importing.models import readable_key, validate_office, validate_service
from collabctl.operations.importing.plan import plan_company, plan_office, plan_service
from collabctl.operations.importing.reader import KINDS, Item
from collabctl.operations.importing.results import Changes, ItemResult
from collabctl.operations.importing.rules import validate_company
from collabctl.operations.long_run import collector_set_aside
from collabctl.store.analyze import refresh_statistics
from collabctl.store.import_rows import (
    Writes,
    count_written,
    read_companies,
    read_offices,
    read_service,
    write,
)
from collabctl.store.statements import Statements

#: Items per transaction: larger batches commit less often, smaller ones report sooner
#: and hold the write lock for less time.
BATCH_ITEMS = 500
#: Nested rows (users, subscriptions, collaborations, records) per batch, so a batch of
#: large companies stays small in memory.
BATCH_ROWS = 5_000
#: A batch is also closed when reading it took this long, so slow input still gets its
#: results promptly.
BATCH_SECONDS = 0.25
#: allocations between collections of the youngest generation during an import
_GC_THRESHOLD = 20_000


@dataclass(slots=True)
class _Entry:
    result: ItemResult
    #: the validated item (OfficeIn, CompanyIn or Service); None when it failed already
    model: Any = None
    rows: int = 0


def import_items(
    session: Session,
    ctx: Context,
    items: Iterable[Item | None],
    *,
    batch_size: int = BATCH_ITEMS,
    dry_run: bool = False,
) -> Iterator[ItemResult]:
    """Import the items; one result per item, in input order, each after its commit.

    ``items`` may yield ``None`` when the input pauses: the items read so far are
    then written and reported before waiting for more. A :class:`CollabError` from
    ``items`` (input that cannot be read any further) is raised after the items
    read before it are written and reported. The session must be a writing session.

    ``dry_run``: every batch is written as in a real run, each in a savepoint of one
    transaction that is never committed (the caller's session rolls it back), so later
    items see the earlier ones and the results are those a real run would have.
    """
    if ctx.party is not None:
        raise NotAParty(
            f"import acts for all parties; collabctl is acting as {ctx.party}",
            "run import as a support agent: without --as (and COLLABCTL_AS unset)",
        )
    # An import allocates many short-lived objects (a few hundred an item) and keeps only a
    # batch of them: everything loaded before it is set aside from the collector.
    with collector_set_aside(_GC_THRESHOLD):
        yield from _Importer(session, ctx, dry_run=dry_run).run(items, batch_size)


class _Importer:
    def __init__(self, session: Session, ctx: Context, *, dry_run: bool = False) -> None:
        self.session = session
        self.ctx = ctx
        self.dry_run = dry_run
        self.catalogue: Catalogue = ctx.catalogue
        #: rows written and committed, by table
        self.written: dict[str, int] = {}

    def run(self, items: Iterable[Item | None], batch_size: int) -> Iterator[ItemResult]:
        entries = (None if item is None else self._validate(item) for item in items)
        groups = batches.gather(
            entries,
            size=batch_size,
            seconds=BATCH_SECONDS,
            weight=_rows,
            most_weight=BATCH_ROWS,
            # a key seen twice in one batch, or a service that later items may use:
            # what comes before is written first
            key=_key,
            alone=_is_service,
        )
        try:
            for batch in groups:
                results = self._flush(batch)
                batch.clear()  # the validated items go before the next batch is read
                yield from results
        except CollabError:
            # the input cannot be read any further: what was read before it is written
            # and reported (gather yields it first)
            self._refresh_statistics()
            raise
        self._refresh_statistics()

    def _refresh_statistics(self) -> None:
        """What the import wrote, described to the planner at once: a command run right
        after it (``import && end --from -``) is planned for the tables as they are now,
        not as they were before (store.analyze)."""
        if not self.written:
            return
        written, self.written = self.written, {}
        try:
            refresh_statistics(Statements(self.session), written)
            self.session.commit()
        except DBAPIError:
            # everything is imported and committed; the statistics are autovacuum's then
            self.session.rollback()

    # -- one item, before the database ---------------------------------------------

    def _validate(self, item: Item) -> _Entry:
        kind = item.kind if item.kind in KINDS else None
        result = ItemResult(kind, None, item.where, line=item.line)
        entry = _Entry(result)
        if item.error is not None:
            result.error = item.error
            return entry
        try:
            if kind == "company":
                company = validate_company(item.data, item.where, self.catalogue)
                entry.rows = (
                    len(company.users)
                    + len(company.subscriptions)
                    + len(company.collaborations)
                    + len(company.records)
                )
                result.key, entry.model = company.customer_number, company
            elif kind == "office":
                office = validate_office(item.data, item.where)
                result.key, entry.model = office.org_number, office
            elif kind == "service":
                service = validate_service(item.data, item.where)
                result.key, entry.model = service.code, service
            else:
                raise InvalidInput(f"{item.where}: not an office, company or service")
        except CollabError as exc:
            result.error = _located(exc, item.where)
        except (RecursionError, ValueError, OverflowError, UnicodeError) as exc:
            result.error = InvalidInput(
                f"{item.where}: cannot be read ({type(exc).__name__})",
                "check the item's values; see the import format in `collabctl import --help`",
            )
        if result.error is not None:
            result.key = readable_key(item.kind, item.data)
        return entry

    # -- a batch ------------------------------------------------------------------------

    def _flush(self, entries: list[_Entry]) -> list[ItemResult]:
        work = [e for e in entries if e.model is not None]
        if work:
            self._write(work)
        return [e.result for e in entries]

    def _write(self, work: list[_Entry]) -> None:
        """Write the batch in one transaction; item by item when the database refuses it
        (:func:`collabctl.operations.batches.run`)."""
        _, refused = batches.run(work, self._transaction, key=id)
        for entry in work:
            error = refused.get(id(entry))
            if error is not None:
                entry.result.changes = Changes()
                entry.result.error = error

    def _transaction(self, work: list[_Entry], batched: bool, _refused: object) -> None:
        """The items in one transaction (a savepoint in a dry run), committed: their writes
        together, or (``batched`` false) each item's on its own, so that a refusal of the
        database is the item's."""
        savepoint = self.session.begin_nested() if self.dry_run else None
        try:
            sql = Statements(self.session)
            at = change_time(sql)
            written = []
            for group in [work] if batched else [[entry] for entry in work]:
                try:
                    written.append(self._apply(sql, at, group))
                except (IntegrityError, DataError) as exc:
                    if len(group) > 1:
                        raise batches.BatchRefused() from exc
                    (entry,) = group
                    # an IntegrityError may name a key another import stored a moment
                    # ago (the database made this one wait for it, then refused): the
                    # item is read again once before it fails
                    raise batches.ItemRefused(
                        id(entry), _refusal(entry, exc), read_again=isinstance(exc, IntegrityError)
                    ) from exc
            if savepoint is not None:
                savepoint.commit()  # released; the transaction around it is never committed
            else:
                self.session.commit()
        except Exception:
            if savepoint is not None:
                savepoint.rollback()
            else:
                self.session.rollback()
            raise
        if savepoint is None:
            for writes in written:
                count_written(writes, self.written)
        new_services: list[Service] = [
            e.model
            for e in work
            if e.result.kind == "service" and e.result.error is None and e.result.changes
        ]
        if new_services:
            self.catalogue = self.catalogue.extended(new_services)

    def _apply(self, sql: Statements, at: str, work: list[_Entry]) -> Writes:
        """Compare the items with what is stored and write what changes; each item's
        result says what changed, or its error."""
        companies = [e for e in work if e.result.kind == "company"]
        wanted_offices = {e.model.org_number for e in work if e.result.kind == "office"}
        for entry in companies:
            wanted_offices.update(c.office for c in entry.model.collaborations)
        offices = read_offices(sql, wanted_offices) if wanted_offices else {}
        stored = read_companies(
            sql,
            [e.model.customer_number for e in companies],
            {e.model.customer_number for e in companies if e.model.records},
        )
        known = set(offices)
        writes = Writes()
        for entry in work:
            result = entry.result
            key = result.key
            assert key is not None
            mark = writes.mark()
            result.error = None
            try:
                if result.kind == "company":
                    changes = plan_company(
                        entry.model, stored.get(key), known.__contains__, at, result.where, writes
                    )
                elif result.kind == "office":
                    changes = plan_office(entry.model, offices.get(key), writes)
                    known.add(key)
                else:
                    changes = plan_service(entry.model, read_service(sql, key), writes)
            except CollabError as exc:
                writes.undo(mark)
                result.changes = Changes()
                result.error = _located(exc, result.where)
                continue
            result.changes = changes
            if changes:
                writes.events.append(
                    {
                        "at": at,
                        "actor": self.ctx.actor,
                        "scope": self.ctx.scope,
                        "action": "import",
                        "customer_number": key if result.kind == "company" else None,
                        "service": None,
                        "details": {"item": result.kind, "key": key, **changes.details()},
                    }
                )
        write(sql, writes)
        return writes


def _rows(entry: _Entry) -> int:
    return entry.rows


def _key(entry: _Entry) -> tuple[str | None, str | None] | None:
    return (entry.result.kind, entry.result.key) if entry.model is not None else None


def _is_service(entry: _Entry) -> bool:
    return entry.result.kind == "service" and entry.model is not None


def _refusal(entry: _Entry, exc: Exception) -> CollabError:
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()
    return InvalidInput(
        f"{entry.result.where}: the database refused it ({reason[0] if reason else 'refused'})",
        "check the values of this item",
    )


def _located(exc: CollabError, where: str) -> CollabError:
    """Every error of an item starts with where the item is."""
    if not exc.message.startswith(where):
        exc.message = f"{where}: {exc.message}"
    return exc
