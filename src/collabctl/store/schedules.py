"""The SQL of scheduled ends (``end --at``, ``schedule list|cancel|run``), with named rows.

A run claims the rows it performs in the transaction that performs their ends
(:func:`claim`): on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so concurrent
runs divide the due rows between them and never wait for each other's rows;
on SQLite a writing transaction holds the database's write lock, so reading
the state in it is the claim. A row is marked done or failed (:func:`settle`)
in that same transaction: a run killed before its commit leaves the row due.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from collabctl.store.statements import Statements

STATES = ("scheduled", "done", "failed", "cancelled")

_COLUMNS = """id, collaboration_id, customer_number, service, office_org_number, outcome,
       ended_by, confirm, force, reason, ends_on, due_at, state, scheduled_by, scope,
       created_at, error, claimed_by, claimed_at"""


class ScheduleRow(NamedTuple):
    id: int
    collaboration_id: int
    customer_number: str
    service: str
    office_org_number: str
    outcome: str
    ended_by: str
    confirm: Any  # JSON: a list of checklist items
    force: bool
    reason: str | None
    ends_on: str
    due_at: str
    state: str
    scheduled_by: str
    scope: str
    created_at: str
    error: str | None
    claimed_by: str | None
    claimed_at: str | None

    @property
    def confirmed(self) -> tuple[str, ...]:
        return _items(self.confirm)

    @property
    def error_dict(self) -> dict[str, Any] | None:
        return None if self.error is None else json.loads(self.error)


_BY_ID_SQL = f"SELECT {_COLUMNS} FROM scheduled_end WHERE id = :id"
_SCHEDULED_FOR_SQL = (
    f"SELECT {_COLUMNS} FROM scheduled_end "
    "WHERE collaboration_id = :collaboration AND state = 'scheduled'"
)
_SCHEDULED_BY_SERVICE_SQL = (
    f"SELECT {_COLUMNS} FROM scheduled_end "
    "WHERE customer_number = :number AND service = :service AND state = 'scheduled' "
    "ORDER BY id DESC"
)
_INSERT_SQL = """
INSERT INTO scheduled_end (collaboration_id, customer_number, service, office_org_number,
    outcome, ended_by, confirm, force, reason, ends_on, due_at, state, scheduled_by, scope,
    created_at)
VALUES (:collaboration, :number, :service, :office, :outcome, :by, :confirm, :force, :reason,
    :ends_on, :due_at, 'scheduled', :scheduled_by, :scope, :at)
RETURNING id
"""
_MOVE_SQL = """
UPDATE scheduled_end
SET outcome = :outcome, ended_by = :by, confirm = :confirm, force = :force, reason = :reason,
    ends_on = :ends_on, due_at = :due_at, scheduled_by = :scheduled_by, scope = :scope,
    created_at = :at
WHERE id = :id AND state = 'scheduled'
"""
_CANCEL_SQL = "UPDATE scheduled_end SET state = 'cancelled' WHERE id = :id AND state = 'scheduled'"
#: the due rows after a given one, in (due_at, id) order: a range of ix_scheduled_end_due
#: read in index order, so a batch costs the same however many rows are still due
_DUE_SQL = """
SELECT id, collaboration_id, customer_number, service, outcome, ended_by, confirm, force,
       reason, due_at
