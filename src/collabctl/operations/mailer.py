"""Talking to the SMTP server: where it is (``smtp_url``), and handing it one message.

``smtp://[USER:PASSWORD@]HOST[:PORT]`` uses STARTTLS whenever the server offers
it; ``smtps://`` speaks TLS from the start. Certificates are checked against the
system's trust store (``SSL_CERT_FILE`` names another). The password is only
ever given to the server: every message that could show it is scrubbed.
"""

from __future__ import annotations

import os
import re
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from collabctl.config import redact
from collabctl.domain import validation
from collabctl.domain.errors import CollabError, InvalidInput

SMTP_SCHEMES = {"smtp": 25, "smtps": 465}
#: seconds smtplib waits for the server at each step
SMTP_TIMEOUT_S = 30.0
_SMTP_HINT = (
    "use smtp://[USER:PASSWORD@]HOST:PORT (STARTTLS when the server offers it) or "
    "smtps://[USER:PASSWORD@]HOST:PORT (TLS from the start), in COLLABCTL_SMTP_URL or "
    "smtp_url in config.toml"
)


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


def config_error(message: str, hint: str) -> CollabError:
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
        raise config_error(
            f"{where} is not a valid SMTP URL ({redact(str(exc))})", _SMTP_HINT
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in SMTP_SCHEMES:
        raise config_error(
            f"{where}: unknown scheme {parts.scheme or '(none)'!r}; collabctl sends mail over "
            "smtp:// or smtps://",
            _SMTP_HINT,
        )
    if not host or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise config_error(f"{where} is not a valid SMTP URL: it needs a host", _SMTP_HINT)
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
        raise config_error("smtp_url in config.toml must be a string", _SMTP_HINT)
    scheme, host, port, user, password = parse_smtp_url(url, source)
    mail_from = environ.get("COLLABCTL_MAIL_FROM") or config.get("mail_from") or None
    if mail_from is not None:
        try:
            mail_from = validation.email(mail_from, "mail_from")
        except InvalidInput as exc:
            raise config_error(
                f"the sender address {exc.message.split(': ', 1)[-1]}",
                'set COLLABCTL_MAIL_FROM or mail_from in config.toml, e.g. "collabctl@byran.se"',
            ) from None
    return SmtpSettings(scheme, host, port, user, password, mail_from, source)


# -- delivery -----------------------------------------------------------------------


class DeliveryFailed(Exception):
    """One message was not accepted. ``fatal``: no further message can go in this run."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.fatal = fatal


_UNSAFE_HEADER = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send: its outbox id and time (for the Message-ID), and its text."""

    id: int
    created_at: str  # stored timestamp, 2024-01-31T09:00:00.000000Z
    recipient: str
    language: str
    subject: str
    body: str


def message_id(message: Outgoing, mail_from: str) -> str:
    """Stable across attempts, so a receiver can drop a duplicate: the outbox id, the time
    it was queued (ids restart in another database), the sender's domain."""
    stamp = re.sub(r"\D", "", message.created_at)
    domain = mail_from.rpartition("@")[2] or "collabctl.invalid"
    return f"<collabctl.{message.id}.{stamp}@{domain}>"


def build_message(message: Outgoing, mail_from: str) -> tuple[bytes, bool]:
    """The message as sent (RFC 5322, plain text in UTF-8, quoted-printable), and whether
    it needs SMTPUTF8 (an address that is not ASCII).

    Written with the standard library's encoders rather than through ``EmailMessage``,
    which takes about 2.5 ms a message: a bulk end's 20 000 messages would spend most of
    ``notify send`` there.
    """
    from binascii import b2a_qp
    from email.utils import formatdate

    subject = _UNSAFE_HEADER.sub(" ", message.subject).strip()
    if not subject.isascii():
        subject = _encoded_words(subject)
    created = datetime.strptime(message.created_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    headers = (
        ("From", _UNSAFE_HEADER.sub("", mail_from)),
        ("To", _UNSAFE_HEADER.sub("", message.recipient)),
        ("Subject", subject),
        ("Date", formatdate(created.timestamp(), usegmt=True)),
        ("Message-ID", message_id(message, mail_from)),
        ("Auto-Submitted", "auto-generated"),  # RFC 3834: no auto-replies, please
        ("Content-Language", _UNSAFE_HEADER.sub("", message.language)),
        ("MIME-Version", "1.0"),
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("Content-Transfer-Encoding", "quoted-printable"),
    )
    head = "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    body = b2a_qp(message.body.replace("\r\n", "\n").encode("utf-8"), istext=True)
    international = not (mail_from + message.recipient).isascii()
    return head.encode("utf-8") + body.replace(b"\n", b"\r\n"), international


def _encoded_words(text: str) -> str:
    """``text`` as RFC 2047 encoded words (base64 of UTF-8), folded, each at most 75
    characters and never splitting a character."""
    from base64 import b64encode

    chunks: list[str] = []
    chunk: list[str] = []
    size = 0
    for char in text:
        width = len(char.encode("utf-8"))
        if size + width > 39:  # 39 bytes: 52 in base64, 64 with the markers, "Subject: " too
            chunks.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += width
    chunks.append("".join(chunk))
    return "\r\n ".join(
        "=?utf-8?b?" + b64encode(c.encode("utf-8")).decode("ascii") + "?=" for c in chunks
    )


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
                _login(smtp, s.user, s.password or "")
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

    def send(self, message: Outgoing) -> None:
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


#: the login mechanisms tried, best first (smtplib's own order)
_MECHANISMS = ("CRAM-MD5", "PLAIN", "LOGIN")


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """Log in with one mechanism the server offers. Unlike ``SMTP.login``, a refusal is
    final: the same credentials are not tried again over the other mechanisms."""
    if not smtp.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("the server offers no AUTH")
    offered = smtp.esmtp_features["auth"].upper().split()
    mechanism = next((m for m in _MECHANISMS if m in offered), None)
    if mechanism is None:
        raise smtplib.SMTPNotSupportedError("no login mechanism in common with the server")
    smtp.user, smtp.password = user, password
    authobject = getattr(smtp, "auth_" + mechanism.lower().replace("-", "_"))
    smtp.auth(mechanism, authobject)


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
