"""The form of a notification as it goes over SMTP (RFC 5322): headers and body.

Written with the standard library's encoders rather than through ``EmailMessage``,
which takes about 2.5 ms a message: a bulk end's 20 000 messages would spend most
of ``notify send`` there. Every header line is at most 78 characters, so a long
company name never makes a message that a server refuses.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime

_UNSAFE_HEADER = re.compile(r"[\x00-\x1f\x7f]+")
#: RFC 5322's recommended limit for a header line, CRLF excluded
LINE_LIMIT = 78


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send: its outbox id and time (for the Message-ID), and its text."""

    id: int
    created_at: str  # stored timestamp, 2024-01-31T09:00:00.000000Z
    recipient: str
    language: str
    subject: str
    body: str


@functools.lru_cache(maxsize=16)
def sender_address(mail_from: str) -> str:
    """The address of ``mail_from``, which may carry a display name (``Support <s@x.se>``)."""
    from email.utils import parseaddr

    return parseaddr(mail_from)[1] or mail_from


def message_id(message: Outgoing, mail_from: str) -> str:
    """Stable across attempts, so a receiver can drop a duplicate: the outbox id, the time
    it was queued (ids restart in another database), the sender's domain."""
    stamp = re.sub(r"\D", "", message.created_at)
    domain = sender_address(mail_from).rpartition("@")[2] or "collabctl.invalid"
    return f"<collabctl.{message.id}.{stamp}@{domain}>"


def build_message(
    message: Outgoing, mail_from: str, now: datetime | None = None
) -> tuple[bytes, bool]:
    """The message as sent (plain text in UTF-8, quoted-printable), dated ``now`` (the send
    time), and whether it needs SMTPUTF8 (an address that is not ASCII)."""
    from binascii import b2a_qp
    from email.utils import format_datetime

    moment = (now or datetime.now(UTC)).astimezone(UTC)
    headers = (
        ("From", _from_header(mail_from)),
        ("To", _UNSAFE_HEADER.sub("", message.recipient)),
        ("Subject", _text_header("Subject", message.subject)),
        # RFC 5322's numeric zone: +0000, not GMT
        ("Date", format_datetime(moment.replace(microsecond=0))),
        ("Message-ID", message_id(message, mail_from)),
        ("Auto-Submitted", "auto-generated"),  # RFC 3834: no auto-replies, please
        ("Content-Language", _UNSAFE_HEADER.sub("", message.language)),
        ("MIME-Version", "1.0"),
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("Content-Transfer-Encoding", "quoted-printable"),
    )
    head = "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    body = b2a_qp(message.body.replace("\r\n", "\n").encode("utf-8"), istext=True)
    international = not (sender_address(mail_from) + message.recipient).isascii()
    return head.encode("utf-8") + body.replace(b"\n", b"\r\n"), international


def _text_header(name: str, value: str) -> str:
    """Free text for a header: as it is when short and ASCII, else encoded words, folded."""
    text = _UNSAFE_HEADER.sub(" ", value).strip()
    if text.isascii() and len(name) + 2 + len(text) <= LINE_LIMIT:
        return text
    return _encoded_words(text)


@functools.lru_cache(maxsize=16)
def _from_header(mail_from: str) -> str:
    from email.utils import parseaddr

    name, address = parseaddr(_UNSAFE_HEADER.sub("", mail_from))
    if not address:
        return _UNSAFE_HEADER.sub("", mail_from)
    if not name:
        return address
    if name.isascii() and len(name) + len(address) < LINE_LIMIT - 12:
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{address}>'
    return f"{_encoded_words(name)}\r\n <{address}>"


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
