"""`notify retry` and `notify cancel` (SPEC §8.2): a person decides about messages in
the outbox. Both are audit events, both take --dry-run (same result and exit code,
nothing changed), and a message that cannot take the change refuses the command."""

from __future__ import annotations

import pytest

from helpers import CLI, error_of, ok
from notify_demo import (  # the demo with addresses, and its outbox
    MAIN,
    OFFICE_MAIL,
    end_1001,
    outbox,
    smtp_env,
    with_addresses,  # noqa: F401 (a fixture)
)
from notify_smtp import SmtpServer

CHANGE_KEYS = ["id", "customer_number", "to", "before", "after", "status"]


@pytest.fixture
def failed(with_addresses: CLI, server: SmtpServer) -> CLI:  # noqa: F811
    """Two ends of 1001: the office's two messages failed for good (550), the main
    contact's two sent."""
    cli = with_addresses
    server.mailbox.reject.add(OFFICE_MAIL)
    end_1001(cli)
    result = cli("end", "1001", "-s", "utlagg", "-o", "continue", "--by", "office", "--yes")
    assert result.exit_code == 0, result.stderr
    assert cli("notify", "send", env=smtp_env(server)).exit_code == 4
    assert [m["to"] for m in outbox(cli, "failed")] == [OFFICE_MAIL, OFFICE_MAIL]
    return cli


def events(cli: CLI, action: str) -> list[dict]:
    log = ok(cli("log", "--reverse", "--format", "json"))
    return [e for e in log if e["action"] == action]


def test_retry_failed_puts_them_back_and_the_next_send_delivers(
    failed: CLI,
    server: SmtpServer,
) -> None:
    cli = failed
    ids = [m["id"] for m in outbox(cli, "failed")]

    dry = cli("notify", "retry", "--failed", "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.stderr
    assert [list(row) for row in dry.json()] == [CHANGE_KEYS, CHANGE_KEYS]
    assert {row["status"] for row in dry.json()} == {"would-retry"}
    assert "nothing changed" in dry.stderr
    assert len(outbox(cli, "failed")) == 2 and events(cli, "notify-retry") == []

    real = cli("notify", "retry", "--failed", "--format", "json")
    assert real.exit_code == 0, real.stderr
    assert [(r["id"], r["before"], r["after"], r["status"]) for r in real.json()] == [
        (i, "failed", "pending", "retried") for i in ids
    ]
    assert [m["id"] for m in outbox(cli, "pending")] == ids
    [event] = events(cli, "notify-retry")
    assert event["customer_number"] == "1001"
    assert event["details"]["messages"] == ids

    server.mailbox.reject.clear()
    sent = cli("notify", "send", env=smtp_env(server))
    assert sent.exit_code == 0, sent.stderr
    assert len(server.mailbox.messages_to(OFFICE_MAIL)) == 2
    assert len(server.mailbox.messages_to(MAIN)) == 2  # sent once, never again


def test_retry_by_id_and_by_customer(failed: CLI) -> None:
    cli = failed
    first, second = (m["id"] for m in outbox(cli, "failed"))
    assert ok(cli("notify", "retry", str(first), "--format", "json"))[0]["id"] == first
    assert [m["id"] for m in outbox(cli, "failed")] == [second]
    assert cli("notify", "retry", "--failed", "--customer", "1002").stdout.strip() == ""
    assert ok(cli("notify", "retry", "--failed", "--customer", "1001", "--format", "json"))


def test_retry_refuses_a_message_that_is_not_failed_and_changes_nothing(failed: CLI) -> None:
    cli = failed
    sent = outbox(cli, "sent")[0]["id"]
    broken = outbox(cli, "failed")[0]["id"]
    for dry in ([], ["--dry-run"]):
        result = cli("notify", "retry", str(broken), str(sent), *dry, "--format", "json")
        error = error_of(result, "conflict", 1)
        assert f"message {sent} is sent" in error["message"]
    assert len(outbox(cli, "failed")) == 2
    error_of(cli("notify", "retry", "999999", "--format", "json"), "not-found", 1)
    error_of(cli("notify", "retry", "abc", "--format", "json"), "invalid-input", 2)


NO_CHOICE = [
    ["notify", "retry"],
    ["notify", "retry", "1", "--failed"],
    ["notify", "retry", "1", "--customer", "1001"],
    ["notify", "cancel"],
]


# usage errors before any SQL runs: one case on both backends, the others on SQLite
@pytest.mark.parametrize(
    ("backend", "args"),
    [("postgres", NO_CHOICE[0]), *(("sqlite", args) for args in NO_CHOICE)],
    indirect=["backend"],
)
def test_retry_and_cancel_need_to_know_which_messages(demo: CLI, args: list[str]) -> None:
    error_of(demo(*args, "--format", "json"), "invalid-input", 2)


def test_cancel_pending_and_failed_messages_never_sends_them(
    failed: CLI,
    server: SmtpServer,
) -> None:
    cli = failed
    broken = outbox(cli, "failed")[0]["id"]
    end = cli("end", "1001", "-s", "fakturering", "-o", "continue", "--by", "customer", "--yes")
    assert end.exit_code == 0, end.stderr
    waiting = outbox(cli, "pending")[0]["id"]

    dry = cli("notify", "cancel", str(broken), str(waiting), "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.stderr
    assert [(r["before"], r["status"]) for r in dry.json()] == [
        ("failed", "would-cancel"),
        ("pending", "would-cancel"),
    ]
    assert outbox(cli, "cancelled") == []

    real = cli("notify", "cancel", str(broken), str(waiting), "--format", "json")
    assert real.exit_code == 0, real.stderr
    assert [m["id"] for m in outbox(cli, "cancelled")] == [broken, waiting]
    [event] = events(cli, "notify-cancel")
    assert event["details"] == {"messages": [broken, waiting], "before": ["failed", "pending"]}

    before = server.mailbox.count()
    cli("notify", "send", "--all", env=smtp_env(server))
    assert server.mailbox.count() == before  # a cancelled message is never sent
    error_of(cli("notify", "cancel", str(waiting), "--format", "json"), "conflict", 1)
    error_of(cli("notify", "retry", str(waiting), "--format", "json"), "conflict", 1)


def test_a_party_cannot_retry_or_cancel(failed: CLI) -> None:
    cli = failed
    broken = str(outbox(cli, "failed")[0]["id"])
    for args in (["notify", "retry", broken], ["notify", "cancel", broken]):
        result = cli("--as", "customer:1001", *args, "--format", "json")
        error_of(result, "not-a-party", 1)
    assert len(outbox(cli, "failed")) == 2
