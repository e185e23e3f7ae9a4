"""SMTP secrets (SPEC §8.1), doctor's check of the SMTP server and the form of a mail
(SPEC §8.2), against real servers on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from collabctl.domain.errors import CollabError
from collabctl.operations.context import Context
from collabctl.operations.delivery import send_pending
from collabctl.operations.mailer import parse_smtp_url, smtp_settings
from collabctl.store.database import Database
from helpers import CLI, error_of, import_doc, ok, show, sqlite_only
from notify_smtp import free_port, self_signed_certificate, smtp_server
from outbox_builders import notice, queue, queue_notices, rows, settings_for

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

#: every character a URL gives a meaning to, and then some
HARD_PASSWORD = "p/a#s?s@w:o%rd 'x\""


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    cert, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.parametrize("encoded", [False, True], ids=["raw", "percent-encoded"])
def test_any_character_in_the_password_parses(encoded: bool) -> None:
    password = "p/a#s?s@w:ord" if not encoded else HARD_PASSWORD
    given = quote(password, safe="") if encoded else password
    scheme, host, port, user, parsed = parse_smtp_url(
        f"smtp://mail%40user:{given}@mail.example:587"
    )
    assert (scheme, host, port, user, parsed) == (
        "smtp",
        "mail.example",
        587,
        "mail@user",
        password,
    )


def test_the_password_is_never_shown_when_the_url_is_bad() -> None:
    for url in (
        f"smtp://u:{HARD_PASSWORD}@mail.example:port",
        f"smtps://u:{HARD_PASSWORD}@",
        f"u:{HARD_PASSWORD}@smtp://mail.example",
    ):
        with pytest.raises(CollabError) as raised:
            parse_smtp_url(url)
        assert "s?s@w" not in raised.value.message + raised.value.hint


@sqlite_only  # the SMTP conversation and the mail's form, not the outbox, decide it
def test_a_hard_password_logs_in_over_starttls_and_delivers(
    db: Database, tls: ssl.SSLContext
) -> None:
    with smtp_server(user="mailer", password=HARD_PASSWORD, tls=tls) as server:
        queue(db, "anna@kund.example")
        report = send_pending(
            db, settings_for(server.url(password=quote(HARD_PASSWORD, safe=""))), Context("t")
        )
        assert report.sent == 1
        assert server.mailbox.logins == [("mailer", HARD_PASSWORD)]


def test_a_login_over_a_connection_without_starttls_is_refused_before_auth(
    db: Database,
) -> None:
    with smtp_server(user="mailer", password="pw") as server:
        queue(db, "anna@kund.example")
        with pytest.raises(CollabError) as raised:
            # raised by the run: the refusal is reported by the command as the error
            report = send_pending(db, settings_for(server.url()), Context("tester"))
            if report.refusal is not None:
                raise report.refusal
        assert raised.value.code == "smtp-insecure" and raised.value.exit_code == 3
        assert server.mailbox.logins == [] and server.mailbox.received == []
    assert [(m["state"], m["attempts"], m["deferrals"]) for m in rows(db)] == [("pending", 0, 0)]


@sqlite_only  # the SMTP conversation and the mail's form, not the outbox, decide it
def test_a_relay_without_a_user_needs_no_tls(db: Database) -> None:
    with smtp_server() as server:  # no STARTTLS, no login: a local relay
        queue(db, "anna@kund.example")
        assert send_pending(db, settings_for(server.url()), Context("tester")).sent == 1


# -- doctor ------------------------------------------------------------------------


def smtp_finding(cli: CLI, env: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    result = cli(
        "doctor", "--format", "json", env={"COLLABCTL_MAIL_FROM": "c@byran.example", **env}
    )
    [finding] = [f for f in result.json() if f["check"] == "smtp"]
    return result.exit_code, finding, result.output


@sqlite_only  # the SMTP conversation and the mail's form, not the outbox, decide it
def test_doctor_walks_connect_ehlo_starttls_auth_without_sending(
    cli: CLI, tls: ssl.SSLContext
) -> None:
    with smtp_server(user="mailer", password=HARD_PASSWORD, tls=tls) as server:
        url = server.url(password=quote(HARD_PASSWORD, safe=""))
        code, finding, output = smtp_finding(
            cli, {"COLLABCTL_SMTP_URL": url, "COLLABCTL_MAIL_FROM": "c@byran.example"}
        )
        assert code == 0 and finding["ok"] is True, output
        assert finding["detail"] == (
            f"smtp://mailer@127.0.0.1:{server.port}: connect smtp://mailer@127.0.0.1:"
            f"{server.port} answered, ehlo ok, starttls ok, auth logged in as mailer"
        )
        assert server.mailbox.logins == [("mailer", HARD_PASSWORD)]
        assert server.mailbox.received == []
        assert "s?s@w" not in output and quote(HARD_PASSWORD, safe="") not in output

        wrong = server.url(password="wrong-pw-77")
        code, finding, output = smtp_finding(cli, {"COLLABCTL_SMTP_URL": wrong})
        assert code == 3 and finding["ok"] is False
        assert (
            "starttls ok" in finding["detail"]
            and "refused the login of mailer: 535" in (finding["detail"])
        )
        assert "wrong-pw-77" not in output


@sqlite_only  # the SMTP conversation and the mail's form, not the outbox, decide it
def test_doctor_says_why_the_server_cannot_be_used(cli: CLI) -> None:
    port = free_port()
    code, finding, _ = smtp_finding(cli, {"COLLABCTL_SMTP_URL": f"smtp://127.0.0.1:{port}"})
    assert code == 3 and finding["ok"] is False
    assert finding["detail"].startswith(f"smtp://127.0.0.1:{port}: cannot connect")

    with smtp_server(user="mailer", password="pw") as plain:
        code, finding, output = smtp_finding(cli, {"COLLABCTL_SMTP_URL": plain.url()})
        assert code == 3 and finding["ok"] is False
        assert "ehlo ok" in finding["detail"] and "offers no STARTTLS" in finding["detail"]
        assert plain.mailbox.logins == [] and ":pw@" not in output

    with smtp_server() as relay:
        code, finding, _ = smtp_finding(cli, {"COLLABCTL_SMTP_URL": relay.url()})
        assert code == 0 and finding["ok"] is True
        assert "starttls not offered (no login over this connection)" in finding["detail"]


@sqlite_only  # the SMTP conversation and the mail's form, not the outbox, decide it
def test_doctor_checks_no_smtp_server_when_none_is_configured(cli: CLI) -> None:
    assert [f["check"] for f in ok(cli("doctor", "--format", "json"))][-1] == "notifications"


# -- the form of a mail --------------------------------------------------------------


@sqlite_only  # the SMTP conversation and the mail's form, not the outbox, decide it
def test_date_is_the_send_time_in_numeric_zone_form(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with smtp_server() as server:
        queue(db, "anna@kund.example")
        before = datetime.now(UTC).replace(microsecond=0)
        assert send_pending(db, settings_for(server.url()), Context("tester")).sent == 1
        after = datetime.now(UTC)
        [received] = server.mailbox.received
    raw = str(received.message["Date"])
    assert raw.endswith(" +0000") and "GMT" not in raw
    assert before <= parsedate_to_datetime(raw) <= after


@sqlite_only  # the SMTP conversation and the mail's form, not the outbox, decide it
def test_a_sender_with_a_display_name(db: Database) -> None:
    with smtp_server() as server:
        queue(db, "anna@kund.example")
        settings = settings_for(server.url(), mail_from="Support Byrån <support@byran.example>")
        assert send_pending(db, settings, Context("tester")).sent == 1
        [received] = server.mailbox.received
    assert received.mail_from == "support@byran.example"  # the envelope: the address alone
    assert str(received.message["From"]) == "Support Byrån <support@byran.example>"
    assert received.message_id.endswith("@byran.example>")


@pytest.mark.parametrize(
    "bad", ["Support <not an address>", "Sup\x1bport <s@byran.example>", "a@b, c@d.example"]
)
def test_a_sender_that_is_no_address_is_refused(bad: str) -> None:
    with pytest.raises(CollabError) as raised:
        smtp_settings({"smtp_url": "smtp://a.example", "mail_from": bad}, environ={})
    assert raised.value.code == "config-invalid"


def test_a_1200_character_company_name_is_folded_and_delivered(db: Database) -> None:
    name = "Bolaget " + "Långt Namn AB " * 86
    assert len(name) > 1200
    with smtp_server() as server:
        queue_notices(db, ("anna@kund.example", notice(1, company_name=name)))
        queue_notices(db, ("bo@kund.example", notice(2, company_name="A" * 1200)))
        report = send_pending(db, settings_for(server.url()), Context("tester"))
        assert (report.sent, report.failed, report.deferred) == (2, 0, 0)
        received = server.mailbox.received
    for message, company in zip(received, (name.strip(), "A" * 1200), strict=True):
        assert company in str(message.message["Subject"])
        head = message.message.as_bytes().split(b"\n\n", 1)[0]
        assert max(len(line.rstrip(b"\r")) for line in head.split(b"\n")) <= 78


@sqlite_only  # refused before the database is read
def test_add_user_refuses_an_address_that_smuggles_a_list(demo: CLI) -> None:
    result = demo("add-user", "1001", "--email", "a\x1b[31m<x>,bcc@kund.se", "--format", "json")
    error_of(result, "invalid-input", 2)
    for bad in ("a@b", "anna@kund.se, bcc@kund.se", "Anna <anna@kund.se>"):
        error_of(demo("add-user", "1001", "--email", bad, "--format", "json"), "invalid-input", 2)
    assert demo("add-user", "1001", "--email", "ny.person@kund.se").exit_code == 0


@sqlite_only  # refused before the database is read
def test_import_refuses_an_address_that_smuggles_a_list(demo: CLI) -> None:
    company = {
        "customer_number": "1001",
        "org_number": "556036-0793",
        "name": "Kund AB",
        "users": [{"email": "a\x1b[31m<x>,bcc@kund.se", "name": "X", "role": "user"}],
    }
    result = import_doc(demo, {"companies": [company]}, "--format", "jsonl")
    assert result.exit_code != 0
    [item] = [r for r in result.jsonl() if r.get("kind") == "company"]
    assert item["status"] == "failed" and item["error"]["code"] == "invalid-input"
    assert "users[0].email" in item["error"]["message"]
    assert all("bcc@kund.se" not in u["email"] for u in show(demo, "1001")["users"])
