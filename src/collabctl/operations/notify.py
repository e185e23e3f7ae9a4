"""Notifications to both parties: queued with the change, delivered over SMTP later.

Queueing (:func:`queue_start`, :func:`queue_end`, :func:`queue_main_contact`)
runs inside the transaction of the change, so a change that rolls back leaves
no message. Each event gets one message to the company's main contact and one
to each office concerned, rendered (store/mail_templates) in the caller's
``mail_language``; a party without an address gets a ``no-address`` message,
kept as a record, never sent.

Delivery (:func:`send_pending`) claims, sends and marks one message at a time
in short transactions (store/outbox.py explains the claim), so that two
senders never send one message twice and a sender killed at any moment loses
nothing. A message is ``sent`` only once the server accepted it; a failure
counts an attempt and keeps it ``pending`` with the error, and the fifth
failed attempt makes it ``failed``.
"""

from __future__ import annotations

import os
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from collabctl.config import redact
from collabctl.domain import validation
from collabctl.domain.catalogue import Service
from collabctl.domain.errors import CollabError, InvalidInput, NotAParty
from collabctl.operations import mail_templates
from collabctl.operations.context import Context, format_timestamp, now_iso
from collabctl.operations.mail_templates import Notice, render
from collabctl.store import outbox
from collabctl.store.outbox import Claimed, Executor, NewMessage

LIST_STATES = ("pending", "sent", "failed", "no-address", "all")
SMTP_SCHEMES = {"smtp": 25, "smtps": 465}
#: seconds smtplib waits for the server at each step
SMTP_TIMEOUT_S = 30.0
#: messages claimed per transaction: fewer claim transactions, short enough a lease
CLAIM_BATCH = 10
#: how long a claim holds when its sender cannot be checked for life (another host)
CLAIM_LEASE = timedelta(minutes=15)
_SMTP_HINT = (
    "use smtp://[USER:PASSWORD@]HOST:PORT (STARTTLS when the server offers it) or "
    "smtps://[USER:PASSWORD@]HOST:PORT (TLS from the start), in COLLABCTL_SMTP_URL or "
    "smtp_url in config.toml"
)


# -- queueing -----------------------------------------------------------------------


