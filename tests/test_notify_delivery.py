"""Delivering the outbox over SMTP, against a real server on 127.0.0.1 (aiosmtpd):
what is sent and how it looks, and what happens when the server is down, refuses a
recipient, drops the connection, or refuses the login. On both backends."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from collabctl.domain.errors import CollabError
from collabctl.operations.context import Context, Party
from collabctl.operations.delivery import Delivery, send_pending
from collabctl.operations.mail_templates import render
from collabctl.operations.mailer import Mailer, parse_smtp_url, smtp_settings
from collabctl.store.database import Database
from helpers import sqlite_only
from notify_smtp import SmtpServer, self_signed_certificate, smtp_server
from outbox_builders import SENDER, by_id, notice, queue, queue_notices, rows, settings_for

# aiosmtpd warns that it asks for a login over a plain connection: the tests mean it to
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def send(db: Database, url: str, **kwargs: Any) -> tuple[Any, list[Delivery]]:
    seen: list[Delivery] = []
    report = send_pending(
        db, settings_for(url), Context("tester"), on_delivery=seen.append, **kwargs
    )
    return report, seen


def test_each_pending_message_is_sent_once_with_its_headers(
    db: Database, server: SmtpServer
) -> None:
    ids = queue(db, "anna@kund.example", "byran@byran.example", None)
    report, seen = send(db, server.url())
    assert (report.sent, report.deferred, report.failed, report.stopped) == (2, 0, 0, None)
    assert [d.status for d in seen] == ["sent", "sent"]

    received = server.mailbox.received
    assert sorted(r.rcpt_tos[0] for r in received) == ["anna@kund.example", "byran@byran.example"]
    first = next(r for r in received if r.rcpt_tos == ["anna@kund.example"])
    assert first.mail_from == SENDER
    assert first.message["From"] == SENDER
    assert first.message["To"] == "anna@kund.example"
    subject, body = render(notice(0), "office", "sv")
    assert (
        first.message["Subject"]
        == subject
        == "Visma eEkonomi: samarbetet med Kund 0 AB (1000) har avslutats"
    )
    assert first.message["Auto-Submitted"] == "auto-generated"
    assert first.message["Content-Language"] == "sv"
    assert first.message["Date"]
    assert first.body == body
    assert "Samarbetet mellan Kund 0 AB (kundnummer 1000) och Exempelbyrån AB" in body
    assert re.fullmatch(rf"<collabctl\.{ids[0]}\.\d{{20}}@byran\.example>", first.message_id)

    stored = by_id(db)
    for sent_id in ids[:2]:
        assert stored[sent_id]["state"] == "sent"
        assert stored[sent_id]["attempts"] == 1
        assert stored[sent_id]["sent_at"] is not None
        assert stored[sent_id]["last_error"] is None
    assert stored[ids[2]]["state"] == "no-address"
    assert stored[ids[2]]["to"] is None

    again, _ = send(db, server.url())
    assert again.sent == 0
    assert len(server.mailbox.received) == 2


def test_a_message_sent_again_keeps_its_message_id(db: Database, server: SmtpServer) -> None:
    """A sender killed after the server accepted a message, before marking it sent,
    sends it again on the next run: with the same Message-ID, so the receiver can
    drop the copy (SPEC §7.4)."""
    from sqlalchemy import text

    [message_id] = queue(db, "anna@kund.example")
    assert send(db, server.url())[0].sent == 1
    with db.engine.begin() as conn:  # as if the run had died before its `sent` mark
        conn.execute(
            text("UPDATE outbox SET state = 'pending', sent_at = NULL WHERE id = :id"),
            {"id": message_id},
        )
    assert send(db, server.url())[0].sent == 1
    first, second = server.mailbox.received
    assert first.message_id == second.message_id
    assert f".{message_id}." in first.message_id


def test_limit_sends_that_many_and_leaves_the_rest_pending(
    db: Database, server: SmtpServer
) -> None:
    queue(db, *(f"u{i}@kund.example" for i in range(5)))
    report, _ = send(db, server.url(), limit=2)
    assert report.sent == 2
    states = [m["state"] for m in rows(db)]
    assert states.count("sent") == 2 and states.count("pending") == 3
    report, _ = send(db, server.url())
    assert report.sent == 3
    assert len(server.mailbox.received) == 5


def test_a_refused_recipient_fails_at_once_and_the_others_go(
    db: Database, server: SmtpServer
) -> None:
    server.mailbox.reject.add("gone@kund.example")
    ids = queue(db, "anna@kund.example", "gone@kund.example", "bo@kund.example")
    report, seen = send(db, server.url())
    assert (report.sent, report.deferred, report.failed, report.stopped) == (2, 0, 1, None)
    assert [d.status for d in seen if d.id == ids[1]] == ["failed"]
    stored = by_id(db)
    assert (stored[ids[1]]["state"], stored[ids[1]]["attempts"]) == ("failed", 1)
    assert "refused the recipient gone@kund.example: 550" in stored[ids[1]]["last_error"]
    assert stored[ids[0]]["state"] == stored[ids[2]]["state"] == "sent"
    assert sorted(r.rcpt_tos[0] for r in server.mailbox.received) == [
        "anna@kund.example",
        "bo@kund.example",
    ]
    assert send(db, server.url(), all_due=True)[0].failed == 0  # never tried again


def test_a_server_that_drops_the_connection_after_accepting(
    db: Database, server: SmtpServer
) -> None:
    server.mailbox.drop_after_accept = True
    queue(db, *(f"u{i}@kund.example" for i in range(4)))
    report, _ = send(db, server.url())
    assert (report.sent, report.deferred) == (4, 0)
    assert sorted(r.rcpt_tos[0] for r in server.mailbox.received) == [
        f"u{i}@kund.example" for i in range(4)
    ]
    assert all(m["state"] == "sent" and m["attempts"] == 1 for m in rows(db))


@sqlite_only  # the SMTP conversation, not the outbox, decides it
def test_starttls_is_used_when_offered_and_smtps_from_the_start(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    cert, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    queue(db, "anna@kund.example")
    with smtp_server(tls=context, user="mailer", password="pw") as starttls:
        starttls_report, _ = send(db, starttls.url())
        assert starttls_report.sent == 1
        assert starttls.mailbox.logins == [("mailer", "pw")]

    queue(db, "bo@kund.example")
    with smtp_server(implicit_tls=context) as implicit:
        report, _ = send(db, implicit.url())
        assert report.sent == 1
        assert implicit.mailbox.received[0].rcpt_tos == ["bo@kund.example"]


def test_an_unknown_host_defers_the_message(db: Database) -> None:
    queue(db, "anna@kund.example")
    settings = settings_for("smtp://mail.nowhere.invalid:2525")
    report = send_pending(db, settings, Context("tester"), mailer=Mailer(settings, timeout=5))
    assert report.deferred == 1 and report.stopped is not None
    assert "cannot connect to smtp://mail.nowhere.invalid:2525" in report.stopped
    assert rows(db)[0]["state"] == "pending"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://mail.example:25", "unknown scheme 'http'"),
        ("mail.example:25", "unknown scheme"),
        ("smtp://mail.example:port", "not a valid SMTP URL"),
        ("smtp://:pw@:25", "it needs a host"),
        ("smtp://user:pw@mail.example:25/path", "not a valid SMTP URL"),
    ],
)
def test_a_bad_smtp_url_is_a_configuration_error(url: str, says: str) -> None:
    with pytest.raises(CollabError) as raised:
        parse_smtp_url(url)
    assert raised.value.code == "config-invalid"
    assert raised.value.exit_code == 3
    assert says in raised.value.message
    assert "pw" not in raised.value.message


def test_settings_come_from_the_environment_before_the_config_file() -> None:
    config = {"smtp_url": "smtp://a.example:25", "mail_from": "a@a.example"}
    env = {"COLLABCTL_SMTP_URL": "smtps://u:p%40ss@b.example", "COLLABCTL_MAIL_FROM": "b@b.example"}
    settings = smtp_settings(config, environ=env)
    assert settings is not None
    assert (settings.scheme, settings.host, settings.port) == ("smtps", "b.example", 465)
    assert (settings.user, settings.password, settings.mail_from) == ("u", "p@ss", "b@b.example")
    assert settings.display_url == "smtps://u@b.example:465"
    assert "p@ss" not in repr(settings)
    from_config = smtp_settings(config, environ={})
    assert from_config is not None and from_config.port == 25 and from_config.source == "config"
    assert smtp_settings({}, environ={}) is None


def test_a_sender_that_is_not_an_address_is_a_configuration_error() -> None:
    with pytest.raises(CollabError) as raised:
        smtp_settings({"smtp_url": "smtp://a.example", "mail_from": "not an address"}, environ={})
    assert raised.value.code == "config-invalid"


def test_a_scoped_party_does_not_send_the_outbox(db: Database, server: SmtpServer) -> None:
    queue(db, "anna@kund.example")
    with pytest.raises(CollabError) as raised:
        send_pending(db, settings_for(server.url()), Context("tester", Party("customer", "1001")))
    assert raised.value.code == "not-a-party"
    assert server.mailbox.received == []


def test_long_subjects_and_bodies_arrive_as_written(db: Database, server: SmtpServer) -> None:
    long = notice(
        1,
        company_name="Åkeri & Fraktförmedling i Övre Norrland med Filialer AB",
        reason="En mycket lång anledning med åäö som måste brytas i kodningen men läsas hel. " * 4
        + "\n.en rad som börjar med punkt",
    )
    queue_notices(db, ("anna@kund.example", long))
    report, _ = send(db, server.url())
    assert report.sent == 1
    [received] = server.mailbox.received
    subject, body = render(long, "office", "sv")
    assert received.message["Subject"] == subject and len(subject) > 78
    assert received.body == body
