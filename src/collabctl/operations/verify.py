"""``log --verify``: walk every hash chain of the audit log (collabctl.domain.audit_chain).

Each chain is read in id order, streaming (the memory used does not grow with
the log). An event is bad when its stored hash is not the hash of its content
and ``prev_hash`` (it was *changed*), or when ``prev_hash`` is not the hash of
the event before it in its chain: then the event it names is either *missing*
from the log or recorded elsewhere (*reordered*). The first bad event of each
chain is reported; the chain is not judged further.

The result carries the digest of the chain heads (:class:`Anchor`) as of the
newest settled event. Given an earlier digest, the same walk recomputes that
digest from the events it covers: any difference means events up to its
``through`` id were removed (cut off the end of a chain), added or rewritten.

On PostgreSQL the digest must be computed again the same way later, so it
covers only events that can never be joined by one with a lower id: the walk
first waits for the transactions that were writing to the audit table of this
database when it started (which may hold such an id: an INSERT takes its
table lock before the trigger draws the id), then reads everything in one
snapshot. Writers of other tables or other databases are not waited for.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from collabctl.domain.audit_chain import (
    FIELDS,
    NO_COMPANY,
    Anchor,
    HeadDigest,
    chain_key,
    chain_name,
    event_hash,
)
from collabctl.domain.errors import AuditTampered, Conflict, InvalidInput
from collabctl.domain.wording import counted
from collabctl.operations.context import Party
from collabctl.store import audit_log
from collabctl.store.database import Database

#: How long the walk waits for writers that were open when it started (PostgreSQL).
SETTLE_TIMEOUT_S = 60.0
#: Problems kept in full (one per chain); the rest are only counted.
MAX_PROBLEMS = 20
#: Problems whose kind (missing or reordered) is looked up after the walk.
_DIAGNOSED = 5
_ROWS_PER_FETCH = 2000


_WORDS = {
    "changed": "changed",
    "missing": "preceded by missing events",
    "reordered": "out of place",
    "cut": "changed",
}


@dataclass
class Problem:
    """The first bad event of one chain (or of the digest comparison)."""

    event_id: int | None
    chain: str
    kind: str  # changed | missing | reordered | cut
    message: str
    # what the walk saw, for the lookup that tells missing from reordered
    prev_hash: str | None = None
    previous_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event_id,
            "customer_number": None if self.chain == NO_COMPANY else self.chain,
            "problem": self.kind,
            "message": self.message,
        }


@dataclass
class Verification:
    events: int = 0
    chains: int = 0
    anchor: Anchor | None = None
    checked: Anchor | None = None
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def intact(self) -> bool:
        return self.problem_count == 0

    def summary(self) -> str:
        return f"{counted(self.events, 'event')} in {counted(self.chains, 'chain')}, " + (
            "intact" if self.intact else "NOT intact"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "chains": self.chains,
            "intact": self.intact,
            "digest": str(self.anchor) if self.anchor else None,
            "anchor": str(self.checked) if self.checked else None,
            "problems": [p.to_dict() for p in self.problems],
        }


def parse_anchor(value: str | None) -> Anchor | None:
    if value is None:
        return None
    anchor = Anchor.parse(value)
    if anchor is None:
        raise InvalidInput(
            f"--anchor: {value!r} is not a digest printed by `collabctl log --verify`",
            "give the digest as printed, e.g. v1:1234:1200:9f86d081884c7d65…(64 hex digits)",
        )
    return anchor


def verify_log(db: Database, anchor: str | None = None, party: Party | None = None) -> Verification:
    """Walk every chain; raise :class:`AuditTampered` naming the first bad event, if any.

    ``party`` (``--as``): the whole log is still verified, but a problem in the chain of
    a company the party may not see is reported without naming it (as ``show`` would not).
    """
    checked = parse_anchor(anchor)
    through = _settled_through(db)
    result = _walk(db, through, checked)
    if not result.intact:
        if party is not None:
            _redact(db, result, party)
        raise _tampered(result)
    return result


def _redact(db: Database, result: Verification, party: Party) -> None:
    from collabctl.operations.scope import sees_company

    with db.session(write=False) as session:
        for problem in result.problems:
            if problem.chain == NO_COMPANY or sees_company(session, party, problem.chain):
                continue
            where = f"event {problem.event_id}" if problem.event_id is not None else "an event"
            problem.chain = NO_COMPANY
            problem.message = (
                f"{where}, of a company this scope does not see, is {_WORDS[problem.kind]}"
            )


def _settled_through(db: Database) -> int | None:
    """PostgreSQL: the newest event id no writer can still slip an event under.

    A transaction that was writing to the audit table when this started may hold a
    lower id than the newest committed one and commit it afterwards; wait until every
    such writer is done (found in ``pg_locks``, which every role may read).
    Returns None on SQLite, where writers take turns and ids are committed in order.
    """
    if db.backend != "postgresql":
        return None
    with db.session(write=False) as session:
        through, xids = audit_log.open_writers(session)
        session.commit()
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        pause = 0.02
        while xids:
            still = audit_log.still_open(session, xids)
            session.commit()
            if not still:
                break
            if time.monotonic() > deadline:
                raise Conflict(
                    f"{counted(still, 'transaction')} writing to the audit log since before the "
                    f"check began did not finish in {SETTLE_TIMEOUT_S:.0f} s, so the digest could "
                    "not settle",
                    "run `collabctl log --verify` again later; PostgreSQL's pg_stat_activity "
                    "shows the open transactions (state 'idle in transaction')",
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
    return int(through or 0)


@dataclass
class _Chain:
    key: str
    count: int = 0
    head: str | None = None
    previous_id: int | None = None
    broken: bool = False
    # the chain as of the digest's cut and as of the given anchor's
    cut_count: int = 0
    cut_head: str | None = None
    anchor_count: int = 0
    anchor_head: str | None = None


def _walk(db: Database, through: int | None, checked: Anchor | None) -> Verification:
    result = Verification(checked=checked)
    digest, anchor_digest = HeadDigest(), HeadDigest()
    with db.session(write=False) as session:
        audit_log.one_snapshot(session)  # for every query of the walk
        if through is None:
            through = audit_log.max_event_id(session)
        anchor_through = checked.through if checked else 0
        saw_anchor_through = False
        chain: _Chain | None = None

        def finish(done: _Chain | None) -> None:
            if done is None:
                return
            result.chains += 1
            try:
                if done.cut_count:
                    assert done.cut_head is not None
                    digest.add(done.key, done.cut_count, done.cut_head)
                if done.anchor_count:
                    assert done.anchor_head is not None
                    anchor_digest.add(done.key, done.anchor_count, done.anchor_head)
            except ValueError as exc:  # customer numbers are digits: every collation agrees
                raise RuntimeError(f"chains read out of order: {exc}") from None

        for row in audit_log.chain_events(session, _ROWS_PER_FETCH):
            event_id, prev_hash, stored = row[0], row[-2], row[-1]
            event = dict(zip(FIELDS, row[1:-2], strict=True))
            key = chain_key(event["customer_number"])
            if chain is None or key != chain.key:
                finish(chain)
                chain = _Chain(key)
            result.events += 1
            chain.count += 1
            if event_id <= through:
                chain.cut_count += 1
                chain.cut_head = stored
            if checked is not None and event_id <= anchor_through:
                chain.anchor_count += 1
                chain.anchor_head = stored
                saw_anchor_through = saw_anchor_through or event_id == anchor_through
            if not chain.broken:
                problem = _check(event, event_id, prev_hash, stored, chain)
                if problem is not None:
                    chain.broken = True
                    _add(result, problem)
            chain.head = stored
            chain.previous_id = event_id
        finish(chain)
        result.anchor = digest.anchor(through)
        for problem in result.problems[:_DIAGNOSED]:
            _diagnose(session, problem)
        _order(result)
        if checked is not None:
            again = anchor_digest.anchor(checked.through)
            if again != checked:
                _add(result, _cut(checked, again, saw_anchor_through), first=True)
    return result


def _add(result: Verification, problem: Problem, *, first: bool = False) -> None:
    """Keep the problems of the lowest event ids (the digest's comparison first)."""
    result.problem_count += 1
    if first:
        result.problems.insert(0, problem)
        return
    result.problems.append(problem)
    _order(result)
    del result.problems[MAX_PROBLEMS:]


def _order(result: Verification) -> None:
    result.problems.sort(key=lambda p: (p.kind != "cut", p.event_id or 0))


def _check(
    event: dict[str, Any], event_id: int, prev_hash: str | None, stored: str | None, chain: _Chain
) -> Problem | None:
    name = chain_name(chain.key)
    if isinstance(event["details"], str | bytes):  # SQLite returns the JSON text
        try:
            event["details"] = json.loads(event["details"])
        except ValueError:
            return Problem(
                event_id,
                chain.key,
                "changed",
                f"event {event_id} ({name}) was changed: its details are not JSON any more",
            )
    if stored is None or event_hash(event, prev_hash) != stored:
        return Problem(
            event_id,
            chain.key,
            "changed",
            f"event {event_id} ({name}) was changed: its content does not match its hash",
        )
    if prev_hash != chain.head:
        if prev_hash is None:
            return Problem(
                event_id,
                chain.key,
                "reordered",
                f"event {event_id} ({name}) is out of place: it starts the chain, but event "
                f"{chain.previous_id} is recorded before it (an event inserted or moved there)",
                prev_hash,
                chain.previous_id,
            )
        if chain.head is None:
            message = (
                f"events are missing before event {event_id} ({name}): it follows an event "
                "that is not in the log, and nothing is recorded before it"
            )
        else:
            message = (
                f"events are missing between event {chain.previous_id} and event {event_id} "
                f"({name}): event {event_id} follows an event that is not in the log"
            )
        return Problem(event_id, chain.key, "missing", message, prev_hash, chain.previous_id)
    return None


def _diagnose(session: Session, problem: Problem) -> None:
    """Missing, or recorded elsewhere? Look the predecessor up by its hash."""
    if problem.kind != "missing" or problem.prev_hash is None or problem.event_id is None:
        return
    found = audit_log.event_by_hash(session, problem.prev_hash)
    if found is None:
        return
    other_id, other_number = found
    name = chain_name(problem.chain)
    problem.kind = "reordered"
    if chain_key(other_number) != problem.chain:
        problem.message = (
            f"event {problem.event_id} ({name}) is out of place: it follows event {other_id}, "
            f"which is recorded in {chain_name(chain_key(other_number))}"
        )
    elif other_id > problem.event_id:
        problem.message = (
            f"event {problem.event_id} ({name}) is out of order: it follows event {other_id}, "
            "which is recorded after it"
        )
    else:
        problem.event_id = problem.previous_id
        problem.message = (
            f"event {problem.previous_id} ({name}) is out of place: it is recorded between "
            f"event {other_id} and the event that follows {other_id} directly"
        )


def _cut(checked: Anchor, again: Anchor, saw_through: bool) -> Problem:
    since = f"since the digest {checked}"
    if again.events < checked.events:
        gone = checked.events - again.events
        message = (
            f"{counted(gone, 'event')} with an id up to {checked.through} "
            f"{'is' if gone == 1 else 'are'} gone {since}: cut off the end of "
            f"{'its chain' if gone == 1 else 'their chains'}"
        )
        if not saw_through:
            message = f"event {checked.through}, the newest the digest covers, is gone; " + message
        return Problem(None if saw_through else checked.through, NO_COMPANY, "cut", message)
    if again.events > checked.events:
        added = again.events - checked.events
        return Problem(
            None,
            NO_COMPANY,
            "cut",
            f"{counted(added, 'event')} with an id up to {checked.through} "
            f"{'was' if added == 1 else 'were'} added {since}",
        )
    return Problem(
        None,
        NO_COMPANY,
        "cut",
        f"the events up to {checked.through} were rewritten {since}: the chains' heads differ",
    )


def _tampered(result: Verification) -> AuditTampered:
    first = result.problems[0]
    more = result.problem_count - 1
    return AuditTampered(
        f"the audit log is not intact: {first.message}"
        + (f" (and {counted(more, 'more problem')})" if more > 0 else ""),
        "nobody can undo this through collabctl: keep the database as it is, compare it with "
        "a backup (pg_dump or a copy of the file) and `collabctl log --verify --format json` "
        f"lists the first bad event of each chain (of the first {MAX_PROBLEMS} chains)",
        details={**result.to_dict(), "problem_count": result.problem_count},
    )
