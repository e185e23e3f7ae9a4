"""Delivery at the grade of a mail server (SPEC §8.2), against a real SMTP server on
127.0.0.1 (aiosmtpd) that misbehaves as real ones do: down for a while, greylisting
(451), a per-connection limit (421), refusing the login or the sender (530, 535,
553). A temporary failure defers the message with backoff and only expiry fails
it; a refusal of collabctl itself stops the run and charges no message.

The clock of a run is injected (``send_pending(clock=...)``): the backoff and the
expiry are checked hours ahead without waiting for them."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collabctl.domain.errors import CollabError
from collabctl.operations.context import Context
from collabctl.operations.delivery import Delivery, SendReport, send_pending
from collabctl.operations.mailer import Mailer
from collabctl.store.database import Database
from notify_smtp import SmtpServer, free_port, self_signed_certificate, smtp_server
from outbox_builders import by_id, notice, queue, rows, settings_for

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server-side TLS context with a certificate the client trusts (SSL_CERT_FILE)."""
    cert, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def at(offset: timedelta) -> Callable[[], datetime]:
    """A clock standing ``offset`` from now."""
    moment = datetime.now(UTC) + offset
    return lambda: moment


def send(
    db: Database, url: str, clock: Callable[[], datetime] | None = None, **kwargs: Any
) -> tuple[SendReport, list[Delivery]]:
    seen: list[Delivery] = []
    report = send_pending(
        db, settings_for(url), Context("tester"), on_delivery=seen.append, clock=clock, **kwargs
    )
    return report, seen


def parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def test_a_server_down_for_many_runs_defers_with_backoff_and_delivers_once_up(
    db: Database,
) -> None:
    [message] = queue(db, "anna@kund.example")
    port = free_port()  # nothing listens there yet
    url = f"smtp://127.0.0.1:{port}"
    waits = []
    offset = timedelta(0)
    for run in range(1, 10):
        report, _ = send(db, url, clock=at(offset))
        assert (report.sent, report.deferred, report.failed) == (0, 1, 0)
        assert report.stopped is not None and "cannot connect" in report.stopped
        row = by_id(db)[message]
        assert (row["state"], row["deferrals"]) == ("pending", run)
        assert "cannot connect to smtp://127.0.0.1" in row["last_error"]
        now = datetime.now(UTC) + offset
        wait = parse(row["next_attempt_at"]) - now
        waits.append(round(wait.total_seconds() / 60))
        # a run before the message is due again leaves it alone
        early, _ = send(db, url, clock=at(offset + wait - timedelta(seconds=5)))
        assert (early.sent, early.deferred) == (0, 0)
        offset += wait + timedelta(seconds=1)
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]  # doubling, at most an hour

    with smtp_server(port=port) as up:
        report, _ = send(db, url, clock=at(offset))
        assert (report.sent, report.deferred, report.failed) == (1, 0, 0)
        assert len(up.mailbox.received) == 1
    row = by_id(db)[message]
    assert (row["state"], row["last_error"], row["next_attempt_at"]) == ("sent", None, None)
    assert send(db, url, clock=at(offset), all_due=True)[0].sent == 0


def test_greylisting_defers_and_the_next_due_run_delivers(db: Database, server: SmtpServer) -> None:
    server.mailbox.rcpt_replies["anna@kund.example"] = ["451 4.7.1 greylisted, try later"]
    [message] = queue(db, "anna@kund.example")
    report, seen = send(db, server.url())
    assert (report.sent, report.deferred, report.failed, report.stopped) == (0, 1, 0, None)
    assert seen[0].status == "deferred" and "451 4.7.1 greylisted" in (seen[0].error or "")
    row = by_id(db)[message]
    assert (row["state"], row["deferrals"], row["attempts"]) == ("pending", 1, 1)

    assert send(db, server.url())[0].sent == 0  # not due yet
    report, _ = send(db, server.url(), clock=at(timedelta(minutes=1, seconds=5)))
    assert report.sent == 1
    assert [r.rcpt_tos for r in server.mailbox.received] == [["anna@kund.example"]]


def test_a_connection_dropped_by_a_server_going_down_defers(
    db: Database, server: SmtpServer
) -> None:
    server.mailbox.close_at_mail = True
    ids = queue(db, "anna@kund.example", "bo@kund.example")
    report, seen = send(db, server.url())
    # even a fresh connection is closed: the run stops after deferring the one it tried
    assert (report.sent, report.deferred, report.failed) == (0, 1, 0)
    assert report.stopped is not None and "closed the connection" in report.stopped
    stored = by_id(db)
    assert (stored[seen[0].id]["state"], stored[seen[0].id]["deferrals"]) == ("pending", 1)
    [other] = [i for i in ids if i != seen[0].id]
    assert (stored[other]["attempts"], stored[other]["deferrals"]) == (0, 0)
    server.mailbox.close_at_mail = False
    assert send(db, server.url(), all_due=True)[0].sent == 2


