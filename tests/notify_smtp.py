"""A real SMTP server on 127.0.0.1 for the notification tests (aiosmtpd, in a thread).

It records every message it accepted (parsed, with its envelope) and can be told
to misbehave as real servers do: refuse some recipients for good (550) or for a
while (451 greylisting), refuse the sender, ask for a login (530), close the
connection after some messages (421, a per-connection limit), accept a message
and then drop the connection, or take its time over each message.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def body(self) -> str:
        return str(self.message.get_content()).replace("\r\n", "\n")


@dataclass
class Mailbox:
    """The server's behaviour and what it received."""

    received: list[Received] = field(default_factory=list)
    #: recipients answered with 550
    reject: set[str] = field(default_factory=set)
    #: close the connection right after accepting a message
    drop_after_accept: bool = False
    #: seconds to wait before answering each message's data
    delay: float = 0.0
    logins: list[tuple[str, str]] = field(default_factory=list)
    #: replies given to RCPT TO for a recipient, one per attempt, before it is accepted
    rcpt_replies: dict[str, list[str]] = field(default_factory=dict)
    #: the reply to every RCPT TO (e.g. 530 authentication required), None: as above
    rcpt_reply: str | None = None
    #: the reply to every MAIL FROM (e.g. 553 sender refused), None: 250
    mail_reply: str | None = None
    #: after this many messages on one connection, 421 and the connection closes
    per_connection: int | None = None
    #: close every connection at its first MAIL FROM (a server going down)
    close_at_mail: bool = False
    #: the 421s answered for the per-connection limit
    closings: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def messages_to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.rcpt_tos]

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if getattr(server, "dropping", False) or self.close_at_mail:
            # a message was accepted on this connection and the server is going away: the
            # next command never gets an answer, whichever of the two comes first
            server.transport.close()
            return "421 4.3.0 closing"
        if (
            self.per_connection is not None
            and getattr(session, "accepted", 0) >= self.per_connection
        ):
            with self.lock:
                self.closings += 1
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
            return "421 4.7.0 too many messages on this connection"
        if self.mail_reply is not None:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.reject:
            return "550 5.1.1 <" + address + ">: mailbox unavailable"
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        with self.lock:
            scripted = self.rcpt_replies.get(address)
            if scripted:
                return scripted.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        session.accepted = getattr(session, "accepted", 0) + 1
        if self.drop_after_accept:
            server.dropping = True
            # after the reply below has gone out
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
        return "250 2.0.0 accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpServer:
    mailbox: Mailbox
    port: int
    user: str | None = None
    password: str | None = None
    scheme: str = "smtp"

    def url(self, user: str | None = None, password: str | None = None) -> str:
        user = user if user is not None else self.user
        password = password if password is not None else self.password
        auth = f"{user}:{password}@" if user else ""
        return f"{self.scheme}://{auth}127.0.0.1:{self.port}"


@contextmanager
def smtp_server(
    *,
    user: str | None = None,
    password: str | None = None,
    tls: Any = None,
    implicit_tls: Any = None,
    port: int | None = None,
) -> Iterator[SmtpServer]:
    """Run a server until the block ends. ``user``/``password``: logins are required
    (over a plain connection too); ``tls``: an SSLContext offered with STARTTLS;
    ``implicit_tls``: an SSLContext for TLS from the first byte (smtps); ``port``: the
    port to listen on (default: a free one)."""
    mailbox = Mailbox()
    kwargs: dict[str, Any] = {}
    if user is not None:

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
        ) -> AuthResult:
            if not isinstance(auth_data, LoginPassword):
                mailbox.logins.append((mechanism, "?"))
                return AuthResult(success=False, handled=False)
            login = auth_data.login.decode()
            given = auth_data.password.decode()
            mailbox.logins.append((login, given))
            return AuthResult(success=login == user and given == password, handled=False)

        kwargs.update(authenticator=authenticator, auth_require_tls=False, auth_required=True)
    if tls is not None:
        kwargs.update(tls_context=tls)
    if implicit_tls is not None:
        kwargs.update(ssl_context=implicit_tls)
    port = port or free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpServer(
            mailbox, port, user, password, "smtps" if implicit_tls is not None else "smtp"
        )
    finally:
        controller.stop()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with the openssl command."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