FROM scheduled_end
WHERE state = 'scheduled' AND due_at <= :now AND (due_at, id) > (:after_due, :after_id)
ORDER BY due_at, id LIMIT :limit
"""
#: by primary key: ``|| ''`` keeps the planner off ix_scheduled_end_due, which right after
#: many ends were scheduled (no statistics yet) it takes for one row and scans per batch
_PG_CLAIM_SQL = """
SELECT id FROM scheduled_end
WHERE id = ANY(:ids) AND state || '' = 'scheduled' AND due_at || '' <= :now
FOR UPDATE SKIP LOCKED
"""
#: by primary key: the unary + keeps SQLite from scanning ix_scheduled_end_due instead;
#: the ids as one JSON array (one parameter, one statement text for every batch)
_SQLITE_CLAIM_SQL = (
    "SELECT id FROM scheduled_end WHERE id IN (SELECT value FROM json_each(:ids)) "
    "AND +state = 'scheduled' AND +due_at <= :now"
)
_SETTLE_SQL = """
UPDATE scheduled_end SET state = :state, error = :error, claimed_by = :run, claimed_at = :at
WHERE id = :id AND state = 'scheduled'
"""
#: the done ones of a batch in one statement (SQLite: the ids as a JSON array)
_SETTLE_DONE_SQL = (
    "UPDATE scheduled_end SET state = 'done', claimed_by = :run, claimed_at = :at "
    "WHERE id IN (SELECT value FROM json_each(:ids)) AND +state = 'scheduled'"
)
_PG_SETTLE_DONE_SQL = (
    "UPDATE scheduled_end SET state = 'done', claimed_by = :run, claimed_at = :at "
    "WHERE id = ANY(:ids) AND state || '' = 'scheduled'"
)
#: an end by hand settles the collaboration's scheduled end: it will not run (the partial
#: unique index uq_scheduled_end_collaboration finds it). A bulk end sends
#: :func:`ended_by_hand_many` for a segment instead (store/end_writes.py).
_ENDED_BY_HAND_SQL = (
    "UPDATE scheduled_end SET state = 'cancelled', error = :error "
    "WHERE collaboration_id = :collaboration AND state = 'scheduled'"
)
#: SQLite: by the collaboration (without INDEXED BY it takes ix_scheduled_end_due for the
#: state and reads every scheduled row, for each segment)
_ENDED_BY_HAND_MANY_SQL = (
    "UPDATE scheduled_end INDEXED BY uq_scheduled_end_collaboration "
    "SET state = 'cancelled', error = :error "
    "WHERE collaboration_id IN (SELECT value FROM json_each(:ids)) AND state = 'scheduled'"
)
#: PostgreSQL: is anything scheduled at all? One probe of the partial unique index, which
#: holds only scheduled rows; when nothing is, a bulk end sends no update per item
_ANY_SCHEDULED_SQL = "SELECT EXISTS (SELECT 1 FROM scheduled_end WHERE state = 'scheduled')"


_NAMES_SQL = (
    "SELECT (SELECT name FROM company WHERE customer_number = :number), "
    "(SELECT name FROM office WHERE org_number = :office)"
)


def party_names(sql: Statements, number: str, office: str) -> tuple[str, str]:
    """The company's and the office's names, for the messages about a scheduled end."""
    company, office_name = sql.execute(_NAMES_SQL, {"number": number, "office": office}).fetchone()
    return company or "", office_name or ""


def by_id(sql: Statements, schedule_id: int) -> ScheduleRow | None:
    row = sql.execute(_BY_ID_SQL, {"id": schedule_id}).fetchone()
    return None if row is None else ScheduleRow._make(row)


def scheduled_for(sql: Statements, collaboration_id: int) -> ScheduleRow | None:
    """The collaboration's scheduled end, if it has one."""
    row = sql.execute(_SCHEDULED_FOR_SQL, {"collaboration": collaboration_id}).fetchone()
    return None if row is None else ScheduleRow._make(row)


def scheduled_by_service(sql: Statements, number: str, service: str) -> ScheduleRow | None:
    """The scheduled end of a company's service (its newest, should there be more)."""
    row = sql.execute(_SCHEDULED_BY_SERVICE_SQL, {"number": number, "service": service}).fetchone()
    return None if row is None else ScheduleRow._make(row)


def _values(sql: Statements, values: dict[str, Any]) -> dict[str, Any]:
    return {**values, "confirm": sql.json(list(values["confirm"])), "force": bool(values["force"])}


def insert(sql: Statements, **values: Any) -> int:
    """A new scheduled end; returns its id. ``values``: collaboration, number, service,
    office, outcome, by, confirm, force, reason, ends_on, due_at, scheduled_by, scope, at."""
    return int(sql.execute(_INSERT_SQL, _values(sql, values)).fetchone()[0])


def move(sql: Statements, schedule_id: int, **values: Any) -> bool:
    """``--replace``: the scheduled end gets the new day and terms; False if it is no
    longer scheduled. ``values`` as for :func:`insert`, without the collaboration's."""
    params = _values(sql, {**values, "id": schedule_id})
    for key in ("collaboration", "number", "service", "office"):
        params.pop(key, None)
    return bool(sql.execute(_MOVE_SQL, params).rowcount == 1)


def cancel(sql: Statements, schedule_id: int) -> bool:
    """False when it is no longer scheduled (a run performed it meanwhile)."""
    return bool(sql.execute(_CANCEL_SQL, {"id": schedule_id}).rowcount == 1)


class DueRow(NamedTuple):
    """What performing a scheduled end needs of its row."""

    id: int
    collaboration_id: int
    customer_number: str
    service: str
    outcome: str
    ended_by: str
    confirm: Any
    force: bool
    reason: str | None
    due_at: str

    @property
    def confirmed(self) -> tuple[str, ...]:
        return _items(self.confirm)


def _items(confirm: Any) -> tuple[str, ...]:
    """The JSON list of attested checklist items as a tuple."""
    if confirm in ("[]", b"[]"):  # the common case, without a JSON parser
        return ()
    return tuple(Statements.from_json(confirm) or ())


