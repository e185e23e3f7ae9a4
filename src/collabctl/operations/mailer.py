"""Talking to the SMTP server: where it is (``smtp_url``), and handing it one message.

``smtp://[USER:PASSWORD@]HOST[:PORT]`` uses STARTTLS whenever the server offers
it; ``smtps://`` speaks TLS from the start. Certificates are checked against the
system's trust store (``SSL_CERT_FILE`` names another). The password is only
ever given to the server: every message that could show it is scrubbed.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from collabctl.config import redact
from collabctl.domain import validation
from collabctl.domain.errors import CollabError, InvalidInput
from collabctl.operations.mail_form import Outgoing, build_message, sender_address
from collabctl.operations.smtp_connection import (
    DeliveryFailed,
    SmtpSettings,
    describe,
    open_connection,
    quit_quietly,
    refused,
    reply_text,
)

SMTP_SCHEMES = {"smtp": 25, "smtps": 465}
#: seconds smtplib waits for the server at each step
SMTP_TIMEOUT_S = 30.0
_SMTP_HINT = (
    "use smtp://[USER:PASSWORD@]HOST:PORT (STARTTLS when the server offers it) or "
    "smtps://[USER:PASSWORD@]HOST:PORT (TLS from the start), in COLLABCTL_SMTP_URL or "
    "smtp_url in config.toml"
)


def config_error(message: str, hint: str) -> CollabError:
    return CollabError(message, hint, code="config-invalid")


def parse_smtp_url(
    url: str, source: str = "environment"
) -> tuple[str, str, int, str | None, str | None]:
    """(scheme, host, port, user, password) from ``smtp[s]://[USER:PASSWORD@]HOST[:PORT]``.

    The password may hold any character, raw or percent-encoded: the user and password
    end at the last ``@`` (a host never has one), the user at the first ``:``."""
    where = "COLLABCTL_SMTP_URL" if source == "environment" else "smtp_url in config.toml"
    text = url.strip()
    scheme_part, separator, rest = text.partition("://")
    scheme = scheme_part.lower()
    if not separator or scheme not in SMTP_SCHEMES:
        # only a word is repeated: whatever else stands before "://" may hold the password
        word = separator and scheme_part.isascii() and scheme_part.isalnum()
        shown = scheme_part if word else "(none)"
        raise config_error(
            f"{where}: unknown scheme {shown!r}; collabctl sends mail over smtp:// or smtps://",
            _SMTP_HINT,
        )
    userinfo, at, hostport = rest.rpartition("@")
    user = password = None
    if at:
        raw_user, colon, raw_password = userinfo.partition(":")
        user = unquote(raw_user) or None
        password = unquote(raw_password) if colon else None
    try:
        parts = urlsplit(f"//{hostport}")
        port = parts.port
        host = parts.hostname
    except ValueError as exc:  # a port that is not a number, a broken [IPv6] host
        raise config_error(
            f"{where} is not a valid SMTP URL ({redact(str(exc), (password or '',))})",
            _SMTP_HINT,
        ) from None
    if not host or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise config_error(f"{where} is not a valid SMTP URL: it needs a host", _SMTP_HINT)
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
        mail_from = _sender(mail_from)
    return SmtpSettings(scheme, host, port, user, password, mail_from, source)


def _sender(value: object) -> str:
    """``mail_from``: an address, or a display name and an address (``Support <s@x.se>``)."""
    from email.utils import parseaddr

    text = value.strip() if isinstance(value, str) else ""
    name, address = parseaddr(text) if "<" in text else ("", text)
    try:
        if "<" in text and (not address or not name.isprintable()):
            raise InvalidInput(f"{text!r} is not an e-mail address", "")
        validation.email(address, "mail_from")
    except InvalidInput as exc:
        raise config_error(
            f"the sender address {exc.message.split(': ', 1)[-1]}",
            'set COLLABCTL_MAIL_FROM or mail_from in config.toml, e.g. "collabctl@byran.se" '
            'or "Support <support@byran.se>"',
        ) from None
    return text


# -- delivery -----------------------------------------------------------------------
#
# Each reply falls into one of four classes, as a mail server's queue sorts them:
# accepted; a temporary failure (4xx, no answer, a dropped connection): the message is
# deferred; a permanent refusal of the recipient or the message (5xx at RCPT or DATA):
# the message fails; a refusal of collabctl itself (5xx at AUTH or MAIL FROM, 530
# authentication required): the settings are wrong, the run stops, no message is charged.

#: the server closes the connection (a per-connection limit, or going away)
_CLOSING = 421
_AUTH_REQUIRED = 530


class _Closed(Exception):
    """The server closed the connection or answered 421: reconnect and send again."""


class Mailer:
    """One SMTP connection for a run, opened on first use and again after a drop."""

    def __init__(self, settings: SmtpSettings, timeout: float = SMTP_TIMEOUT_S) -> None:
        self.settings = settings
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None
        self.reconnects = 0

    def _scrub(self, text: str) -> str:
        return redact(text, self.settings.secrets)

    def _connect(self) -> smtplib.SMTP:
        try:
            return open_connection(self.settings, self.timeout)
        except CollabError as exc:
            exc.message = self._scrub(exc.message)
            raise
        except DeliveryFailed as exc:
            exc.message = self._scrub(exc.message)
            raise

    def send(self, message: Outgoing, now: datetime | None = None) -> None:
        """Hand one message to the server; returns only once the server accepted it.
        A closed connection or a 421 on a connection that carried messages (a limit per
        connection) is opened again, once, and the message sent over the new one."""
        data, international = build_message(message, self.settings.mail_from or "", now)
        while True:
            fresh = self._smtp is None
            if self._smtp is None:
                self._smtp = self._connect()
            try:
                self._transfer(self._smtp, message, data, international)
                return
            except _Closed as exc:
                self.close()
                if fresh:
                    # even a new connection is closed at once: the server is unavailable
                    raise DeliveryFailed(
                        self._scrub(f"{self.settings.display_url} closed the connection: {exc}"),
                        unreachable=True,
                    ) from None
                self.reconnects += 1
            except DeliveryFailed as exc:
                exc.message = self._scrub(exc.message)
                raise
            except CollabError as exc:
                exc.message = self._scrub(exc.message)
                raise

    def _transfer(
        self, smtp: smtplib.SMTP, message: Outgoing, data: bytes, international: bool
    ) -> None:
        sender = sender_address(self.settings.mail_from or "")
        if international and not smtp.has_extn("smtputf8"):
            raise DeliveryFailed(
                f"the server cannot take the non-ASCII address {message.recipient} (no SMTPUTF8)",
                permanent=True,
            )
        options = ["SMTPUTF8", "BODY=8BITMIME"] if international else []
        try:
            code, reply = smtp.mail(sender, options)
            if code != 250:
                _reset(smtp)
                _judge(code, reply, f"the server refused the sender {sender}", sender=True)
            code, reply = smtp.rcpt(message.recipient)
            if code not in (250, 251):
                _reset(smtp)
                _judge(code, reply, f"the server refused the recipient {message.recipient}")
            data_reply: bytes | str
            try:
                code, data_reply = smtp.data(data)
            except smtplib.SMTPDataError as exc:  # DATA itself refused (no 354)
                code, data_reply = exc.smtp_code, exc.smtp_error
            if code != 250:
                _reset(smtp)
                _judge(code, data_reply, "the server refused the message")
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            # whether the server kept a message cut off mid-way is unknown: it goes again
            # (over a new connection, with the same Message-ID)
            raise _Closed(describe(exc)) from None

    def close(self) -> None:
        quit_quietly(self._smtp)
        self._smtp = None


def _judge(code: int, reply: bytes | str, what: str, *, sender: bool = False) -> None:
    """Raise what a refusal means: see the classes above."""
    text = f"{what}: {code} {reply_text(reply)}"
    if code == _CLOSING:
        raise _Closed(f"{code} {reply_text(reply)}")
    if code == _AUTH_REQUIRED or (sender and code >= 500):
        raise refused(text)
    raise DeliveryFailed(text, permanent=code >= 500)


def _reset(smtp: smtplib.SMTP) -> None:
    # the next command finds out whether the connection is still there
    with contextlib.suppress(OSError, smtplib.SMTPException):
        smtp.rset()