def test_send_all_ignores_the_backoff(db: Database, server: SmtpServer) -> None:
    server.mailbox.rcpt_replies["anna@kund.example"] = ["451 4.7.1 greylisted"]
    queue(db, "anna@kund.example")
    assert send(db, server.url())[0].deferred == 1
    assert send(db, server.url(), all_due=True)[0].sent == 1


def test_a_per_connection_limit_reconnects_and_one_run_sends_all(
    db: Database, server: SmtpServer
) -> None:
    server.mailbox.per_connection = 3
    ids = queue(db, *(f"u{i}@kund.example" for i in range(10)))
    report, seen = send(db, server.url())
    assert (report.sent, report.deferred, report.failed, report.stopped) == (10, 0, 0, None)
    assert report.reconnects == 3 == server.mailbox.closings
    assert [d.status for d in seen] == ["sent"] * 10
    stored = by_id(db)
    assert all((stored[i]["attempts"], stored[i]["deferrals"]) == (1, 0) for i in ids)
    assert len(server.mailbox.received) == 10


# where the server refuses is the SMTP conversation's business: rcpt on both backends,
# mail on SQLite
@pytest.mark.parametrize(
    ("backend", "where", "reply"),
    [
        ("sqlite", "rcpt", "530 5.7.0 Authentication required"),
        ("postgres", "rcpt", "530 5.7.0 Authentication required"),
        ("sqlite", "mail", "553 5.7.1 sender address rejected: not owned by user"),
    ],
    indirect=["backend"],
)
def test_a_refusal_of_collabctl_stops_the_run_and_charges_nobody(
    db: Database, server: SmtpServer, where: str, reply: str
) -> None:
    if where == "rcpt":
        server.mailbox.rcpt_reply = reply
    else:
        server.mailbox.mail_reply = reply
    queue(db, "anna@kund.example", "bo@kund.example")
    report, seen = send(db, server.url())
    assert report.refusal is not None and report.refusal.code == "config-invalid"
    assert report.refusal.exit_code == 3
    assert reply.split()[0] in report.refusal.message
    assert "SMTP settings" in report.refusal.hint
    assert seen == [] and report.sent == report.deferred == report.failed == 0
    for row in rows(db):
        assert (row["state"], row["attempts"], row["deferrals"]) == ("pending", 0, 0)
        assert row["last_error"] is None


def test_a_wrong_password_stops_the_run_charges_nobody_and_is_never_shown(
    db: Database, tls: ssl.SSLContext
) -> None:
    password = "s3cr%t/#?@:pw"
    with smtp_server(user="mailer", password="right", tls=tls) as server:
        queue(db, "anna@kund.example")
        from urllib.parse import quote

        report, _ = send(db, server.url(password=quote(password, safe="")))
        assert server.mailbox.logins == [("mailer", password)]  # asked, over TLS
        assert report.refusal is not None and "refused the login of mailer: 535" in (
            report.refusal.message
        )
        assert password not in report.refusal.message and "s3cr" not in report.refusal.message
        row = rows(db)[0]
        assert (row["state"], row["attempts"], row["last_error"]) == ("pending", 0, None)
        report, _ = send(db, server.url(password="right"))
        assert report.sent == 1


def test_a_message_undelivered_for_72_hours_expires(db: Database) -> None:
    [message] = queue(db, "anna@kund.example")
    url = f"smtp://127.0.0.1:{free_port()}"
    report, _ = send(db, url, clock=at(timedelta(hours=71)))
    assert report.deferred == 1 and by_id(db)[message]["state"] == "pending"
    report, seen = send(db, url, clock=at(timedelta(hours=72, minutes=1)))
    assert report.failed == 1 and seen == []  # expired before any attempt of this run
    row = by_id(db)[message]
    assert row["state"] == "failed"
    assert row["last_error"].startswith("expired: not delivered within 72 hours")
    assert "cannot connect" in row["last_error"]  # the last error is kept


def test_a_deferral_past_the_expiry_fails_the_message(db: Database) -> None:
    [message] = queue(db, "anna@kund.example")
    url = f"smtp://127.0.0.1:{free_port()}"
    calls = []

    def clock() -> datetime:
        # the run starts (and sweeps) an hour in; it is three hours in when the message
        # is tried, past the expiry of two
        calls.append(1)
        return datetime.now(UTC) + timedelta(hours=1 if len(calls) == 1 else 3)

    report, seen = send(db, url, clock=clock, expire_after=2)
    assert report.failed == 1 and [d.status for d in seen] == ["failed"]
    row = by_id(db)[message]
    assert (row["state"], row["attempts"]) == ("failed", 1)
    assert row["last_error"].startswith("expired: not delivered within 2 hours")
    assert "cannot connect" in row["last_error"]


