"""Notifications after they are queued: ``notify list``, ``doctor``'s finding, ``notify send``.

Delivery (:func:`send_pending`, over operations/mailer.py) claims, sends and
marks one message at a time in short transactions (store/outbox.py explains the claim), so that two
senders never send one message twice and a sender killed at any moment loses
nothing. A message is ``sent`` only once the server accepted it; a failure
counts an attempt and keeps it ``pending`` with the error, and the fifth
failed attempt makes it ``failed``. Queueing is operations/notify.py.
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
from collabctl.operations.context import Context, format_timestamp, now_iso
from collabctl.operations.files import readable_by_others
from collabctl.operations.mail_templates import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    from_facts,
    render,
    subject,
)
from collabctl.store import outbox
from collabctl.store.outbox import Claimed

if TYPE_CHECKING:
    # the SMTP side is imported only to send
    from collabctl.operations.mailer import Mailer, SmtpSettings

LIST_STATES = ("pending", "sent", "failed", "no-address", "all")
#: messages claimed per transaction: fewer claim transactions, short enough a lease
CLAIM_BATCH = 10
#: how long a claim holds when its sender cannot be checked for life (another host)
CLAIM_LEASE = timedelta(minutes=15)

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


def outbox_counts(conn: Any) -> dict[str, int]:
    return outbox.count_by_state(conn)


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


@dataclass(frozen=True, slots=True)
class Delivery:
    """What happened to one message in this run."""

    id: int
    to: str
    status: str  # sent | retrying | failed
    attempts: int
    error: str | None = None
    #: the failure concerns the server, not this message: the run stops
    fatal: bool = False


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0  # a failed attempt; still pending
    failed: int = 0  # given up this run (5 attempts)
    #: why the run stopped early (the server cannot be reached or refuses the login)
    stopped: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.retrying or self.failed or self.stopped)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "retrying": self.retrying,
            "failed": self.failed,
            "stopped": self.stopped,
        }


def _later(delta: timedelta) -> str:
    return format_timestamp(datetime.now(UTC) + delta)


def send_pending(
    db: Any,
    settings: SmtpSettings,
    ctx: Context,
    *,
    limit: int | None = None,
    on_delivery: Callable[[Delivery], None] | None = None,
    mailer: Mailer | None = None,
) -> SendReport:
    """Deliver pending messages, oldest and least-tried first, up to ``limit``."""
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

    mailer = mailer or Mailer(settings)
    report = SendReport()
    remaining = limit
    with db.engine.connect() as conn:
        with conn.begin():
            token = outbox.claimer_token(conn)
            outbox.release_abandoned(conn, now_iso())
        try:
            while remaining is None or remaining > 0:
                size = CLAIM_BATCH if remaining is None else min(CLAIM_BATCH, remaining)
                with conn.begin():
                    batch = outbox.claim(
                        conn, token, now=now_iso(), until=_later(CLAIM_LEASE), limit=size
                    )
                if not batch:
                    break
                renewed = time.monotonic()
                for message in batch:
                    if time.monotonic() - renewed > CLAIM_LEASE.total_seconds() / 3:
                        with conn.begin():
                            outbox.renew(conn, token, _later(CLAIM_LEASE))
                        renewed = time.monotonic()
                    delivery = _deliver(conn, mailer, message)
                    if delivery.status == "sent":
                        report.sent += 1
                    elif delivery.status == "failed":
                        report.failed += 1
                    else:
                        report.retrying += 1
                    if on_delivery is not None:
                        on_delivery(delivery)
                    if remaining is not None:
                        remaining -= 1
                    if delivery.fatal:
                        report.stopped = delivery.error
                        break
                if report.stopped is not None:
                    break
        finally:
            mailer.close()
            # what this run claimed but did not try goes back at once (an interrupted
            # run included); were this to fail, the claim dies with this process
            try:
                with conn.begin():
                    outbox.release(conn, token)
            except Exception:  # the run's own outcome matters more than this release
                pass
    return report


def _deliver(conn: Any, mailer: Mailer, message: Claimed) -> Delivery:
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
    try:
        mailer.send(outgoing)
    except DeliveryFailed as exc:
        with conn.begin():
            marked = outbox.mark_failed(conn, message.id, exc.message)
        state, attempts = marked or ("pending", message.attempts + 1)
        return Delivery(
            message.id,
            message.recipient,
            "failed" if state == "failed" else "retrying",
            attempts,
            exc.message,
            exc.fatal,
        )
    with conn.begin():
        outbox.mark_sent(conn, message.id, now_iso())
    return Delivery(message.id, message.recipient, "sent", message.attempts + 1)
