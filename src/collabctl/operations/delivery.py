"""Notifications after they are queued: ``notify list``, ``doctor``'s finding, ``notify send``.

Delivery (:func:`send_pending`, over operations/mailer.py) claims, sends and
marks one message at a time in short transactions (store/outbox_claims.py
explains the claim), so that two senders never send one message twice and a
sender killed at any moment loses nothing. A message is ``sent`` only once the
server accepted it. A temporary failure (the server unreachable, a 4xx reply)
defers it: it stays ``pending`` and is due again after a backoff (1 minute,
doubling, at most 1 hour); a message still undelivered ``notify_expire_hours``
after it was queued (72) becomes ``failed``. A permanent refusal (5xx at RCPT or
DATA) fails it at once. A refusal of collabctl itself (its login, its sender)
stops the run and charges no message. Queueing is operations/notify.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from collabctl.domain import validation
from collabctl.domain.errors import CollabError, InvalidInput, NotAParty
from collabctl.domain.keys import MESSAGE_KEYS
from collabctl.operations import scope
from collabctl.operations.context import Context, format_timestamp
from collabctl.operations.files import readable_by_others
from collabctl.operations.mail_templates import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    from_facts,
    render,
    subject,
)
from collabctl.store import outbox, outbox_claims
from collabctl.store.outbox_claims import Claimed

if TYPE_CHECKING:
    # the SMTP side is imported only to send
    from collabctl.operations.mailer import Mailer
    from collabctl.operations.smtp_connection import SmtpSettings

LIST_STATES = ("pending", "sent", "failed", "no-address", "cancelled", "all")
#: messages claimed per transaction: fewer claim transactions, short enough a lease
CLAIM_BATCH = 10
#: how long a claim holds when its sender cannot be checked for life (another host)
CLAIM_LEASE = timedelta(minutes=15)
#: the first deferral's wait; each further one doubles it, up to BACKOFF_MAX
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
#: hours a message may wait undelivered before it fails (setting notify_expire_hours)
DEFAULT_EXPIRE_HOURS = 72.0

# -- reading ------------------------------------------------------------------------


def list_messages(
    conn: Any, ctx: Context, state: str = "pending", customer: str | None = None
) -> Iterator[dict[str, Any]]:
    """The outbox, oldest first; a party sees only the messages about its own affairs."""
    if state not in LIST_STATES:
        raise InvalidInput(
            f"--state: {state!r} is not allowed", f"use one of: {', '.join(LIST_STATES)}"
        )
    if customer is not None:
        customer = validation.customer_number(customer, "--customer")
    rows = outbox.list_messages(
        conn,
        state=None if state == "all" else state,
        customer_number=customer,
        # a message is about one collaboration (company, office): the party's, or not
        visible=scope.collaboration_filter(ctx.party, outbox.OUTBOX),
    )
    return (_listed(row) for row in rows)


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    """An outbox row as ``notify list`` shows it: MESSAGE_KEYS, the subject rendered."""
    notice = from_facts(
        row["facts"],
        event=row["event"],
        at=row["created_at"],
        customer_number=row["customer_number"],
        office_org_number=row["office_org_number"],
        service=row["service"],
    )
    title = subject(notice, row["recipient_role"], _language(row["language"]))
    return {key: title if key == "subject" else row[key] for key in MESSAGE_KEYS}


def _language(stored: str) -> str:
    # a language this collabctl does not write (stored by a newer one): the default
    return stored if stored in LANGUAGES else DEFAULT_LANGUAGE


def pending_count(conn: Any, ctx: Context) -> int:
    """How many messages wait in the outbox, every party's: ``notify send`` sends them
    all (and refuses to run for one party), so ``ctx`` narrows nothing."""
    return outbox.count_by_state(conn)["pending"]


def notification_health(db: Any, config: Mapping[str, Any]) -> tuple[bool, str, tuple[str, ...]]:
    """``doctor``'s finding: the outbox (pending, failed) and whether SMTP is configured;
    not ok only when a setting would make changes or ``notify send`` fail. Also returns
    the SMTP password, for the caller to keep out of every finding."""
    from collabctl.config import config_file
    from collabctl.operations.mail_templates import language_setting
    from collabctl.operations.mailer import smtp_settings

    with db.read_engine.connect() as conn:  # a read: never waits behind a writer
        counts = outbox.count_by_state(conn)
    queue = f"{counts['pending']} pending, {counts['failed']} failed"
    try:
        language_setting(config)
        settings = smtp_settings(config)
    except CollabError as exc:
        return False, f"{queue}; {exc.message}: {exc.hint}", ()
    if settings is None:
        return True, f"{queue}; SMTP not configured: messages wait in the outbox", ()
    if settings.password and settings.source == "config" and readable_by_others(config_file()):
        return (
            False,
            f"{queue}; {config_file()} holds the SMTP password and others can read it: "
            f"run chmod 600 {config_file()}",
            settings.secrets,
        )
    if not settings.mail_from:
        return (
            False,
            f"{queue}; SMTP {settings.display_url} but no sender: set COLLABCTL_MAIL_FROM "
            "or mail_from in config.toml",
            settings.secrets,
        )
    return (
        True,
        f"{queue}; SMTP {settings.display_url} (from {settings.source}), "
        f"sender {settings.mail_from}",
        settings.secrets,
    )


def expire_hours(config: Mapping[str, Any]) -> float:
    """``notify_expire_hours`` in config.toml: a positive number of hours (default 72)."""
    value = config.get("notify_expire_hours", DEFAULT_EXPIRE_HOURS)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e6:
        raise CollabError(
            f"notify_expire_hours in config.toml: {value!r} is not a number of hours",
            "e.g. notify_expire_hours = 72",
            code="config-invalid",
        )
    return float(value)


def backoff(deferrals: int) -> timedelta:
    """The wait after the ``deferrals``-th temporary failure (1, 2, 4 … minutes, at most 1 h)."""
    if deferrals > 12:
        return BACKOFF_MAX
    return min(BACKOFF_FIRST * 2 ** max(deferrals - 1, 0), BACKOFF_MAX)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What happened to one message in this run."""

    id: int
    to: str
    status: str  # sent | deferred | failed
    attempts: int
    error: str | None = None
    #: deferred: when it is due again
    next_attempt_at: str | None = None