def due(sql: Statements, now: str, *, after: tuple[str, int] = ("", 0), limit: int) -> list[DueRow]:
    """Up to ``limit`` rows due at ``now`` that come after ``after`` (due_at, id), in that
    order."""
    params = {"now": now, "after_due": after[0], "after_id": after[1], "limit": limit}
    return [DueRow._make(row) for row in sql.execute(_DUE_SQL, params)]


def claim(sql: Statements, ids: Sequence[int], now: str) -> set[int]:
    """Of ``ids``, those this transaction may perform: still scheduled and due, and not
    being performed by another run (whose rows PostgreSQL skips instead of waiting)."""
    if not ids:
        return set()
    if sql.postgres:
        rows = sql.execute(_PG_CLAIM_SQL, {"ids": list(ids), "now": now})
    else:
        rows = sql.execute(_SQLITE_CLAIM_SQL, {"ids": json.dumps(list(ids)), "now": now})
    return {schedule_id for (schedule_id,) in rows}


def settle(
    sql: Statements,
    outcomes: Iterable[tuple[int, str, dict[str, Any] | None]],
    *,
    run: str,
    at: str,
) -> None:
    """Mark claimed rows ``done`` or ``failed`` (with the error), in the claiming
    transaction. ``outcomes``: (id, state, error)."""
    done: list[int] = []
    failed = []
    for schedule_id, state, error in outcomes:
        if state == "done" and error is None:
            done.append(schedule_id)
            continue
        failed.append(
            {
                "id": schedule_id,
                "state": state,
                "error": None if error is None else json.dumps(error, ensure_ascii=False),
                "run": run,
                "at": at,
            }
        )
    if done:
        if sql.postgres:
            sql.execute(_PG_SETTLE_DONE_SQL, {"ids": done, "run": run, "at": at})
        else:
            sql.execute(_SETTLE_DONE_SQL, {"ids": json.dumps(done), "run": run, "at": at})
    sql.executemany(_SETTLE_SQL, failed)


def ended_by_hand(sql: Statements, collaboration_id: int, error: str) -> None:
    """The collaboration was ended other than by its scheduled end: that one is
    ``cancelled``, with ``error`` (JSON text) saying why, in the transaction of the end."""
    sql.execute(_ENDED_BY_HAND_SQL, {"collaboration": collaboration_id, "error": error})


def ended_by_hand_many(sql: Statements, ends: Iterable[tuple[int, str]]) -> int:
    """:func:`ended_by_hand` for many ends: (collaboration id, note) each; one statement
    per note on SQLite (the ends of one bulk run share theirs). Returns how many
    scheduled ends were cancelled (on SQLite; not counted on PostgreSQL)."""
    by_error: dict[str, list[int]] = {}
    for collaboration_id, error in ends:
        by_error.setdefault(error, []).append(collaboration_id)
    cancelled = 0
    if sql.postgres and by_error and not sql.execute(_ANY_SCHEDULED_SQL).fetchone()[0]:
        return 0
    for error, ids in by_error.items():
        if sql.postgres:
            # a statement per end, pipelined: by key whatever the planner knows (over an
            # array of ids, without statistics it reads every scheduled row instead)
            rows = [{"collaboration": i, "error": error} for i in ids]
            sql.executemany(_ENDED_BY_HAND_SQL, rows)
        else:
            cursor = sql.execute(_ENDED_BY_HAND_MANY_SQL, {"ids": json.dumps(ids), "error": error})
            cancelled += max(cursor.rowcount, 0)
    return cancelled


def listed(
    sql: Statements,
    *,
    customer: str | None = None,
    office: str | None = None,
    state: str | None = None,
    due_by: str | None = None,
    party: tuple[str, str] | None = None,
) -> list[ScheduleRow]:
    """``schedule list``: the rows the filters keep, by due instant. ``party``: (kind, key)
    of the acting party, which sees only the scheduled ends of its own collaborations."""
    where, params = [], {}
    if customer is not None:
        where.append("customer_number = :customer")
        params["customer"] = customer
    if office is not None:
        where.append("office_org_number = :office")
        params["office"] = office
    if state is not None:
        where.append("state = :state")
        params["state"] = state
    if due_by is not None:
        where.append("state = 'scheduled' AND due_at <= :due_by")
        params["due_by"] = due_by
    if party is not None:
        kind, key = party
        where.append(
            "customer_number = :party" if kind == "customer" else "office_org_number = :party"
        )
        params["party"] = key
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    query = f"SELECT {_COLUMNS} FROM scheduled_end{clause} ORDER BY due_at, id"
    return [ScheduleRow._make(row) for row in sql.execute(query, params)]
