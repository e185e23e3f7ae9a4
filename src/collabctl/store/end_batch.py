"""Many ends in one transaction with a few statements per batch instead of several per item.

A bulk end runs every item through the same ``end_collaboration`` as a
single end. Item by item, that is five to seven statements each: the
company's row lock, the pre-flight's query, the chain's head, then the
collaboration, the subscription, the audit event and the notifications. On
PostgreSQL each of those is a round trip to the server (about 1 ms an item);
on SQLite each is a call into the driver.

:class:`BatchStatements` runs the same code with fewer statements. The caller
hands it a *segment* of items whose companies are all different, in
customer-number order; :meth:`BatchStatements.read_ahead` then

1. locks the segment's companies with one ``SELECT ... FOR UPDATE``, in
   customer-number order (PostgreSQL; a SQLite writer holds the database's
   write lock already),
2. reads what the pre-flight needs for all of them in one query, and the head
   of each company's audit chain in one more, after the lock (so under READ
   COMMITTED they see what whoever held the locks before committed).

While the items run, the statements it recognises are answered from what it
read ahead, and the writes of an end (collaboration, subscription, audit
event, notifications) are held back and sent at the end of the segment: on
SQLite one ``executemany`` per statement; on PostgreSQL one statement per kind
of write over a JSON array of the items' parameters, and the audit events with
``COPY``, so a segment of 500 items is about seven round trips instead of
3 500. Any statement it does not recognise runs as it comes, after the
held-back writes when it is a write, so correctness never depends on
recognising a statement: an unrecognised read is only slower. Between
``SAVEPOINT`` and its release (``delete``'s backup reads the ORM session)
nothing is held back.

Why this is the same as running the items one by one:

- every item's reads concern its own company, and the segment holds each
  company once, so no item reads what another item's held-back write changes
  (the notifications' ``INSERT ... SELECT`` reads users and offices, which an
  end does not write);
- a held-back audit event moves its company's chain head at once, so whatever
  links to that chain next in the segment links to it;
- an end's UPDATE of its collaboration must change exactly one row (the row
  was read under the lock in this transaction); :meth:`flush` checks that the
  segment's UPDATEs changed one row each and raises :class:`BatchMismatch`
  otherwise, after which the caller rolls the batch back and runs it item by
  item, where a changed row is that item's ``conflict``;
- a write the database refuses fails the whole segment's statement; the caller
  rolls the batch back and runs it item by item to find the item.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy.orm import Session

from collabctl.store import audit, chain, end_queries, locks, outbox, schedules
from collabctl.store.chain import Link
from collabctl.store.statements import Statements

__all__ = ["BatchMismatch", "BatchStatements"]


class BatchMismatch(RuntimeError):
    """A held-back UPDATE did not change the row it was meant to: run the batch item by item."""


class _Answer:
    """What a cursor gives back, for a statement answered from what was read ahead."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: Sequence[tuple[Any, ...]], rowcount: int = -1) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._rows)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)


_NO_ROWS = _Answer(())
_LOCKED = _Answer(((1,),), 1)
#: an UPDATE held back: the one row it will change (checked when it runs)
_ONE_ROW = _Answer((), 1)

#: The writes of an end that are held back until the segment is flushed. Their callers
#: build a new parameter dict for every call and use no result but ``rowcount`` (of the
#: collaboration's UPDATE, which flush() checks).
_HELD_BACK = frozenset(
    {
        end_queries.END_SQL,
        end_queries.UPDATE_SUBSCRIPTION_SQL,
        end_queries.INSERT_SUBSCRIPTION_SQL,
        # the statements audit.insert_audit_event and notify.queue_end run for an end
        audit._INSERT_SQL,
        outbox._QUEUE_PAIR_SQL,
        # an end by hand settles the collaboration's scheduled end
        schedules.ENDED_BY_HAND_SQL,
    }
)
_CHECKED = end_queries.END_SQL
_AUDIT = audit._INSERT_SQL
#: customer numbers per read-ahead query (SQLite's oldest limit is 999 parameters)
_CHUNK = 500