def _stalling_tls_server() -> tuple[int, threading.Event]:
    """A server that offers STARTTLS, says yes, and then never does the handshake."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, listener:
            conn.sendall(b"220 stall ESMTP\r\n")
            reader = conn.makefile("rb")
            reader.readline()  # EHLO
            conn.sendall(b"250-stall\r\n250 STARTTLS\r\n")
            reader.readline()  # STARTTLS
            conn.sendall(b"220 go ahead\r\n")
            done.wait(30)

    threading.Thread(target=serve, daemon=True).start()
    return int(listener.getsockname()[1]), done


def test_a_tls_handshake_that_times_out_defers(db: Database) -> None:
    [message] = queue(db, "anna@kund.example")
    port, done = _stalling_tls_server()
    try:
        settings = settings_for(f"smtp://127.0.0.1:{port}")
        report = send_pending(db, settings, Context("tester"), mailer=Mailer(settings, timeout=1))
    finally:
        done.set()
    assert report.deferred == 1 and report.stopped is not None
    assert "starttls" in report.stopped
    row = by_id(db)[message]
    assert (row["state"], row["deferrals"]) == ("pending", 1)


def test_a_refusal_is_raised_through_the_command_with_exit_3(
    cli: Any, db: Database, server: SmtpServer
) -> None:
    server.mailbox.rcpt_reply = "530 5.7.0 Authentication required"
    queue(db, "anna@kund.example")
    env = {"COLLABCTL_SMTP_URL": server.url(), "COLLABCTL_MAIL_FROM": "c@byran.example"}
    result = cli("notify", "send", env=env)
    assert result.exit_code == 3, result.output
    assert "notify send: 0 sent; 1 message pending" in result.stderr
    assert "error[config-invalid]" in result.stderr and "530" in result.stderr
    assert "SMTP settings" in result.hint()


def test_a_bad_expiry_setting_is_a_configuration_error() -> None:
    from collabctl.operations.delivery import expire_hours

    assert expire_hours({}) == 72
    assert expire_hours({"notify_expire_hours": 24}) == 24
    for bad in ("72", 0, -1, True):
        with pytest.raises(CollabError) as raised:
            expire_hours({"notify_expire_hours": bad})
        assert raised.value.code == "config-invalid"


def test_the_command_says_what_was_deferred_and_until_when(
    cli: Any, db: Database, server: SmtpServer
) -> None:
    server.mailbox.rcpt_replies["anna@kund.example"] = ["451 4.7.1 greylisted"]
    [message] = queue(db, "anna@kund.example")
    env = {"COLLABCTL_SMTP_URL": server.url(), "COLLABCTL_MAIL_FROM": "c@byran.example"}
    first = cli("notify", "send", "--format", "json", env=env)
    assert first.exit_code == 4, first.output
    due = by_id(db)[message]["next_attempt_at"]
    assert f"message {message} to anna@kund.example: deferred (due again {due})" in first.stderr
    assert "451 4.7.1 greylisted" in first.stderr
    assert "notify send: 0 sent, 1 deferred (tried again later); 1 message pending" in (
        first.stderr
    )
    assert first.json() == {"sent": 0, "deferred": 1, "failed": 0, "stopped": None, "pending": 1}
    listed = cli("notify", "list", "--format", "json").json()
    assert [(m["deferrals"], m["next_attempt_at"]) for m in listed] == [(1, due)]

    waiting = cli("notify", "send", env=env)
    assert waiting.exit_code == 0 and "0 sent; 1 message pending" in waiting.stderr
    assert cli("notify", "send", "--all", env=env).exit_code == 0
    assert len(server.mailbox.received) == 1


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_empty_database_url"))
    return f"sqlite:///{tmp_path / 'before-0005.db'}"


def test_an_outbox_from_before_deferrals_is_upgraded_and_sent(
    empty_url: str, server: SmtpServer
) -> None:
    """Migration 0005: messages queued by an older collabctl wait, due at once."""
    from sqlalchemy import text

    from collabctl.operations.context import now_iso
    from collabctl.operations.mail_templates import to_facts

    old = Database(empty_url)
    old.upgrade("0003")
    with old.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO outbox (created_at, event, customer_number, service, "
                "office_org_number, recipient_role, recipient, language, facts, state, "
                "attempts, last_error) VALUES (:at, 'end', '1001', 'eekonomi', '556677-8899', "
                "'office', 'anna@kund.example', 'en', :facts, 'pending', 2, '451 later')"
            ),
            {"at": now_iso(), "facts": to_facts(notice(0))},
        )
    old.dispose()
    db = Database(empty_url)
    try:
        db.upgrade()
        [row] = rows(db)
        assert (row["deferrals"], row["next_attempt_at"], row["attempts"]) == (0, None, 2)
        assert send(db, server.url())[0].sent == 1
        assert rows(db)[0]["state"] == "sent"
    finally:
        db.dispose()
