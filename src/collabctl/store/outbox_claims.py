"""Sending the outbox: claims, marks, deferrals, expiry, retry and cancel.

Sending works message by message in short transactions on one connection:

1. **claim** a few due pending messages: mark them ``claimed_by`` this run's
   token until a lease runs out (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so two
   senders never wait for each other nor take the same row; SQLite: under the
   write lock, which a writing transaction takes at its start);
2. hand one to the SMTP server (outside any transaction);
3. **mark** it ``sent``, ``failed`` (a permanent refusal) or deferred (a
   temporary failure: ``next_attempt_at`` moves back), and drop the claim.

The token is random for each run, never a database server's process id: behind
PgBouncer one server process serves many runs in turn, and a run's claim must
never be freed by another run's release. A sender killed between 1 and 3 leaves
a claim behind. The next run releases it at once when it can tell the claimer is
gone (the token names the claiming process and its start time: on the same host
that is checked), else when the lease runs out. Killed between the server's
acceptance and the ``sent`` mark, the message is sent again later with the same
``Message-ID`` (at-least-once for that one message, exactly once otherwise).

Every statement here is plain SQL with parameters and nothing relies on a
session outliving a transaction (no prepared statements, no session locks), so
PgBouncer in transaction pooling mode is fine.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

_COLUMNS = (
    "id, created_at, event, customer_number, service, office_org_number, recipient_role, "
    "recipient, language, facts, attempts, deferrals"
)
_CLAIM_SQL = f"""
UPDATE outbox SET claimed_by = :token, claimed_until = :until
WHERE id IN (
    SELECT id FROM outbox
    WHERE state = 'pending' AND (claimed_until IS NULL OR claimed_until < :now)
      AND (next_attempt_at IS NULL OR next_attempt_at <= :due)
    ORDER BY attempts, id
    LIMIT :limit{{lock}}
)
RETURNING {_COLUMNS}
"""
_CLAIMERS_SQL = """
SELECT DISTINCT claimed_by FROM outbox
WHERE state = 'pending' AND claimed_by IS NOT NULL AND claimed_until >= :now
"""
_RELEASE_SQL = """
UPDATE outbox SET claimed_by = NULL, claimed_until = NULL
WHERE state = 'pending' AND claimed_by = :token
"""
_SENT_SQL = """
UPDATE outbox SET state = 'sent', sent_at = :now, attempts = attempts + 1, last_error = NULL,
                  next_attempt_at = NULL, claimed_by = NULL, claimed_until = NULL
WHERE id = :id AND state = 'pending'
"""
_FAILED_SQL = """
UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = :error,
                  next_attempt_at = NULL, claimed_by = NULL, claimed_until = NULL
WHERE id = :id AND state = 'pending'
"""
# The claim stays until the run ends (release), so one run tries a message once, --all
# included. A message past its expiry fails instead of waiting again.
_DEFER_SQL = """
UPDATE outbox SET attempts = attempts + 1, deferrals = deferrals + 1,
                  next_attempt_at = :next,
                  state = CASE WHEN COALESCE(queued_at, created_at) <= :expired_before
                               THEN 'failed' ELSE 'pending' END,
                  last_error = CASE WHEN COALESCE(queued_at, created_at) <= :expired_before
                                    THEN :expired ELSE :error END
WHERE id = :id AND state = 'pending'
RETURNING state, deferrals
"""
# Messages no run holds that have waited too long; those a live run holds are its own.
_EXPIRE_SQL = """
UPDATE outbox SET state = 'failed', next_attempt_at = NULL,
                  last_error = CAST(:expired AS VARCHAR) || COALESCE(' (last error: ' || last_error || ')', '')
WHERE state = 'pending' AND COALESCE(queued_at, created_at) <= :expired_before
  AND (claimed_until IS NULL OR claimed_until < :now)
"""


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    created_at: str
    event: str
    customer_number: str
    service: str | None
    office_org_number: str | None
    recipient_role: str
    recipient: str
    language: str
    facts: str
    attempts: int
    deferrals: int


# -- who claims ------------------------------------------------------------------------


def _process_start(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot), '' when unknown: with the pid
    it names one process, even after the pid was reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # the command name (field 2) may hold spaces and parentheses: count from its end
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


def claimer_token() -> str:
    """A new run's claim: random, and naming the process so a later run on this host can
    tell when it is gone (see :func:`is_alive`)."""
    pid = os.getpid()
    host = socket.gethostname()
    return f"run|{host}|{pid}|{_process_start(pid)}|{secrets.token_hex(8)}"


def is_alive(token: str) -> bool:
    """Whether the run that made ``token`` may still be running (when unsure: yes)."""
    parts = token.split("|")
    if parts[0] not in ("run", "local") or len(parts) < 4 or parts[1] != socket.gethostname():
        return True  # another host, or an older collabctl's token: the lease decides
    try:
        pid = int(parts[2])
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    if parts[0] == "run" and parts[3]:
        started = _process_start(pid)
        return not started or started == parts[3]
    return True


def release_abandoned(conn: Connection, now: str) -> int:
    """Free the claims of senders that are gone; in the caller's transaction."""
    released = 0
    for (token,) in conn.execute(text(_CLAIMERS_SQL), {"now": now}).all():
        if not is_alive(token):
            released += conn.execute(text(_RELEASE_SQL), {"token": token}).rowcount
    return released