class BatchStatements(Statements):
    """:class:`Statements` for a bulk end: reads ahead per segment, writes per segment.

    ``write``: the transaction changes things (locks are taken, audit chain heads read);
    a dry run reads ahead only what the pre-flight needs.
    """

    def __init__(self, session: Session, *, write: bool) -> None:
        super().__init__(session)
        self._write = write
        self._locked: set[str] = set()
        self._targets: dict[tuple[str, str], tuple[Any, ...] | None] = {}
        self._heads: dict[str, Link] = {}
        self._held: dict[str, list[dict[str, Any]]] = {}
        self._immediate = False
        self._session_user: list[tuple[Any, ...]] | None = None

    # -- the segment ------------------------------------------------------------------

    def read_ahead(self, items: Iterable[tuple[str, str]]) -> None:
        """Lock and read for a segment: (customer number, service code) pairs, one per
        company. What was read for earlier segments is dropped."""
        self.flush()
        self._locked.clear()
        self._targets.clear()
        self._heads.clear()
        by_service: dict[str, list[str]] = {}
        for number, service in items:
            by_service.setdefault(service, []).append(number)
        numbers = sorted({n for group in by_service.values() for n in group})
        if not numbers:
            return
        if self._write and self.postgres:
            # one statement, in customer-number order: runs over the same customers queue
            # for each other's locks instead of deadlocking
            self._locked.update(locks.lock_companies(self, numbers))
        for service, group in by_service.items():
            for start in range(0, len(group), _CHUNK):
                chunk = group[start : start + _CHUNK]
                found = end_queries.end_targets(self, chunk, service)
                for number in chunk:
                    self._targets[number, service] = found.get(number)
        if self._write:
            # the heads of chains whose companies are locked (or exist under SQLite's lock)
            self._heads.update(chain.next_links(self, numbers, locked=True))

    def flush(self) -> None:
        """Send the held-back writes, one statement (or ``executemany``) per kind of
        write, in the order each kind first came."""
        if not self._held:
            return
        held, self._held = self._held, {}
        for sql, rows in held.items():
            write = _PG_SET_WRITES.get(sql) if self.postgres else None
            if sql in _SET_WRITES:
                changed = _SET_WRITES[sql](self, rows)
            elif write is not None:
                changed = write(self, rows)  # PostgreSQL: the statement over the rows
            else:
                Statements.executemany(self, sql, rows)
                changed = self._cursor.rowcount
            if sql == _CHECKED and changed != len(rows):
                raise BatchMismatch(f"{len(rows)} collaborations to end, {changed} changed")

    # -- statements -------------------------------------------------------------------

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        answer = _ANSWERS.get(sql)
        if answer is not None:
            found = answer(self, params or {})
            if found is not None:
                return found
        elif sql in _HELD_BACK:
            assert params is not None
            if sql == _AUDIT and params["customer_number"] is not None:
                # the chain's new head, for whatever links to it next
                self._heads[params["customer_number"]] = Link(
                    params["db_user"], params["hash"], params["at"]
                )
            if not self._immediate:
                self._held.setdefault(sql, []).append(params)
                return _ONE_ROW
        elif sql.startswith("SAVEPOINT"):
            # until it is released, what runs sees every earlier change (delete's backup
            # reads the company through the ORM session)
            self.flush()
            self._immediate = True
        elif sql.startswith("RELEASE"):
            self._immediate = False
        elif sql.startswith("ROLLBACK TO"):
            # what was read ahead may describe what is being undone: read it again
            self._locked.clear()
            self._targets.clear()
            self._heads.clear()
        elif not sql.lstrip().startswith("SELECT"):
            self.flush()  # any other write runs after the ones held back, in order
        return super().execute(sql, params)

    def executemany(self, sql: str, rows: list[dict[str, Any]]) -> None:
        self.flush()
        super().executemany(sql, rows)

    def insert_many(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        self.flush()
        super().insert_many(table, columns, rows)

    # -- answers: None when the statement must run after all ---------------------------

    def _answer_lock(self, params: dict[str, Any]) -> _Answer | None:
        return _LOCKED if params["number"] in self._locked else None

    def _answer_target(self, params: dict[str, Any]) -> _Answer | None:
        key = (params["number"], params["service"])
        if key not in self._targets:
            return None
        row = self._targets[key]
        return _NO_ROWS if row is None else _Answer((row,))

    def _answer_head(self, params: dict[str, Any]) -> _Answer | None:
        link = self._heads.get(params["number"])
        if link is None:
            return None
        return _NO_ROWS if link.prev_hash is None else _Answer(((link.prev_hash,),))

    def _answer_pg_head(self, params: dict[str, Any]) -> _Answer | None:
        link = self._heads.get(params["number"])
        return None if link is None else _Answer(((link.db_user, link.at, link.prev_hash),))

    def _answer_session_user(self, params: dict[str, Any]) -> _Answer | None:
        # who the connection is and when its transaction began (the events' time) do not
        # change for the transaction this object serves: asked once, not once per segment
        if self._session_user is None:
            self._session_user = super().execute(chain.PG_WHO_SQL).fetchall()
        return _Answer(self._session_user)

    # -- PostgreSQL: each held-back statement as one statement over arrays ----------

    def _end_collaborations(self, rows: list[dict[str, Any]]) -> int:
        return self._set_write(_PG_END_MANY_SQL, rows)

    def _update_subscriptions(self, rows: list[dict[str, Any]]) -> int:
        return self._set_write(_PG_SUBSCRIPTIONS_SQL, rows)

    def _insert_audit_events(self, rows: list[dict[str, Any]]) -> int:
        Statements.insert_many(
            self, "audit_event", _AUDIT_COLUMNS, [[row[c] for c in _AUDIT_COLUMNS] for row in rows]
        )
        return len(rows)

    def _queue_pairs(self, rows: list[dict[str, Any]]) -> int:
        return self._set_write(_PG_QUEUE_PAIRS_SQL, rows)

    def _set_write(self, sql: str, rows: list[dict[str, Any]]) -> int:
        """One statement for all the rows, sent as one JSON array of their parameters
        (encoded in C; psycopg builds array parameters element by element in Python)."""
        return int(Statements.execute(self, sql, {"rows": json.dumps(rows)}).rowcount)


#: the reads answered from what was read ahead (functions, not bound methods: a cycle
#: would keep the driver's cursor, and with it the SQLite file, open until collected)
_ANSWERS = {
    locks.LOCK_COMPANY_SQL: BatchStatements._answer_lock,
    end_queries.END_TARGET_SQL: BatchStatements._answer_target,
    # the head of a company's chain, as chain.next_link reads it
    chain._HEAD_SQL: BatchStatements._answer_head,
    chain._PG_HEAD_SQL: BatchStatements._answer_pg_head,
    chain.PG_WHO_SQL: BatchStatements._answer_session_user,
}

# PostgreSQL: the held-back writes of a segment as one statement each, over a JSON
# array of the parameters the single statements would have had. The same changes as
# the statements they replace, row for row; a test compares what a bulk end writes with
# what single ends write. Each finds its rows through an index whatever the table's
# size: the rows to change by ``= ANY(ARRAY(...))`` (an index scan; a join with the
# parameters alone may be planned as a hash join over the whole table), the addresses
# by a lookup per row (LATERAL). The collaborations' state is checked as a filter on
# the rows found by id (`IS TRUE`: the same test for a NOT NULL column): written as
# `state = 'active'` it matches the predicate of the partial index
# uq_collaboration_active, and a planner without statistics (tables just filled) then
# reads that whole index for every batch to AND it with the ids.
_PG_ROWS = "json_to_recordset(CAST(:rows AS json))"
_PG_END_MANY_SQL = f"""
UPDATE collaboration c
SET state = 'ended', ended_at = v.at, ended_by = v.ended_by, ended_actor = v.actor,
    outcome = v.outcome, reason = v.reason
FROM {_PG_ROWS} AS v(id bigint, at text, ended_by text, actor text, outcome text, reason text)
WHERE c.id = ANY(ARRAY(SELECT id FROM {_PG_ROWS} AS k(id bigint)))
  AND c.id = v.id AND (c.state = 'active') IS TRUE
"""
_PG_SUBSCRIPTIONS_SQL = f"""
UPDATE subscription s SET state = v.state
FROM {_PG_ROWS} AS v(number text, service text, state text)
WHERE s.customer_number = ANY(ARRAY(SELECT number FROM {_PG_ROWS} AS k(number text)))
  AND s.customer_number = v.number AND s.service = v.service
"""
# outbox.queue_pair for many ends: per end, the main contact's message then the office's,
# each to the address the party has now (none: a no-address message, never sent)
_PG_QUEUE_PAIRS_SQL = f"""
INSERT INTO outbox ({outbox._COLUMNS})
SELECT v.at, v.event, v.number, v.service, v.office, m.role, m.recipient, v.language,
       v.facts, CASE WHEN m.recipient IS NULL THEN 'no-address' ELSE 'pending' END, 0
FROM ROWS FROM (
         json_to_recordset(CAST(:rows AS json))
         AS (at text, event text, number text, service text, office text, language text,
             facts text)
     ) WITH ORDINALITY AS v(at, event, number, service, office, language, facts, n)
CROSS JOIN LATERAL (
    SELECT 0 AS k, 'main-contact' AS role,
           (SELECT u.email FROM company_user u
             WHERE u.customer_number = v.number AND u.main_contact) AS recipient
    UNION ALL
    SELECT 1, 'office', (SELECT o.email FROM office o WHERE o.org_number = v.office)
) AS m
ORDER BY v.n, m.k
"""
#: the audit event's columns, as audit.insert_audit_event names its parameters
_AUDIT_COLUMNS = (
    "at", "actor", "scope", "action", "customer_number", "service", "details", "db_user",
    "prev_hash", "hash",
)  # fmt: skip
_PG_SET_WRITES = {
    end_queries.END_SQL: BatchStatements._end_collaborations,
    end_queries.UPDATE_SUBSCRIPTION_SQL: BatchStatements._update_subscriptions,
    audit._INSERT_SQL: BatchStatements._insert_audit_events,
    outbox._QUEUE_PAIR_SQL: BatchStatements._queue_pairs,
}
#: the held-back writes sent as one statement over the segment on either backend (the
#: count they return is not checked)
_SET_WRITES = {schedules.ENDED_BY_HAND_SQL: schedules.ended_by_hand_many}
