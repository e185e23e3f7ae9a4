"""Opening an SMTP connection: connect, EHLO, STARTTLS, AUTH, each step judged.

Shared by ``notify send`` (operations/mailer.py) and ``doctor``, which walks the
same steps without sending. Certificates are checked against the system's trust
store (``SSL_CERT_FILE`` names another). A password never goes over a connection
that is not encrypted (``smtp-insecure``).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass, field

from collabctl.domain.errors import CollabError, SmtpInsecure

_SETTINGS_HINT = (
    "check the SMTP settings (COLLABCTL_SMTP_URL or smtp_url: host, port, user and "
    "password; COLLABCTL_MAIL_FROM or mail_from) with `collabctl doctor`; the messages "
    "stay in the outbox"
)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send: an SMTP URL taken apart (``mailer.smtp_settings``)."""

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


class DeliveryFailed(Exception):
    """One message was not accepted. ``permanent``: it never will be (fails at once);
    else it is deferred. ``unreachable``: the server cannot be reached now: the run stops."""

    def __init__(self, message: str, *, permanent: bool = False, unreachable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.unreachable = unreachable


def refused(message: str) -> CollabError:
    """The server refuses collabctl itself: the settings, not a message, are wrong."""
    return CollabError(message, _SETTINGS_HINT, code="config-invalid")


def insecure(where: str) -> SmtpInsecure:
    return SmtpInsecure(
        f"{where} offers no STARTTLS: collabctl does not send a password over an "
        "unencrypted connection",
        "use smtps://HOST:465 or the server's submission port with STARTTLS (587), or drop "
        "the user and password for a relay that needs no login",
    )


def open_connection(
    settings: SmtpSettings, timeout: float, steps: list[tuple[str, str]] | None = None
) -> smtplib.SMTP:
    """Connect, EHLO, STARTTLS (when offered), AUTH (when a user is set); each step done is
    added to ``steps`` as (step, what happened). Raises DeliveryFailed(unreachable) for a
    temporary failure, a CollabError when the server refuses collabctl (or would take a
    password in the clear: ``smtp-insecure``)."""
    s = settings
    where = s.display_url
    done = steps if steps is not None else []
    smtp: smtplib.SMTP | None = None
    step = "connect"
    try:
        context = ssl.create_default_context()
        if s.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=timeout)
        done.append(("connect", f"{where} answered"))
        step = "ehlo"
        code, reply = smtp.ehlo()
        if code != 250:
            raise smtplib.SMTPResponseException(code, reply)
        done.append(("ehlo", "ok"))
        step = "starttls"
        if s.scheme == "smtp" and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            code, reply = smtp.ehlo()
            if code != 250:
                raise smtplib.SMTPResponseException(code, reply)
            done.append(("starttls", "ok"))
        elif s.scheme == "smtp":
            if s.user:
                raise insecure(where)
            done.append(("starttls", "not offered (no login over this connection)"))
        else:
            done.append(("starttls", "TLS from the start (smtps)"))
        step = "auth"
        if s.user:
            _login(smtp, s.user, s.password or "")
            done.append(("auth", f"logged in as {s.user}"))
        else:
            done.append(("auth", "no user in the URL: no login"))
    except CollabError:
        quit_quietly(smtp)
        raise
    except smtplib.SMTPNotSupportedError as exc:
        quit_quietly(smtp)
        raise refused(
            f"{where} offers no login ({exc}); drop the user and password from the URL, "
            "or use the server's submission port"
        ) from None
    except smtplib.SMTPResponseException as exc:
        quit_quietly(smtp)
        if 400 <= exc.smtp_code < 500 or exc.smtp_code == -1:
            raise DeliveryFailed(
                f"{where} is not available now ({step}): {_reply(exc)}", unreachable=True
            ) from None
        if step == "auth":
            raise refused(f"{where} refused the login of {s.user}: {_reply(exc)}") from None
        raise refused(f"{where} refused collabctl ({step}): {_reply(exc)}") from None
    except (OSError, smtplib.SMTPException) as exc:  # refused, unreachable, timeout, TLS
        quit_quietly(smtp)
        raise DeliveryFailed(
            f"cannot connect to {where} ({step}): {describe(exc)}", unreachable=True
        ) from None
    return smtp


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


def quit_quietly(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {reply_text(exc.smtp_error)}"


def describe(exc: BaseException) -> str:
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


#: seconds doctor waits for the SMTP server at each step
PROBE_TIMEOUT_S = 10.0


def probe(settings: SmtpSettings, timeout: float = PROBE_TIMEOUT_S) -> tuple[bool, str]:
    """``doctor``'s check of the server, sending nothing: connect, EHLO, STARTTLS, AUTH,
    each step said; the first that fails says why. Never shows the password."""
    from collabctl.config import redact

    steps: list[tuple[str, str]] = []
    try:
        smtp = open_connection(settings, timeout, steps)
    except DeliveryFailed as exc:
        ok, why = False, exc.message
    except CollabError as exc:
        ok, why = False, f"{exc.message} ({exc.hint})"
    else:
        quit_quietly(smtp)
        ok, why = True, ""
    done = ", ".join(f"{step} {what}" for step, what in steps)
    detail = f"{done}; {why}" if done and why else done or why
    return ok, redact(detail, settings.secrets)
