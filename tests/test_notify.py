"""Notifications queued by the changes themselves (start, end single and bulk,
main-contact changes), in the transaction of the change, then `notify list` and
`notify send` against a real SMTP server on 127.0.0.1. On both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collabctl.operations.context import Context
from collabctl.operations.ending import EndRequest, end_collaboration
from collabctl.store.database import Database
from helpers import CLI, db_url, error_of, import_doc, ok, show, sqlite_only
from notify_demo import (
    MAIN,
    OFFICE,
    OFFICE_MAIL,
    SENDER,
    end_1001,
    outbox,
    smtp_env,
    with_addresses,
)
from notify_smtp import SmtpServer, free_port, smtp_server

__all__ = ["with_addresses"]  # a fixture

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

OTHER_OFFICE = "559123-4561"  # Siffror & Balans: fakturering of 1001


def write_config(home: Path, text: str, encoding: str = "utf-8") -> None:
    home.mkdir(parents=True, exist_ok=True)  # on PostgreSQL nothing else made it
    (home / "config.toml").write_text(text, encoding=encoding)


def test_an_end_queues_one_message_to_each_party(with_addresses: CLI, server: SmtpServer) -> None:
    cli = with_addresses
    end_1001(cli, "--reason", "the office stops its eEkonomi work")
    messages = outbox(cli)
    assert [(m["event"], m["to"], m["state"]) for m in messages] == [
        ("end", MAIN, "pending"),
        ("end", OFFICE_MAIL, "pending"),
    ]
    assert all(m["customer_number"] == "1001" and m["service"] == "eekonomi" for m in messages)
    assert (
        messages[0]["subject"]
        == "Visma eEkonomi: your collaboration with Exempelbyrån AB has ended"
    )
    assert (
        messages[1]["subject"] == "Visma eEkonomi: the collaboration with Kund AB (1001) has ended"
    )

    sent = cli("notify", "send", env=smtp_env(server))
    assert sent.exit_code == 0, sent.stderr
    assert "notify send: 2 sent; 0 messages pending" in sent.stderr
    assert [m["state"] for m in outbox(cli)] == ["sent", "sent"]

    [to_company] = server.mailbox.messages_to(MAIN)
    [to_office] = server.mailbox.messages_to(OFFICE_MAIL)
    for received in (to_company, to_office):
        body = received.body
        assert "Kund AB (customer 1001)" in body
        assert "Exempelbyrån AB (556677-8899)" in body
        assert "Visma eEkonomi ended on" in body or "for Visma eEkonomi ended on" in body
        assert "at the request of Exempelbyrån AB" in body  # on whose behalf
        assert (
            "What this means: Visma eEkonomi is closed for Kund AB: the existing information "
            "can still be read, but nothing can be changed." in body
        )
        assert "Reason given: the office stops its eEkonomi work" in body
        assert "Done by tester." in body
    assert "to the main contact of Kund AB" in to_company.body
    assert "to the accounting office Exempelbyrån AB" in to_office.body
    assert to_company.message_id != to_office.message_id


@sqlite_only  # the wording of a message, from facts already stored
def test_messages_in_swedish_with_mail_language_sv(
    with_addresses: CLI, server: SmtpServer, home: Path
) -> None:
    write_config(home, 'mail_language = "sv"\n', encoding="utf-8")
    cli = with_addresses
    result = cli("end", "1001", "-s", "utlagg", "-o", "continue", "--by", "customer", "--yes")
    assert result.exit_code == 0, result.stderr
    subjects = [m["subject"] for m in outbox(cli)]
    assert subjects == [
        "Visma Utlägg: ert samarbete med Exempelbyrån AB har avslutats",
        "Visma Utlägg: samarbetet med Kund AB (1001) har avslutats",
    ]
    assert cli("notify", "send", env=smtp_env(server)).exit_code == 0
    [received] = server.mailbox.messages_to(MAIN)
    assert received.message["Content-Language"] == "sv"
    body = received.body
    assert body.startswith("Hej,\n")
    assert "Samarbetet mellan Kund AB (kundnummer 1001) och Exempelbyrån AB" in body
    assert "på begäran av Kund AB" in body
    assert (
        "Det innebär: Kund AB fortsätter att använda Visma Utlägg på egen hand; "
        "Exempelbyrån AB har inte längre åtkomst till tjänsten." in body
    )
    assert "Övriga tjänster och samarbeten påverkas inte." in body


@sqlite_only  # refused before the database is read
def test_an_unknown_mail_language_is_a_configuration_error(demo: CLI, home: Path) -> None:
    write_config(home, 'mail_language = "de"\n', encoding="utf-8")
    result = demo(
        "end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "customer", "--yes",
        "--format", "json",
    )  # fmt: skip
    error = error_of(result, "config-invalid", 3)
    assert "'de'" in error["message"] and "en, sv" in error["hint"]


def test_a_party_without_an_address_is_recorded_not_sent(demo: CLI, server: SmtpServer) -> None:
    result = demo("end", "1001", "-s", "fakturering", "-o", "continue", "--by", "customer", "--yes")
    assert result.exit_code == 0, result.stderr
    assert [(m["to"], m["state"]) for m in outbox(demo)] == [
        (MAIN, "pending"),
        (None, "no-address"),
    ]
    no_address = outbox(demo, "no-address")
    assert len(no_address) == 1 and no_address[0]["subject"].startswith(
        "Visma eEkonomi Fakturering"
    )
    sent = demo("notify", "send", env=smtp_env(server))
    assert sent.exit_code == 0, sent.stderr
    assert [r.rcpt_tos for r in server.mailbox.received] == [[MAIN]]
    assert [m["state"] for m in outbox(demo)] == ["sent", "no-address"]


def test_a_refused_end_queues_nothing(with_addresses: CLI) -> None:
    cli = with_addresses
    refused = cli("end", "1001", "-s", "lon", "--by", "office", "--yes", "--format", "json")
    assert refused.exit_code == 1
    assert outbox(cli) == []


def test_a_change_rolled_back_leaves_no_message(with_addresses: CLI, backend: str) -> None:
    db = Database(db_url(), embedded=backend == "sqlite")
    try:
        with db.session() as session:
            request = EndRequest("1001", "eekonomi", outcome="continue", by="customer")
            end_collaboration(session, Context("tester"), request, Path("backups"))
            session.flush()
            count = session.connection().exec_driver_sql("SELECT count(*) FROM outbox").scalar()
            assert count == 2  # written in the change's transaction ...
            session.rollback()  # ... and gone with it
    finally:
        db.dispose()
    assert outbox(with_addresses) == []
    assert ok(
        with_addresses("list", "--customer", "1001", "--service", "eekonomi", "--format", "json")
    )


def test_a_bulk_end_queues_two_messages_per_ended_item(with_addresses: CLI) -> None:
    cli = with_addresses
    # 99999 does not exist, 1002 has no main contact, 1001 again is already ended
    lines = "1001\n1003\n99999\n1002\n1001\n1007\n"
    result = cli(
        "end", "--from", "-", "-s", "eekonomi", "-o", "continue", "--by", "office", "--yes",
        "--format", "jsonl", input=lines,
    )  # fmt: skip
    statuses = [r["status"] for r in result.jsonl()]
    assert statuses == ["ended", "ended", "failed", "failed", "already-ended", "ended"]
    messages = outbox(cli)
    assert [m["customer_number"] for m in messages] == [
        "1001",
        "1001",
        "1003",
        "1003",
        "1007",
        "1007",
    ]
    assert {m["event"] for m in messages} == {"end"}
    assert all(m["subject"].startswith("Visma eEkonomi: ") for m in messages)


def test_start_queues_messages_to_both_parties(with_addresses: CLI, server: SmtpServer) -> None:
    cli = with_addresses
    end_1001(cli)
    started = cli("start", "1001", "-s", "eekonomi", "--office", OFFICE)
    assert started.exit_code == 0, started.stderr
    starts = [m for m in outbox(cli) if m["event"] == "start"]
    assert [(m["to"], m["subject"]) for m in starts] == [
        (MAIN, "Visma eEkonomi: Exempelbyrån AB now works with you"),
        (OFFICE_MAIL, "Visma eEkonomi: collaboration with Kund AB (1001) started"),
    ]
    assert cli("notify", "send", env=smtp_env(server)).exit_code == 0
    body = server.mailbox.messages_to(OFFICE_MAIL)[-1].body
    assert "Exempelbyrån AB (556677-8899) and Kund AB (customer 1001) collaborate in" in body
    assert "The office can now read and change Kund AB's information in Visma eEkonomi." in body
    assert "Done by tester at support." in body


def test_a_main_contact_change_tells_the_new_contact_and_every_office(
    with_addresses: CLI, server: SmtpServer
) -> None:
    cli = with_addresses
    changed = cli("set-main-contact", "1001", "--user", "erik@kund.se")
    assert changed.exit_code == 0, changed.stderr
    messages = outbox(cli)
    assert {m["event"] for m in messages} == {"main-contact"}
    # the new main contact; Exempelbyrån (eekonomi, utlagg) once; Siffror & Balans, no address
    assert [(m["to"], m["state"]) for m in messages] == [
        ("erik@kund.se", "pending"),
        (OFFICE_MAIL, "pending"),
        (None, "no-address"),
    ]
    assert messages[0]["subject"] == "Kund AB: erik@kund.se is now the main contact"
    assert cli("notify", "send", env=smtp_env(server)).exit_code == 0
    body = server.mailbox.messages_to("erik@kund.se")[0].body
    assert "is now the main contact of Kund AB (customer 1001), replacing anna@kund.se." in body
    assert "was made administrator for this." in body  # erik was a user

    unchanged = cli("set-main-contact", "1001", "--user", "erik@kund.se")
    assert unchanged.exit_code == 0
    assert len(outbox(cli)) == 3  # nothing changed, nothing told


def test_adding_a_main_contact_is_a_main_contact_change(with_addresses: CLI) -> None:
    cli = with_addresses
    added = cli("add-user", "1001", "--email", "nina@kund.se", "--name", "Nina", "--main-contact")
    assert added.exit_code == 0, added.stderr
    messages = outbox(cli)
    assert messages[0]["to"] == "nina@kund.se"
    assert messages[0]["subject"] == "Kund AB: nina@kund.se is now the main contact"
    plain = cli("add-user", "1001", "--email", "olle@kund.se")
    assert plain.exit_code == 0
    assert len(outbox(cli)) == len(messages)  # a plain user is no notification


def test_a_delete_says_a_backup_exists_and_who_holds_it(
    with_addresses: CLI, server: SmtpServer
) -> None:
    cli = with_addresses
    result = cli(
        "end", "1001", "-s", "utlagg", "-o", "delete", "--by", "customer", "--force", "--yes",
        "--format", "json",
    )  # fmt: skip
    backup = Path(ok(result)["backup_path"]).name
    assert cli("notify", "send", env=smtp_env(server)).exit_code == 0
    body = server.mailbox.messages_to(MAIN)[0].body
    assert "Visma Utlägg and all its information have been deleted for Kund AB" in body
    assert f"A backup of the information was saved before it was deleted ({backup})." in body
    assert "tester, who ended the collaboration, holds it" in body


@sqlite_only  # the wording of a message, from facts already stored
def test_a_delete_without_backup_says_so(demo: CLI, server: SmtpServer) -> None:
    result = demo(
        "end", "1001", "-s", "utlagg", "-o", "delete", "--by", "customer", "--force", "--yes",
        "--no-backup",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert demo("notify", "send", env=smtp_env(server)).exit_code == 0
    assert "No backup was saved before the information was deleted." in (
        server.mailbox.messages_to(MAIN)[0].body
    )


@sqlite_only  # the wording of a message, from facts already stored
def test_a_handover_says_what_it_means_for_access(demo: CLI, server: SmtpServer) -> None:
    result = demo("end", "1004", "-s", "lon", "-o", "handover", "--by", "customer",
                  "--confirm", "data-synchronised", "--force", "--yes")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert demo("notify", "send", env=smtp_env(server)).exit_code == 0
    body = server.mailbox.messages_to("karin@byggumea.se")[0].body
    assert (
        "no longer has access to the online service Visma Lön; it continues in the pay "
        "program from the handed-over backup, or through a new collaboration." in body
    )


# the rendering of rows already read: json on both backends, the other formats on SQLite
@pytest.mark.parametrize(
    ("backend", "fmt"),
    [("postgres", "json"), *(("sqlite", fmt) for fmt in ["json", "jsonl", "csv", "table"])],
    indirect=["backend"],
)
def test_notify_list_in_every_format(with_addresses: CLI, fmt: str) -> None:
    cli = with_addresses
    end_1001(cli)
    result = cli("notify", "list", "--format", fmt)
    assert result.exit_code == 0, result.stderr
    keys = [
        "id", "created_at", "event", "customer_number", "service", "to", "subject", "state",
        "attempts", "deferrals", "next_attempt_at", "last_error", "sent_at",
    ]  # fmt: skip
    if fmt == "json":
        assert [list(m) for m in result.json()] == [keys, keys]
    elif fmt == "jsonl":
        assert [list(m) for m in result.jsonl()] == [keys, keys]
    elif fmt == "csv":
        lines = result.stdout.splitlines()
        assert lines[0] == ",".join(keys) and len(lines) == 3
    else:
        assert OFFICE_MAIL in result.stdout and "pending" in result.stdout


def test_notify_list_filters_by_state(with_addresses: CLI, server: SmtpServer) -> None:
    cli = with_addresses
    server.mailbox.reject.add(OFFICE_MAIL)
    end_1001(cli)
    assert cli("notify", "send", env=smtp_env(server)).exit_code == 4
    assert [m["to"] for m in outbox(cli, "sent")] == [MAIN]
    [failed] = outbox(cli, "failed")
    assert failed["to"] == OFFICE_MAIL and failed["attempts"] == 1
    assert "550" in failed["last_error"]
    assert outbox(cli, "pending") == []
    bad = cli("notify", "list", "--state", "waiting", "--format", "json")
    error_of(bad, "invalid-input", 2)


def test_a_party_lists_only_its_own_messages(with_addresses: CLI) -> None:
    cli = with_addresses
    end_1001(cli)
    result = cli("end", "1001", "-s", "fakturering", "-o", "continue", "--by", "customer", "--yes")
    assert result.exit_code == 0
    mine = ok(cli("--as", f"office:{OTHER_OFFICE}", "notify", "list", "--state", "all",
                  "--format", "json"))  # fmt: skip
    assert {m["service"] for m in mine} == {"fakturering"}
    assert len(ok(cli("--as", "customer:1002", "notify", "list", "--format", "json"))) == 0


def test_notify_send_reports_failures_with_exit_4_and_no_password(
    with_addresses: CLI,
) -> None:
    cli = with_addresses
    end_1001(cli)
    url = f"smtp://mailer:topsecret-pw@127.0.0.1:{free_port()}"
    result = cli("notify", "send", "--format", "json", env={"COLLABCTL_SMTP_URL": url,
                                                             "COLLABCTL_MAIL_FROM": SENDER})  # fmt: skip
    assert result.exit_code == 4
    assert (
        "notify send: 0 sent, 1 deferred (tried again later); 2 messages pending" in result.stderr
    )
    assert "stopped: cannot connect to smtp://mailer@127.0.0.1" in result.stderr
    assert "topsecret" not in result.output
    assert result.json()["stopped"].startswith("cannot connect")
    rows = outbox(cli)
    assert sorted(m["attempts"] for m in rows) == [0, 1]
    assert all("topsecret" not in json.dumps(m) for m in rows)


def test_a_login_without_starttls_is_refused_before_auth(with_addresses: CLI) -> None:
    """SPEC §8.1: a password never goes over an unencrypted connection."""
    cli = with_addresses
    end_1001(cli)
    with smtp_server(user="mailer", password="right-pw") as server:  # offers no STARTTLS
        url = server.url(password="right-pw")
        result = cli(
            "notify", "send", "--format", "json",
            env={"COLLABCTL_SMTP_URL": url, "COLLABCTL_MAIL_FROM": SENDER},
        )  # fmt: skip
        error_of(result, "smtp-insecure", 3)
        assert "offers no STARTTLS" in result.stderr
        assert "right-pw" not in result.output
        assert server.mailbox.logins == []  # AUTH was never tried
        assert server.mailbox.received == []
    assert all(m["attempts"] == 0 and m["state"] == "pending" for m in outbox(cli))


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("smtp://user:hunter2-pw@mail.example:notaport", "not a valid SMTP URL"),
        ("imap://user:hunter2-pw@mail.example:143", "unknown scheme 'imap'"),
    ],
)
@sqlite_only  # refused before the database is read
def test_a_bad_smtp_url_exits_3_without_the_password(demo: CLI, url: str, says: str) -> None:
    result = demo("notify", "send", "--format", "json", env={"COLLABCTL_SMTP_URL": url})
    error = error_of(result, "config-invalid", 3)
    assert says in error["message"]
    assert "hunter2" not in result.output


def test_without_smtp_nothing_is_lost(with_addresses: CLI) -> None:
    cli = with_addresses
    end_1001(cli)
    result = cli("notify", "send", "--format", "json")
    error = error_of(result, "config-invalid", 3)
    assert error["message"] == "SMTP is not configured: 2 messages wait in the outbox"
    assert [m["state"] for m in outbox(cli)] == ["pending", "pending"]


def test_smtp_settings_from_config_toml(
    with_addresses: CLI, server: SmtpServer, home: Path
) -> None:
    write_config(home, f'smtp_url = "{server.url()}"\nmail_from = "{SENDER}"\n', encoding="utf-8")
    end_1001(with_addresses)
    result = with_addresses("notify", "send", "--limit", "1")
    assert result.exit_code == 0, result.stderr
    assert "notify send: 1 sent; 1 message pending" in result.stderr
    assert len(server.mailbox.received) == 1


def test_doctor_shows_the_outbox_and_the_smtp_server_never_its_password(
    with_addresses: CLI, home: Path
) -> None:
    cli = with_addresses
    end_1001(cli)
    unset = ok(cli("doctor", "--format", "json"))
    [finding] = [f for f in unset if f["check"] == "notifications"]
    assert finding["ok"] is True
    assert (
        finding["detail"] == "2 pending, 0 failed; SMTP not configured: messages wait in the outbox"
    )

    port = free_port()  # nothing listens there: the smtp finding says so
    env = {
        "COLLABCTL_SMTP_URL": f"smtp://mailer:pw-9x7@127.0.0.1:{port}",
        "COLLABCTL_MAIL_FROM": SENDER,
    }
    result = cli("doctor", "--format", "json", env=env)
    assert result.exit_code == 3, result.stderr
    [finding] = [f for f in result.json() if f["check"] == "notifications"]
    assert finding["detail"] == (
        f"2 pending, 0 failed; SMTP smtp://mailer@127.0.0.1:{port} (from environment), "
        f"sender {SENDER}"
    )
    [smtp] = [f for f in result.json() if f["check"] == "smtp"]
    assert smtp["ok"] is False and "cannot connect" in smtp["detail"]
    assert "pw-9x7" not in result.output

    bad = cli("doctor", "--format", "json", env={"COLLABCTL_SMTP_URL": "smtp://u:pw-9x7@h:x"})
    assert bad.exit_code == 3
    [finding] = [f for f in bad.json() if f["check"] == "notifications"]
    assert finding["ok"] is False and "not a valid SMTP URL" in finding["detail"]
    assert "pw-9x7" not in bad.output

    write_config(home, f'smtp_url = "smtp://u:pw-9x7@mail.example"\nmail_from = "{SENDER}"\n')
    (home / "config.toml").chmod(0o644)
    shared = cli("doctor", "--format", "json")
    assert shared.exit_code == 3
    [finding] = [f for f in shared.json() if f["check"] == "notifications"]
    assert "holds the SMTP password and others can read it" in finding["detail"]
    assert "pw-9x7" not in shared.output


def test_notify_list_for_one_customer(with_addresses: CLI) -> None:
    cli = with_addresses
    end_1001(cli)
    result = cli("end", "1003", "-s", "eekonomi", "-o", "continue", "--by", "office", "--yes")
    assert result.exit_code == 0, result.stderr
    only = ok(cli("notify", "list", "--customer", "1003", "--state", "all", "--format", "json"))
    assert {m["customer_number"] for m in only} == {"1003"} and len(only) == 2
    assert ok(cli("--as", "customer:1001", "notify", "list", "--customer", "1003",
                  "--format", "json")) == []  # fmt: skip
    bad = cli("notify", "list", "--customer", "10x3", "--format", "json")
    error_of(bad, "invalid-input", 2)


@sqlite_only  # refused before the database is read
def test_an_office_email_that_is_not_an_address_is_refused_with_its_path(demo: CLI) -> None:
    document = {
        "offices": [{"org_number": OFFICE, "name": "Exempelbyrån AB", "email": "not an address"}]
    }
    result = import_doc(demo, document, "--format", "jsonl")
    assert result.exit_code == 2
    [item] = result.jsonl()
    assert item["status"] == "failed" and item["error"]["code"] == "invalid-input"
    assert "offices[0].email: 'not an address' is not an e-mail address" in item["error"]["message"]
    offices = ok(demo("show", "1001", "--format", "json"))["offices"]
    assert offices[0] == {
        "org_number": OFFICE,
        "name": "Exempelbyrån AB",
        "email": "info@exempelbyran.se",
    }


_FACT_TEXT = st.text(st.characters(codec="utf-8"))


@settings(deadline=None)
@given(
    st.lists(_FACT_TEXT, min_size=6, max_size=6),
    st.none() | _FACT_TEXT,
    st.none() | _FACT_TEXT,
)
def test_the_facts_of_a_bulk_end_are_what_a_notice_stores(
    texts: list[str], reason: str | None, backup_file: str | None
) -> None:
    from collabctl.operations.mail_templates import Notice, from_facts, to_facts
    from collabctl.operations.notify import end_facts

    company, office, actor, behalf, service_name, outcome = texts
    notice = Notice(
        event="end",
        at="2026-11-29T12:00:00.000000Z",
        customer_number="1001",
        company_name=company,
        office_org_number="556677-8899",
        office_name=office,
        actor=actor,
        behalf=behalf,
        service="eekonomi",
        service_name=service_name,
        outcome=outcome,
        reason=reason,
        backup_file=backup_file,
    )
    facts = end_facts(company, office, actor, behalf, service_name, outcome, reason, backup_file)
    assert facts == to_facts(notice)
    back = from_facts(
        facts,
        event="end",
        at=notice.at,
        customer_number="1001",
        office_org_number="556677-8899",
        service="eekonomi",
    )
    assert back == notice


def test_import_queues_nothing_it_mirrors_another_system(with_addresses: CLI) -> None:
    # a decision (docs/guide.md, "Notifications"): an import copies what another system
    # already told the parties; a new company with an active collaboration (what `start`
    # does) and a main contact moved on 1002 (what set-main-contact does) queue nothing
    from helpers import luhn_org_number

    document = {
        "companies": [
            {
                "customer_number": "4711",
                "org_number": luhn_org_number(4711),
                "name": "Speglat AB",
                "users": [{"email": "eva@speglat.se", "name": "Eva", "role": "administrator",
                           "main_contact": True, "services": ["eekonomi"]}],
                "subscriptions": [{"service": "eekonomi", "state": "active"}],
                "collaborations": [{"service": "eekonomi", "office": OFFICE, "state": "active",
                                    "started_at": "2026-01-02T08:00:00.000000Z"}],
            },
            {
                "customer_number": "1002",
                "org_number": "556345-6788",
                "name": "Snickeri Norr AB",
                "users": [{"email": "lars@snickerinorr.se", "name": "Lars Berg",
                           "role": "administrator", "main_contact": True,
                           "services": ["eekonomi"]}],
            },
        ]
    }  # fmt: skip
    result = import_doc(with_addresses, document, "--format", "json")
    assert ok(result) == {"changed": 2, "unchanged": 0, "failed": 0, "items": 2}
    assert show(with_addresses, "1002")["main_contact"] == "lars@snickerinorr.se"
    assert outbox(with_addresses) == []