# -- one run -------------------------------------------------------------------------


def expire(conn: Connection, *, now: str, expired_before: str, note: str) -> int:
    """Fail the pending messages queued before ``expired_before`` that no live run holds."""
    return int(
        conn.execute(
            text(_EXPIRE_SQL), {"now": now, "expired_before": expired_before, "expired": note}
        ).rowcount
    )


def claim(
    conn: Connection, token: str, *, now: str, due: str, until: str, limit: int
) -> list[Claimed]:
    """Claim up to ``limit`` pending messages due by ``due``, fewest attempts first; in the
    caller's transaction."""
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else ""
    rows = conn.execute(
        text(_CLAIM_SQL.format(lock=lock)),
        {"token": token, "until": until, "now": now, "due": due, "limit": limit},
    ).all()
    claimed = [Claimed(*row) for row in rows]
    claimed.sort(key=lambda m: (m.attempts, m.id))
    return claimed


def renew(conn: Connection, token: str, until: str) -> None:
    """Extend this sender's claims (a run slow enough to come near the lease)."""
    conn.execute(
        text(
            "UPDATE outbox SET claimed_until = :until "
            "WHERE state = 'pending' AND claimed_by = :token"
        ),
        {"token": token, "until": until},
    )


def release(conn: Connection, token: str) -> int:
    return int(conn.execute(text(_RELEASE_SQL), {"token": token}).rowcount)


def mark_sent(conn: Connection, message_id: int, now: str) -> None:
    conn.execute(text(_SENT_SQL), {"id": message_id, "now": now})


def mark_failed(conn: Connection, message_id: int, error: str) -> None:
    """A permanent refusal: the message is failed at once."""
    conn.execute(text(_FAILED_SQL), {"id": message_id, "error": error})


def defer(
    conn: Connection,
    message_id: int,
    *,
    error: str,
    next_attempt_at: str,
    expired_before: str,
    expired: str,
) -> tuple[str, int] | None:
    """A temporary failure: one more deferral, due again at ``next_attempt_at``, or
    ``failed`` (with ``expired`` as its error) when it was queued before ``expired_before``.
    Returns the new (state, deferrals), None if it was no longer pending."""
    row = conn.execute(
        text(_DEFER_SQL),
        {
            "id": message_id,
            "error": error,
            "next": next_attempt_at,
            "expired_before": expired_before,
            "expired": expired,
        },
    ).first()
    return (str(row[0]), int(row[1])) if row else None


# -- retry and cancel ------------------------------------------------------------------

_SELECT_SQL = (
    "SELECT id, state, customer_number, recipient, claimed_until FROM outbox "
    "WHERE id IN :ids ORDER BY id"
)
_FAILED_OF_SQL = (
    "SELECT id, state, customer_number, recipient, claimed_until FROM outbox "
    "WHERE state = 'failed'{customer} ORDER BY id"
)


@dataclass(frozen=True, slots=True)
class Found:
    id: int
    state: str
    customer_number: str
    recipient: str | None
    claimed_until: str | None


def find(conn: Connection, ids: list[int]) -> list[Found]:
    stmt = text(_SELECT_SQL).bindparams(bindparam("ids", expanding=True))
    return [Found(*row) for row in conn.execute(stmt, {"ids": ids}).all()]


def find_failed(conn: Connection, customer_number: str | None) -> list[Found]:
    where = " AND customer_number = :number" if customer_number is not None else ""
    rows = conn.execute(text(_FAILED_OF_SQL.format(customer=where)), {"number": customer_number})
    return [Found(*row) for row in rows.all()]


def requeue(conn: Connection, ids: list[int], now: str) -> int:
    """Failed messages back to pending, due at once, their expiry counted from ``now``."""
    stmt = text(
        "UPDATE outbox SET state = 'pending', deferrals = 0, next_attempt_at = NULL, "
        "queued_at = :now, claimed_by = NULL, claimed_until = NULL "
        "WHERE id IN :ids AND state = 'failed'"
    ).bindparams(bindparam("ids", expanding=True))
    return int(conn.execute(stmt, {"ids": ids, "now": now}).rowcount)


def cancel(conn: Connection, ids: list[int], now: str) -> int:
    """Pending (and not being sent right now) or failed messages to ``cancelled``."""
    stmt = text(
        "UPDATE outbox SET state = 'cancelled', next_attempt_at = NULL, "
        "claimed_by = NULL, claimed_until = NULL "
        "WHERE id IN :ids AND (state = 'failed' OR (state = 'pending' "
        "AND (claimed_until IS NULL OR claimed_until < :now)))"
    ).bindparams(bindparam("ids", expanding=True))
    return int(conn.execute(stmt, {"ids": ids, "now": now}).rowcount)