@dataclass
class SendReport:
    sent: int = 0
    deferred: int = 0  # a temporary failure: still pending, due again later
    failed: int = 0  # refused for good, or expired, in this run
    #: why the run stopped early (the server cannot be reached)
    stopped: str | None = None
    #: the server refused collabctl itself: the run stopped, no message was charged
    refusal: CollabError | None = None
    #: connections opened again after the server closed one (a limit per connection)
    reconnects: int = 0

    @property
    def ok(self) -> bool:
        return not (self.deferred or self.failed or self.stopped or self.refusal)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "deferred": self.deferred,
            "failed": self.failed,
            "stopped": self.stopped,
        }


def _stamp(moment: datetime) -> str:
    return format_timestamp(moment)


def send_pending(
    db: Any,
    settings: SmtpSettings,
    ctx: Context,
    *,
    limit: int | None = None,
    all_due: bool = False,
    expire_after: float = DEFAULT_EXPIRE_HOURS,
    on_delivery: Callable[[Delivery], None] | None = None,
    mailer: Mailer | None = None,
    clock: Callable[[], datetime] | None = None,
) -> SendReport:
    """Deliver the pending messages that are due (``all_due``: every pending one, whatever
    its backoff), fewest attempts and oldest first, up to ``limit``. ``clock``: now."""
    if ctx.party is not None:
        raise NotAParty(
            f"acting as {ctx.party}, collabctl does not send the outbox: it holds every "
            "party's messages",
            "run `collabctl notify send` without --as",
        )
    if not settings.mail_from:
        raise CollabError(
            "no sender address for notifications",
            'set COLLABCTL_MAIL_FROM or mail_from in config.toml, e.g. "collabctl@byran.se"',
            code="config-invalid",
        )
    if limit is not None and limit < 1:
        raise InvalidInput(f"--limit: {limit} is not a positive number", "e.g. --limit 100")
    from collabctl.operations.mailer import Mailer

    now = clock or (lambda: datetime.now(UTC))
    run = _Run(
        mailer or Mailer(settings),
        now,
        timedelta(hours=expire_after),
        f"expired: not delivered within {expire_after:g} hours of being queued",
    )
    report = SendReport()
    remaining = limit
    token = outbox_claims.claimer_token()
    with db.engine.connect() as conn:
        with conn.begin():
            started = now()
            outbox_claims.release_abandoned(conn, _stamp(started))
            report.failed += outbox_claims.expire(
                conn,
                now=_stamp(started),
                expired_before=_stamp(started - run.expire_after),
                note=run.expired,
            )
        try:
            while remaining is None or remaining > 0:
                size = CLAIM_BATCH if remaining is None else min(CLAIM_BATCH, remaining)
                moment = now()
                with conn.begin():
                    batch = outbox_claims.claim(
                        conn,
                        token,
                        now=_stamp(moment),
                        due="9999" if all_due else _stamp(moment),
                        until=_stamp(moment + CLAIM_LEASE),
                        limit=size,
                    )
                if not batch:
                    break
                renewed = time.monotonic()
                for message in batch:
                    if time.monotonic() - renewed > CLAIM_LEASE.total_seconds() / 3:
                        with conn.begin():
                            outbox_claims.renew(conn, token, _stamp(now() + CLAIM_LEASE))
                        renewed = time.monotonic()
                    try:
                        delivery = run.deliver(conn, message)
                    except CollabError as exc:  # collabctl itself refused: nobody is charged
                        report.refusal = exc
                        break
                    if delivery.status == "sent":
                        report.sent += 1
                    elif delivery.status == "deferred":
                        report.deferred += 1
                    else:
                        report.failed += 1
                    if on_delivery is not None:
                        on_delivery(delivery)
                    if remaining is not None:
                        remaining -= 1
                    if run.unreachable is not None:
                        report.stopped = run.unreachable
                        break
                if report.stopped is not None or report.refusal is not None:
                    break
        finally:
            report.reconnects = run.mailer.reconnects
            run.mailer.close()
            # what this run claimed but did not try goes back at once (an interrupted
            # run included); were this to fail, the claim dies with this process
            try:
                with conn.begin():
                    outbox_claims.release(conn, token)
            except Exception:  # the run's own outcome matters more than this release
                pass
    return report


