"""The ``user`` commands at a terminal: a left-out EMAIL or ROLE is picked from a list,
driven for real in a pseudo-terminal (arrow keys, space, enter, Ctrl-C); without a
terminal nothing is ever asked and the missing argument is named (exit 2)."""

from __future__ import annotations

from typing import Any

import pytest

from helpers import Terminal, invoke

DOWN = "\x1b[B"
ENTER = "\r"
SPACE = " "
CTRL_C = "\x03"


def users(customer: str) -> dict[str, dict[str, Any]]:
    run = invoke("user", "list", customer, "--format", "json")
    assert run.exit_code == 0, run.stderr
    return {u["email"]: u for u in run.json()}


def actions() -> list[str]:
    run = invoke("log", "--format", "json")
    assert run.exit_code == 0, run.stderr
    return [e["action"] for e in run.json() if e["action"] != "import"]


@pytest.fixture(autouse=True)
def demo_data() -> None:
    run = invoke("demo")
    assert run.exit_code == 0, run.stderr


def test_set_role_picks_the_user_and_the_role() -> None:
    term = Terminal("user", "set-role", "1001")
    term.answer("User of customer 1001, whose role?", DOWN, ENTER)  # anna, then erik
    term.expect(r"erik@kund\.se")
    # the current role is where the cursor starts, marked as such
    term.expect(r"New role of erik@kund\.se:")
    term.expect(r"user\s+works in the services they have access to\s+\(now\)")
    term.send(DOWN, ENTER)  # user -> auditor
    term.expect(r"erik@kund\.se \(Erik Svensson\): role user -> auditor")
    assert term.finish() == 0

    assert users("1001")["erik@kund.se"]["role"] == "auditor"
    assert actions() == ["set-role"]


def test_set_role_with_the_user_given_asks_only_the_role() -> None:
    term = Terminal("user", "set-role", "1002", "LARS@snickerinorr.se")
    term.answer("New role of lars@snickerinorr.se:", "\x1b[A", ENTER)  # user -> administrator
    term.expect(r"role user -> administrator")
    assert term.finish() == 0
    assert users("1002")["lars@snickerinorr.se"]["role"] == "administrator"


def test_demoting_the_main_contact_picked_from_the_list_is_refused() -> None:
    term = Terminal("user", "set-role", "1001")
    term.answer("User of customer 1001, whose role?", ENTER)  # anna, the main contact
    term.answer("New role of anna@kund.se:", DOWN, ENTER)  # administrator -> user
    term.expect(r"error\[main-contact-required\]")
    term.expect(r"hint: set another main contact first: collabctl set-main-contact 1001 --user")
    assert term.finish() == 1
    assert users("1001")["anna@kund.se"]["role"] == "administrator"
    assert actions() == []


def test_ctrl_c_at_the_pick_changes_nothing() -> None:
    term = Terminal("user", "set-role", "1001")
    term.answer("User of customer 1001, whose role?", DOWN)
    term.send(CTRL_C)
    assert term.finish() == 130
    assert actions() == []


def test_set_services_ticks_the_services() -> None:
    term = Terminal("user", "set-services", "1001", "erik@kund.se")
    term.answer("Services of erik@kund.se:", SPACE, DOWN, DOWN, SPACE, ENTER)
    # eekonomi ticked, utlagg unticked (fakturering left as it was)
    term.expect(r"services utlagg -> eekonomi")
    assert term.finish() == 0
    assert users("1001")["erik@kund.se"]["services"] == ["eekonomi"]
    assert actions() == ["set-services"]


def test_remove_a_picked_user_asks_first() -> None:
    term = Terminal("user", "remove", "1001")
    term.answer("User of customer 1001, which user?", DOWN, DOWN, ENTER)
    term.answer("Remove revisor@granskarna.se from customer 1001?", "n")
    term.expect(r"error\[cancelled\]: revisor@granskarna\.se was not removed; nothing changed")
    assert term.finish() == 1
    assert "revisor@granskarna.se" in users("1001")

    term = Terminal("user", "remove", "1001")
    term.answer("User of customer 1001, which user?", DOWN, DOWN, ENTER)
    term.answer("Remove revisor@granskarna.se from customer 1001?", "y")
    term.expect(r"Removed revisor@granskarna\.se \(Greta Granskare\), auditor, from customer 1001")
    assert term.finish() == 0
    assert "revisor@granskarna.se" not in users("1001")
    assert actions() == ["remove-user"]


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        (("user", "set-role", "1001"), "EMAIL is required"),
        (("user", "set-role", "1001", "erik@kund.se"), "ROLE is required"),
        (("user", "set-services", "1001", "erik@kund.se"), "pass --grant or --revoke"),
        (("user", "remove", "1001"), "EMAIL is required"),
    ],
)
def test_without_a_terminal_nothing_is_asked(args: tuple[str, ...], missing: str) -> None:
    run = invoke(*args)
    assert run.exit_code == 2, run.stderr
    assert "error[invalid-input]" in run.stderr
    assert missing in run.stderr
    assert "hint: collabctl user" in run.stderr
    assert actions() == []


def test_no_input_in_a_terminal_asks_nothing() -> None:
    term = Terminal("--no-input", "user", "set-role", "1001")
    term.expect(r"error\[invalid-input\]: whose role\? EMAIL is required")
    assert term.finish() == 2


def test_remove_with_the_user_given_asks_at_a_terminal() -> None:
    term = Terminal("user", "remove", "1001", "revisor@granskarna.se")
    term.answer("Remove revisor@granskarna.se from customer 1001? Their records stay.", "n")
    term.expect(r"error\[cancelled\]: revisor@granskarna\.se was not removed; nothing changed")
    assert term.finish() == 1
    assert "revisor@granskarna.se" in users("1001")

    term = Terminal("user", "remove", "1001", "revisor@granskarna.se", "--yes")
    term.expect(r"Removed revisor@granskarna\.se \(Greta Granskare\), auditor")
    assert term.finish() == 0
    assert "Remove revisor" not in term.text  # --yes: nothing asked
    assert actions() == ["remove-user"]


def test_removing_the_main_contact_is_refused_before_anything_is_asked() -> None:
    term = Terminal("user", "remove", "1001", "anna@kund.se")
    term.expect(r"error\[main-contact-required\]")
    assert term.finish() == 1
    assert "Remove anna" not in term.text
    assert actions() == []


def test_remove_without_a_terminal_needs_yes() -> None:
    run = invoke("user", "remove", "1001", "revisor@granskarna.se")
    assert run.exit_code == 2, run.output
    assert "needs confirmation: pass --yes (no terminal to ask in)" in run.stderr
    assert "hint: collabctl user remove 1001 revisor@granskarna.se --yes" in run.stderr
    assert "revisor@granskarna.se" in users("1001") and actions() == []


@pytest.mark.parametrize(
    "args",
    [
        ("user", "remove", "1001", "revisor@granskarna.se", "--no-input"),
        ("end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "office", "--no-input"),
    ],
    ids=["user remove", "end"],
)
def test_no_input_at_a_terminal_names_no_input_not_a_missing_terminal(
    args: tuple[str, ...],
) -> None:
    term = Terminal(*args)
    term.expect(r"pass --yes \(--no-input is set\)")
    assert term.finish() == 2
    assert "no terminal" not in term.text
    assert actions() == []
