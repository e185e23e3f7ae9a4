"""Applying an end: one plan with the statements of a single end, or a segment of a bulk
end's plans with a few statements in all.

An end is decided before anything is written (``operations/ending.py``: the
pre-flight under the company's lock, then :class:`EndPlan`, every row the end
changes, its audit event and its messages) and applied here:

- :func:`apply_end` writes one plan: the collaboration's row (a row that is no
  longer active is a ``conflict`` and nothing is written), the subscription, the
  settling of a scheduled end, the audit event, the messages;
- :func:`apply_ends` writes many plans, one statement per kind of change: on
  PostgreSQL each a statement over a JSON array of the rows and the audit events
  by ``COPY``, on SQLite each a prepared statement run for every row. A segment
  of 500 ends is about seven round trips instead of 3 500.

The single and the batched form of each statement stand side by side in the
module of its table: ``end_queries`` (collaboration, subscription),
``schedules``, ``audit`` (and the chain's heads, ``chain``), ``outbox``.

Why a batch writes what the ends one by one would write:

- the plans of a segment concern different companies (the caller's segments hold
  each company once), and each was decided on what its company had before the
  segment's writes: no plan reads what another plan of the segment writes;
- every audit event of the segment links to the head its chain has when the
  segment is written (read in one query then), as a single end's event does;
- every collaboration's UPDATE must change its row (read under the lock in this
  transaction): :func:`apply_ends` raises :class:`BatchMismatch` when the
  segment's UPDATE changed fewer, and the caller rolls the batch back and runs
  it item by item, where a row that changed is that item's ``conflict``.

A ``delete`` end writes a backup file between its row and its records, and its
audit event counts the records it deleted: it is applied step by step
(:func:`end_row`, then :func:`apply_end` with ``row_written``), never batched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collabctl.domain.errors import Conflict
from collabctl.store import outbox, schedules
from collabctl.store.audit import AuditEvent, insert_audit_event, insert_audit_events
from collabctl.store.chain import transaction_time
from collabctl.store.end_queries import (
    EndedRow,
    end_collaboration_row,
    end_collaboration_rows,
    insert_subscription,
    insert_subscriptions,
    set_subscriptions,
    update_subscription,
)
from collabctl.store.outbox import MessagePair
from collabctl.store.statements import Statements

__all__ = ["BatchMismatch", "EndPlan", "EndWriter", "apply_end", "apply_ends", "end_row"]


@dataclass(slots=True)
class EndPlan:
    """Every change of one end, decided before any is written (a bulk end makes one per
    item: not frozen, whose checks cost more than the rest of building it)."""

    customer_number: str
    service: str
    #: the collaboration's row as the end leaves it
    row: EndedRow
    #: the subscription's state before (None: the company has no subscription row for the
    #: service, one is inserted) and after the end
    subscription_before: str | None
    subscription_after: str
    #: ``delete``: when the service's records were deleted (stored with the subscription)
    records_changed_at: str | None
    #: an end by hand: the note (JSON text) a scheduled end of the collaboration is
    #: cancelled with; None for the scheduled end itself
    settles_schedule: str | None
    event: AuditEvent
    #: the messages to both parties; None: none are queued
    messages: MessagePair | None

    @property
    def changes_subscription(self) -> bool:
        return self.subscription_before is not None and (
            self.records_changed_at is not None
            or self.subscription_before != self.subscription_after
        )


class BatchMismatch(RuntimeError):
    """A batched UPDATE did not change every row it was meant to: run the batch item by item."""


def end_row(sql: Statements, row: EndedRow) -> None:
    """Mark the collaboration ended, the first write of an end; a row that is no longer
    active is a ``conflict``, and nothing is changed."""
    if not end_collaboration_row(sql, row):
        raise Conflict(
            "the collaboration changed while it was being ended",
            "run the command again; it will report the current state",
        )


def apply_end(sql: Statements, plan: EndPlan, *, row_written: bool = False) -> None:
    """Write one end's plan in the caller's transaction (never committed here), the
    company's row lock already held. ``row_written``: :func:`end_row` ran already."""
    if not row_written:
        end_row(sql, plan.row)
    number, service = plan.customer_number, plan.service
    if plan.subscription_before is None:
        insert_subscription(sql, number, service, plan.subscription_after)
    elif plan.changes_subscription:
        update_subscription(
            sql,
            number,
            service,
            plan.subscription_after,
            records_changed_at=plan.records_changed_at,
        )
    if plan.settles_schedule is not None:
        schedules.ended_by_hand(sql, plan.row.id, plan.settles_schedule)
    insert_audit_event(sql, **plan.event._asdict(), locked=True)
    if plan.messages is not None:
        outbox.queue_pair(sql, **plan.messages._asdict())


def apply_ends(sql: Statements, plans: list[EndPlan]) -> None:
    """Write many ends' plans (of different companies, none a ``delete`` that deleted
    records), one statement per kind of change, in the order of the plans."""
    if not plans:
        return
    changed = end_collaboration_rows(sql, [plan.row for plan in plans])
    if changed != len(plans):
        raise BatchMismatch(f"{len(plans)} collaborations to end, {changed} changed")
    updates, inserts = [], []
    for plan in plans:
        assert plan.records_changed_at is None, "a delete that deleted records is not batched"
        key = (plan.customer_number, plan.service, plan.subscription_after)
        if plan.subscription_before is None:
            inserts.append(key)
        elif plan.changes_subscription:
            updates.append(key)
    set_subscriptions(sql, updates)
    insert_subscriptions(sql, inserts)
    schedules.ended_by_hand_many(
        sql, [(p.row.id, p.settles_schedule) for p in plans if p.settles_schedule is not None]
    )
    insert_audit_events(sql, [plan.event._asdict() for plan in plans], locked=True)
    outbox.queue_pairs(sql, [plan.messages for plan in plans if plan.messages is not None])


class EndWriter:
    """Where the changes of one transaction go: each applied as it comes, or (``batched``)
    held until :meth:`flush` writes them, the ends with :func:`apply_ends`, then the
    audit events and messages of the other changes of the run (``end --from --at``
    schedules ends: :meth:`record`) in one statement each."""

    def __init__(self, sql: Statements, *, batched: bool) -> None:
        self.sql = sql
        self.batched = batched
        self._held: list[EndPlan] = []
        self._events: list[AuditEvent] = []
        self._messages: list[MessagePair] = []
        self._time: Any = None

    def apply(self, plan: EndPlan) -> None:
        if self.batched:
            self._held.append(plan)
        else:
            apply_end(self.sql, plan)

    def record(self, event: AuditEvent, messages: MessagePair | None) -> None:
        """The audit event and the messages of a change whose rows are written already
        (its company locked): written now, or with the batch's when it is flushed."""
        if not self.batched:
            insert_audit_event(self.sql, **event._asdict())
            if messages is not None:
                outbox.queue_pair(self.sql, **messages._asdict())
            return
        self._events.append(event)
        if messages is not None:
            self._messages.append(messages)

    def flush(self) -> None:
        """Write what is held (:class:`BatchMismatch` when an end's row did not change)."""
        held, self._held = self._held, []
        events, self._events = self._events, []
        messages, self._messages = self._messages, []
        apply_ends(self.sql, held)
        if events:
            insert_audit_events(self.sql, [event._asdict() for event in events], locked=True)
        outbox.queue_pairs(self.sql, messages)

    def transaction_time(self) -> str | None:
        """The time the database gives this transaction's events (PostgreSQL), asked once;
        None on SQLite, where each change takes the writer's clock."""
        if self._time is None:
            self._time = (transaction_time(self.sql),)
        return self._time[0]
