"""``notify retry`` and ``notify cancel``: a person decides about messages in the outbox.

Retry puts ``failed`` messages back to ``pending``, due at once and with a fresh
expiry; cancel marks ``pending`` or ``failed`` messages ``cancelled``, never to
be sent. Each is first a plan (which messages, from which state to which), read
without changing anything: a dry run shows the plan, a real run applies it in one
transaction with one audit event per company. A message named that cannot take
the change (not found, already sent, being sent right now) refuses the whole
command, so nothing is half done.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from sqlalchemy.orm import Session

from collabctl.domain import validation
from collabctl.domain.errors import Conflict, InvalidInput, NotAParty, NotFound
from collabctl.operations.context import Context, audit, now_iso
from collabctl.store import outbox_claims
from collabctl.store.outbox_claims import Found

#: what each command prints for a message (machine formats)
CHANGE_KEYS = ("id", "customer_number", "to", "before", "after", "status")
#: the most ids one command takes (a list longer than this is a job for --failed)
MAX_IDS = 10_000


@dataclass(frozen=True, slots=True)
class Change:
    id: int
    customer_number: str
    to: str | None
    before: str
    after: str
    #: retried | cancelled | would-retry | would-cancel
    status: str

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in CHANGE_KEYS}


def _agent_only(ctx: Context, command: str) -> None:
    if ctx.party is not None:
        raise NotAParty(
            f"acting as {ctx.party}, collabctl does not {command} notifications: the outbox "
            "holds every party's messages",
            f"run `collabctl notify {command}` without --as",
        )


def _ids(values: Iterable[object]) -> list[int]:
    ids = []
    for value in values:
        text = str(value).strip()
        if not text.isdigit() or not 0 < int(text) < 2**31:
            raise InvalidInput(
                f"ID: {text!r} is not a message id", "the ids are in `collabctl notify list`"
            )
        ids.append(int(text))
    if len(ids) > MAX_IDS:
        raise InvalidInput(
            f"ID: {len(ids)} ids, at most {MAX_IDS}", "use --failed [--customer C] for many"
        )
    return sorted(set(ids))


def _named(session: Session, ids: list[int]) -> list[Found]:
    found = outbox_claims.find(session.connection(), ids)
    missing = sorted(set(ids) - {m.id for m in found})
    if missing:
        raise NotFound(
            f"no message {', '.join(map(str, missing))} in the outbox",
            "the ids are in `collabctl notify list --state all`",
        )
    return found


def plan_retry(
    session: Session,
    ctx: Context,
    ids: Iterable[object] = (),
    *,
    failed: bool = False,
    customer: str | None = None,
    dry_run: bool = False,
) -> list[Change]:
    """Which failed messages go back to pending (named by id, or every failed one)."""
    _agent_only(ctx, "retry")
    if failed:
        if customer is not None:
            customer = validation.customer_number(customer, "--customer")
        messages = outbox_claims.find_failed(session.connection(), customer)
    else:
        messages = _named(session, _ids(ids))
        wrong = [m for m in messages if m.state != "failed"]
        if wrong:
            raise Conflict(
                "only failed messages can be retried: "
                + ", ".join(f"message {m.id} is {m.state}" for m in wrong),
                "see `collabctl notify list --state failed`",
            )
    status = "would-retry" if dry_run else "retried"
    return [
        Change(m.id, m.customer_number, m.recipient, m.state, "pending", status) for m in messages
    ]


def plan_cancel(
    session: Session, ctx: Context, ids: Iterable[object], *, dry_run: bool = False
) -> list[Change]:
    """Which pending or failed messages are cancelled (never sent)."""
    _agent_only(ctx, "cancel")
    messages = _named(session, _ids(ids))
    now = now_iso()
    wrong = [m for m in messages if m.state not in ("pending", "failed")]
    if wrong:
        raise Conflict(
            "only pending or failed messages can be cancelled: "
            + ", ".join(f"message {m.id} is {m.state}" for m in wrong),
            "see `collabctl notify list --state all`",
        )
    busy = [m for m in messages if m.state == "pending" and (m.claimed_until or "") >= now]
    if busy:
        raise Conflict(
            "being sent right now: " + ", ".join(f"message {m.id}" for m in busy),
            "wait for the `notify send` run to finish, then look again",
        )
    status = "would-cancel" if dry_run else "cancelled"
    return [
        Change(m.id, m.customer_number, m.recipient, m.state, "cancelled", status) for m in messages
    ]


def apply(session: Session, ctx: Context, changes: list[Change], action: str) -> list[Change]:
    """Carry out a plan of :func:`plan_retry` (``notify-retry``) or :func:`plan_cancel`
    (``notify-cancel``), one audit event per company; in the caller's transaction."""
    now = now_iso()
    ids = [c.id for c in changes]
    conn = session.connection()
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        changed = (
            outbox_claims.requeue(conn, chunk, now)
            if action == "notify-retry"
            else outbox_claims.cancel(conn, chunk, now)
        )
        if changed != len(chunk):
            # another run changed one of them since the plan was read: nothing is kept
            raise Conflict(
                "the outbox changed while this command ran (a message was sent or changed)",
                "run the command again",
            )
    for number, group in groupby(
        sorted(changes, key=lambda c: c.customer_number), key=lambda c: c.customer_number
    ):
        items = list(group)
        audit(
            session,
            ctx,
            action,
            number,
            None,
            {"messages": [c.id for c in items], "before": sorted({c.before for c in items})},
            at=now,
        )
    return changes


def retry_messages(
    session: Session,
    ctx: Context,
    ids: Iterable[object] = (),
    *,
    failed: bool = False,
    customer: str | None = None,
) -> list[Change]:
    """``notify retry``: :func:`plan_retry`, then :func:`apply` it, in one transaction."""
    changes = plan_retry(session, ctx, ids, failed=failed, customer=customer)
    return apply(session, ctx, changes, "notify-retry")


def cancel_messages(session: Session, ctx: Context, ids: Iterable[object]) -> list[Change]:
    """``notify cancel``: :func:`plan_cancel`, then :func:`apply` it, in one transaction."""
    return apply(session, ctx, plan_cancel(session, ctx, ids), "notify-cancel")