@dataclass
class _Run:
    mailer: Mailer
    now: Callable[[], datetime]
    expire_after: timedelta
    expired: str
    #: set when the server could not be reached: the run stops after this message
    unreachable: str | None = None

    def deliver(self, conn: Any, message: Claimed) -> Delivery:
        from collabctl.operations.mailer import DeliveryFailed, Outgoing

        notice = from_facts(
            message.facts,
            event=message.event,
            at=message.created_at,
            customer_number=message.customer_number,
            office_org_number=message.office_org_number,
            service=message.service,
        )
        title, body = render(notice, message.recipient_role, _language(message.language))
        outgoing = Outgoing(
            message.id, message.created_at, message.recipient, message.language, title, body
        )
        attempts = message.attempts + 1
        try:
            self.mailer.send(outgoing, self.now())
        except DeliveryFailed as exc:
            if exc.permanent:
                with conn.begin():
                    outbox_claims.mark_failed(conn, message.id, exc.message)
                return Delivery(message.id, message.recipient, "failed", attempts, exc.message)
            if exc.unreachable:
                self.unreachable = exc.message
            moment = self.now()
            due = _stamp(moment + backoff(message.deferrals + 1))
            with conn.begin():
                marked = outbox_claims.defer(
                    conn,
                    message.id,
                    error=exc.message,
                    next_attempt_at=due,
                    expired_before=_stamp(moment - self.expire_after),
                    expired=f"{self.expired}; last error: {exc.message}",
                )
            if marked is not None and marked[0] == "failed":
                error = f"{self.expired}; last error: {exc.message}"
                return Delivery(message.id, message.recipient, "failed", attempts, error)
            return Delivery(message.id, message.recipient, "deferred", attempts, exc.message, due)
        with conn.begin():
            outbox_claims.mark_sent(conn, message.id, _stamp(self.now()))
        return Delivery(message.id, message.recipient, "sent", attempts)