def _pair(notice: Notice, language: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return render(notice, "main-contact", language), render(notice, "office", language)


def _behalf(ctx: Context) -> str | None:
    return ctx.party.kind if ctx.party is not None else None


def queue_start(sql: Executor, ctx: Context, collaboration: Mapping[str, Any], at: str) -> None:
    """The messages about a collaboration that started (``collaboration``: as ``list`` shows it)."""
    service = ctx.service(collaboration["service"])
    notice = Notice(
        event="start",
        at=at,
        customer_number=collaboration["customer_number"],
        company_name=collaboration["company_name"],
        office_org_number=collaboration["office_org_number"],
        office_name=collaboration["office_name"],
        actor=ctx.actor,
        behalf=_behalf(ctx),
        service=service.code,
        service_name=service.name,
    )
    contact, office = _pair(notice, ctx.mail_language)
    outbox.queue_pair(
        sql,
        at=at,
        event="start",
        customer_number=notice.customer_number,
        service=service.code,
        office_org_number=notice.office_org_number,
        language=ctx.mail_language,
        contact_message=contact,
        office_message=office,
    )


def queue_end(
    sql: Executor,
    ctx: Context,
    *,
    at: str,
    customer_number: str,
    company_name: str,
    service: Service,
    office_org_number: str,
    office_name: str,
    ended_by: str,
    outcome: str,
    reason: str | None,
    backup_path: str | None,
) -> None:
    """The messages about an ended collaboration; one statement, for the bulk end's sake."""
    notice = Notice(
        event="end",
        at=at,
        customer_number=customer_number,
        company_name=company_name,
        office_org_number=office_org_number,
        office_name=office_name,
        actor=ctx.actor,
        behalf=ended_by,
        service=service.code,
        service_name=service.name,
        outcome=outcome,
        reason=reason,
        backup_file=os.path.basename(backup_path) if backup_path else None,
    )
    contact, office = _pair(notice, ctx.mail_language)
    outbox.queue_pair(
        sql,
        at=at,
        event="end",
        customer_number=customer_number,
        service=service.code,
        office_org_number=office_org_number,
        language=ctx.mail_language,
        contact_message=contact,
        office_message=office,
    )


def queue_main_contact(
    sql: Executor,
    ctx: Context,
    *,
    at: str,
    customer_number: str,
    company_name: str,
    email: str,
    name: str | None,
    previous: str | None,
    promoted: bool,
) -> None:
    """The messages about a new main contact: to them, and to every office working with
    the company now (none: the main contact's message alone)."""
    offices = outbox.active_offices(sql, customer_number)
    messages = []
    for index, (org, office_name, office_email) in enumerate(offices or [("", "", None)]):
        notice = Notice(
            event="main-contact",
            at=at,
            customer_number=customer_number,
            company_name=company_name,
            office_org_number=org,
            office_name=office_name,
            actor=ctx.actor,
            behalf=_behalf(ctx),
            contact_email=email,
            contact_name=name,
            previous_contact=previous,
            promoted=promoted,
        )
        if index == 0:
            subject, body = render(notice, "main-contact", ctx.mail_language)
            messages.append(NewMessage("main-contact", email, None, subject, body))
        if org:
            subject, body = render(notice, "office", ctx.mail_language)
            messages.append(NewMessage("office", office_email, org, subject, body))
    outbox.queue_messages(
        sql,
        at=at,
        event="main-contact",
        customer_number=customer_number,
        service=None,
        language=ctx.mail_language,
        messages=messages,
    )


# -- reading ------------------------------------------------------------------------


def list_messages(conn: Any, ctx: Context, state: str = "pending") -> Iterator[dict[str, Any]]:
    """The outbox, oldest first; a party sees only the messages about its own affairs."""
    if state not in LIST_STATES:
        raise InvalidInput(
            f"--state: {state!r} is not allowed", f"use one of: {', '.join(LIST_STATES)}"
        )
    party = ctx.party
    return outbox.list_messages(
        conn,
        state=None if state == "all" else state,
        customer_number=party.key if party is not None and party.kind == "customer" else None,
        office_org_number=party.key if party is not None and party.kind == "office" else None,
    )


def outbox_counts(conn: Any) -> dict[str, int]:
    return outbox.count_by_state(conn)


# -- settings -----------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    scheme: str  # smtp | smtps
    host: str
    port: int
    user: str | None
    password: str | None = field(repr=False)
    mail_from: str | None
    #: where the URL came from: environment | config
    source: str

    @property
    def display_url(self) -> str:
        """The URL as it may be shown: never the password."""
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{user}{host}:{self.port}"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.password,) if self.password else ()


def _config_error(message: str, hint: str) -> CollabError:
    return CollabError(message, hint, code="config-invalid")


def parse_smtp_url(
    url: str, source: str = "environment"
) -> tuple[str, str, int, str | None, str | None]:
    """(scheme, host, port, user, password) from ``smtp[s]://[USER:PASSWORD@]HOST[:PORT]``."""
    where = "COLLABCTL_SMTP_URL" if source == "environment" else "smtp_url in config.toml"
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = parts.hostname
    except ValueError as exc:  # a port that is not a number, a broken [IPv6] host
        raise _config_error(
            f"{where} is not a valid SMTP URL ({redact(str(exc))})", _SMTP_HINT
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in SMTP_SCHEMES:
        raise _config_error(
            f"{where}: unknown scheme {parts.scheme or '(none)'!r}; collabctl sends mail over "
            "smtp:// or smtps://",
            _SMTP_HINT,
        )
    if not host or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise _config_error(f"{where} is not a valid SMTP URL: it needs a host", _SMTP_HINT)
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return scheme, host, port or SMTP_SCHEMES[scheme], user, password


def smtp_settings(
    config: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> SmtpSettings | None:
    """The SMTP server and sender: environment before config.toml; None when no server is set."""
    environ = os.environ if environ is None else environ
    url, source = environ.get("COLLABCTL_SMTP_URL"), "environment"
    if not url:
        url, source = config.get("smtp_url"), "config"
    if not url:
        return None
    if not isinstance(url, str):
        raise _config_error("smtp_url in config.toml must be a string", _SMTP_HINT)
    scheme, host, port, user, password = parse_smtp_url(url, source)
    mail_from = environ.get("COLLABCTL_MAIL_FROM") or config.get("mail_from") or None
    if mail_from is not None:
        try:
            mail_from = validation.email(mail_from, "mail_from")
        except InvalidInput as exc:
            raise _config_error(
                f"the sender address {exc.message.split(': ', 1)[-1]}",
                'set COLLABCTL_MAIL_FROM or mail_from in config.toml, e.g. "collabctl@byran.se"',
            ) from None
    return SmtpSettings(scheme, host, port, user, password, mail_from, source)


def mail_language(config: Mapping[str, Any]) -> str:
    """``mail_language`` in config.toml: en (the default) or sv."""
    value = config.get("mail_language", mail_templates.DEFAULT_LANGUAGE)
    try:
        return mail_templates.language(value)
    except ValueError:
        raise _config_error(
            f"mail_language in config.toml: {value!r} is not a language collabctl writes",
            f"use one of: {', '.join(mail_templates.LANGUAGES)}",
        ) from None


# -- delivery -----------------------------------------------------------------------


class DeliveryFailed(Exception):
    """One message was not accepted. ``fatal``: no further message can go in this run."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.fatal = fatal


_UNSAFE_HEADER = re.compile(r"[\x00-\x1f\x7f]+")


def message_id(message: Claimed, mail_from: str) -> str:
    """Stable across attempts, so a receiver can drop a duplicate: the outbox id, the time
    it was queued (ids restart in another database), the sender's domain."""
    stamp = re.sub(r"\D", "", message.created_at)
    domain = mail_from.rpartition("@")[2] or "collabctl.invalid"
    return f"<collabctl.{message.id}.{stamp}@{domain}>"


def build_message(message: Claimed, mail_from: str) -> tuple[bytes, bool]:
    """The message as sent, and whether it needs SMTPUTF8 (non-ASCII addresses)."""
    from email import policy
    from email.message import EmailMessage
    from email.utils import format_datetime

    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = message.recipient
    email["Subject"] = _UNSAFE_HEADER.sub(" ", message.subject)
    created = datetime.strptime(message.created_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    email["Date"] = format_datetime(created)
    email["Message-ID"] = message_id(message, mail_from)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    email["Content-Language"] = message.language
    email.set_content(message.body)
    international = not (mail_from + message.recipient).isascii()
    return email.as_bytes(policy=policy.SMTPUTF8 if international else policy.SMTP), international


class Mailer:
    """One SMTP connection for a run, opened on first use and again after a drop."""

    def __init__(self, settings: SmtpSettings, timeout: float = SMTP_TIMEOUT_S) -> None:
        self.settings = settings
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def _scrub(self, text: str) -> str:
        return redact(text, self.settings.secrets)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        where = s.display_url
        smtp: smtplib.SMTP | None = None
        try:
            context = ssl.create_default_context()
            if s.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
            smtp.ehlo()
            if s.scheme == "smtp" and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.user:
                smtp.login(s.user, s.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            _quit(smtp)
            raise DeliveryFailed(
                self._scrub(f"{where} refused the login of {s.user}: {_reply(exc)}"), fatal=True
            ) from None
        except smtplib.SMTPNotSupportedError:
            _quit(smtp)
            raise DeliveryFailed(
                f"{where} offers no login (AUTH); drop the user and password from the URL, "
                "or use the server's submission port",
                fatal=True,
            ) from None
        except smtplib.SMTPResponseException as exc:
            _quit(smtp)
            raise DeliveryFailed(
                self._scrub(f"{where} refused the connection: {_reply(exc)}"), fatal=True
            ) from None
        except (OSError, smtplib.SMTPException) as exc:  # refused, unreachable, timeout, TLS
            _quit(smtp)
            raise DeliveryFailed(
                self._scrub(f"cannot connect to {where}: {_describe(exc)}"), fatal=True
            ) from None
        return smtp

    def send(self, message: Claimed) -> None:
        """Hand one message to the server; returns only once the server accepted it."""
        mail_from = self.settings.mail_from or ""
        data, international = build_message(message, mail_from)
        fresh = self._smtp is None
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        options = ["SMTPUTF8", "BODY=8BITMIME"] if international else []
        try:
            if international and not smtp.has_extn("smtputf8"):
                raise DeliveryFailed(
                    f"the server cannot take the non-ASCII address {message.recipient} (no SMTPUTF8)"
                )
            try:
                code, reply = smtp.mail(mail_from, options)
            except smtplib.SMTPServerDisconnected:
                if fresh:
                    raise
                # the server closed an idle connection (or after the last message): once more
                self.close()
                self._smtp = smtp = self._connect()
                code, reply = smtp.mail(mail_from, options)
            if code != 250:
                smtp.rset()
                raise DeliveryFailed(
                    f"the server refused the sender {mail_from}: {code} {_text(reply)}", fatal=True
                )
            code, reply = smtp.rcpt(message.recipient)
            if code not in (250, 251):
                smtp.rset()
                raise DeliveryFailed(
                    f"the server refused the recipient {message.recipient}: {code} {_text(reply)}"
                )
            code, reply = smtp.data(data)
            if code != 250:
                smtp.rset()
                raise DeliveryFailed(f"the server refused the message: {code} {_text(reply)}")
        except DeliveryFailed as exc:
            exc.message = self._scrub(exc.message)
            raise
        except (OSError, smtplib.SMTPException) as exc:
            # the connection broke mid-message: whether the server kept it is unknown, so it
            # stays pending (a second delivery carries the same Message-ID)
            self.close()
            raise DeliveryFailed(
                self._scrub(
                    f"the connection to {self.settings.display_url} broke: {_describe(exc)}"
                )
            ) from None

    def close(self) -> None:
        _quit(self._smtp)
        self._smtp = None


def _quit(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply(exc)
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer (timed out)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


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
        raise _config_error(
            "no sender address for notifications",
            'set COLLABCTL_MAIL_FROM or mail_from in config.toml, e.g. "collabctl@byran.se"',
        )
    if limit is not None and limit < 1:
        raise InvalidInput(f"--limit: {limit} is not a positive number", "e.g. --limit 100")
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
    try:
        mailer.send(message)
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
