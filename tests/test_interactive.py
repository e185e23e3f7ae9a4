"""The interactive flows, driven for real: collabctl runs in a pseudo-terminal and
the test types at it like an agent would (arrow keys, space, enter, Ctrl-C).

questionary draws with ANSI escapes and redraws lines in place, so the test
waits for the question text in the output with the escapes removed, and only
then types; every wait is bounded, so a flow that hangs fails instead of blocking.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from helpers import Terminal, invoke

DOWN = "\x1b[B"
ENTER = "\r"
SPACE = " "
CTRL_C = "\x03"
BACKSPACE = "\x7f"


def collabctl(*args: str) -> Any:
    """collabctl in-process and without a terminal, for setting up and checking the data."""
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    return result.json() if "--format" in args else result.stdout


def show(customer: str) -> dict[str, Any]:
    return collabctl("show", customer, "--format", "json")


def events() -> list[dict[str, Any]]:
    """The audit log, oldest first (``log`` lists the newest first)."""
    return collabctl("log", "--reverse", "--format", "json")


def collaboration(company: dict[str, Any], service: str) -> dict[str, Any]:
    return next(c for c in company["collaborations"] if c["service"] == service)


def subscription(company: dict[str, Any], service: str) -> dict[str, Any]:
    return next(s for s in company["subscriptions"] if s["service"] == service)


@pytest.fixture
def demo_data() -> None:
    collabctl("demo")


pytestmark = pytest.mark.usefixtures("demo_data")


# -- ending, the whole flow ---------------------------------------------------------


def test_end_1002_fixing_the_main_contact_on_the_spot() -> None:
    term = Terminal("end")
    term.answer("Company (type to search by customer number or name)", "Snick", ENTER)
    # typing part of the name is enough when it matches one company; the answer shows it in full
    term.expect(r"1002  Snickeri Norr AB")
    term.expect(r"Collaboration: eekonomi with Exempelbyrån AB \(556677-8899\)")
    term.answer("Who is ending the collaboration?", DOWN, ENTER)
    term.expect(r"FAIL main-contact\s+customer 1002 \(Snickeri Norr AB\) has no main contact")
    term.answer("The company has no main contact. Fix it now?", ENTER)
    term.expect(r"lars@snickerinorr\.se is now the main contact \(promoted to administrator\)")
    term.expect(r"ok\s+main-contact\s+main contact lars@snickerinorr\.se")
    term.answer("What happens to Visma eEkonomi afterwards?", DOWN, ENTER)
    term.answer("When does the collaboration end?", ENTER)  # now
    term.answer("Reason (optional", ENTER)
    term.answer("outcome deactivate?", "y")
    term.expect(r"Ended the eekonomi collaboration of 1002 Snickeri Norr AB")
    term.expect(r"the subscription is now read-only")
    assert term.finish() == 0
    # the pre-flight is shown once, then only what changed after the fix
    assert term.text.count("Pre-flight for ending") == 1

    company = show("1002")
    ended = collaboration(company, "eekonomi")
    assert ended["state"] == "ended"
    assert ended["ended_by"] == "office"
    assert ended["outcome"] == "deactivate"
    assert subscription(company, "eekonomi")["state"] == "read-only"
    assert company["main_contact"] == "lars@snickerinorr.se"
    lars = next(u for u in company["users"] if u["email"] == "lars@snickerinorr.se")
    assert lars["role"] == "administrator"
    assert lars["main_contact"] is True

    mine = [e for e in events() if e["customer_number"] == "1002" and e["action"] != "import"]
    # the fix is the two changes an agent would make by hand, in one transaction
    assert [e["action"] for e in mine] == ["set-role", "set-main-contact", "end"]
    assert mine[0]["details"]["before"]["role"] == "user"
    assert mine[0]["details"]["after"]["role"] == "administrator"
    assert mine[1]["details"]["after"] == "lars@snickerinorr.se"
    assert mine[2]["service"] == "eekonomi"
    assert mine[2]["details"]["outcome"] == "deactivate"
    assert mine[2]["details"]["ended_by"] == "office"
    assert mine[2]["actor"] == "tester"


def test_end_1002_creating_a_new_main_contact() -> None:
    term = Terminal("end", "1002", "--reason", "moving to another office")
    term.expect(r"Collaboration: eekonomi")
    term.answer("Who is ending the collaboration?", ENTER)
    term.answer("The company has no main contact. Fix it now?", DOWN, ENTER)
    # an existing user is refused with a pointer back to the list
    term.answer("E-mail of the new main contact:", "revision@norrrevision.se", ENTER)
    term.expect(r"revision@norrrevision\.se is already a user \(auditor\)")
    term.send(BACKSPACE * len("revision@norrrevision.se"), "karin@snickerinorr.se", ENTER)
    term.answer("Full name:", "Karin Berg", ENTER)
    term.expect(r"Created karin@snickerinorr\.se \(Karin Berg\) as administrator and main contact")
    term.answer("What happens to Visma eEkonomi afterwards?", ENTER)
    term.answer("When does the collaboration end?", ENTER)  # now
    term.answer("outcome continue?", "y")
    term.expect(r"the subscription is now active\. Ended by customer")
    assert term.finish() == 0

    company = show("1002")
    assert company["main_contact"] == "karin@snickerinorr.se"
    karin = next(u for u in company["users"] if u["email"] == "karin@snickerinorr.se")
    assert (karin["name"], karin["role"]) == ("Karin Berg", "administrator")
    ended = collaboration(company, "eekonomi")
    assert (ended["state"], ended["outcome"], ended["ended_by"]) == (
        "ended",
        "continue",
        "customer",
    )
    assert ended["reason"] == "moving to another office"
    assert subscription(company, "eekonomi")["state"] == "active"


def test_end_1007_delete_with_backup_after_typing_the_customer_number(tmp_path: Path) -> None:
    term = Terminal("end", "--format", "json")
    term.answer("Company (type to search by customer number or name)", "1007", ENTER)
    term.answer("Which collaboration?", DOWN, ENTER)  # eekonomi, then utlagg
    term.answer("Who is ending the collaboration?", ENTER)
    term.expect(r"ok\s+checklist\s+reports-submitted \(data\), outlays-submitted \(data\)")
    term.answer("What happens to Visma Utlägg afterwards?", DOWN, ENTER)
    term.answer("When does the collaboration end?", ENTER)  # now
    term.answer("Reason (optional", ENTER)
    term.answer("Write a backup file of the data before deleting it?", ENTER)
    term.expect(r"This deletes ALL Visma Utlägg data of customer 1007\. `collabctl restore` can")
    term.answer("Type the customer number (1007) to confirm:", "1007", ENTER)
    found = term.expect(r'"backup_path": "([^"]+)"')
    assert term.finish() == 0

    backup = Path(found.group(1))
    assert backup.is_file()
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    saved = json.loads(backup.read_text(encoding="utf-8"))
    assert {r["id"] for c in saved["companies"] for r in c["records"]} == {"ER-7001", "OL-7002"}

    company = show("1007")
    assert collaboration(company, "utlagg")["state"] == "ended"
    assert collaboration(company, "utlagg")["outcome"] == "delete"
    assert subscription(company, "utlagg") == {
        "service": "utlagg",
        "state": "deleted",
        "records": 0,
    }
    # the other collaboration of the company is untouched
    assert collaboration(company, "eekonomi")["state"] == "active"
    end = [e for e in events() if e["action"] == "end"]
    assert len(end) == 1
    assert end[0]["details"]["backup_path"] == str(backup)
    assert end[0]["details"]["records_deleted"] == 2


def test_end_1007_a_wrong_customer_number_asks_again_and_ctrl_c_deletes_nothing() -> None:
    before = show("1007")
    log_before = events()
    term = Terminal("end", "1007", "--service", "utlagg")
    term.answer("Who is ending the collaboration?", DOWN, ENTER)
    term.answer("What happens to Visma Utlägg afterwards?", DOWN, ENTER)
    term.answer("When does the collaboration end?", ENTER)  # now
    term.answer("Reason (optional", ENTER)
    term.answer("Write a backup file of the data before deleting it?", ENTER)
    term.answer("Type the customer number (1007) to confirm:", "1070", ENTER)
    term.expect(r"'1070' is not 1007: type 1007, or Ctrl-C to cancel")
    term.send(CTRL_C)
    term.expect(r"interrupted: the collaboration was not ended; nothing was changed")
    assert term.finish() == 130
    assert show("1007") == before
    assert events() == log_before


def test_end_1005_ticking_the_checklist_and_forcing_the_rest() -> None:
    term = Terminal("end", "1005")
    term.expect(r"Collaboration: lon with Norrlands Lönebyrå AB")
    term.answer("Who is ending the collaboration?", DOWN, ENTER)
    term.expect(r"FAIL data-synchronised\s+not confirmed \[unmet\]")
    term.expect(r"FAIL backup-handed-over\s+no export made \[unmet\]")
    # the first item is data-synchronised: tick it, leave the backup unticked
    term.answer("Tick what is done:", SPACE, ENTER)
    term.expect(r"still to do: backup-handed-over: collabctl export 1005 --service lon")
    term.answer("End anyway?", "y")
    term.expect(r"Outcome: handover")
    term.answer("When does the collaboration end?", ENTER)  # now
    term.answer("Reason (optional", ENTER)
    # the final confirmation names what is forced (the terminal may wrap the long question)
    term.expect(r"outcome handover, forcing backup-h\s*anded-over \(recorded\)\?")
    term.send("y")
    term.expect(r"Forced checklist items \(recorded\): backup-handed-over")
    assert term.finish() == 0
    assert "still to do: data-synchronised" not in term.text  # it was ticked

    company = show("1005")
    assert collaboration(company, "lon")["state"] == "ended"
    assert subscription(company, "lon")["state"] == "no-access"
    (end,) = [e for e in events() if e["action"] == "end"]
    assert end["details"]["checklist"] == {
        "customer-user-added": "data",
        "data-synchronised": "attested",
        "backup-handed-over": "forced",
    }
    assert end["details"]["confirmed"] == ["data-synchronised"]
    assert end["details"]["forced"] == ["backup-handed-over"]


def test_end_1005_not_forcing_the_checklist_changes_nothing() -> None:
    before = show("1005")
    log_before = events()
    term = Terminal("end", "1005", "--by", "office")
    term.answer("Tick what is done:", ENTER)
    term.expect(r"still to do: data-synchronised: synchronise, then pass --confirm")
    term.answer("End anyway?", "n")
    term.expect(r"error\[checklist-incomplete\]: the lon checklist is not done")
    assert term.finish() == 1
    assert show("1005") == before
    assert events() == log_before


@pytest.mark.parametrize(
    "where",
    ["company", "confirmation"],
)
def test_ctrl_c_at_a_prompt_exits_130_and_changes_nothing(where: str) -> None:
    before = show("1001")
    log_before = events()
    term = Terminal("end")
    if where == "company":
        term.answer("Company (type to search by customer number or name)", "100", CTRL_C)
    else:
        term.answer("Company (type to search by customer number or name)", "1001", ENTER)
        term.answer("Which collaboration?", ENTER)
        term.answer("Who is ending the collaboration?", ENTER)
        term.answer("What happens to Visma eEkonomi afterwards?", DOWN, ENTER)
        term.answer("When does the collaboration end?", ENTER)  # now
        term.answer("Reason (optional", ENTER)
        term.answer("outcome deactivate?", CTRL_C)
    term.expect(r"interrupted")
    assert term.finish() == 130
    assert show("1001") == before
    assert events() == log_before


def test_a_declined_confirmation_ends_nothing() -> None:
    log_before = events()
    term = Terminal("end", "0042")
    term.expect(r"Collaboration: fakturering")  # eekonomi ended already: only one is offered
    term.answer("Who is ending the collaboration?", ENTER)
    term.answer("What happens to Visma eEkonomi Fakturering afterwards?", ENTER)
    term.answer("When does the collaboration end?", ENTER)  # now
    term.answer("Reason (optional", ENTER)
    term.answer("outcome continue?", "n")
    term.expect(r"error\[cancelled\]: the collaboration was not ended; nothing was changed")
    assert term.finish() == 1
    assert collaboration(show("0042"), "fakturering")["state"] == "active"
    assert events() == log_before


def test_a_search_that_matches_many_asks_to_pick_one() -> None:
    term = Terminal("end", "--dry-run", "--format", "json")
    term.answer("Company (type to search by customer number or name)", "AB", ENTER)
    term.expect(r"companies match: pick one with the arrow keys")
    # clear the search, then narrow it down and pick from the list with the arrow keys
    term.send(BACKSPACE * 2, "lön i", DOWN, ENTER)
    term.expect(r"1004  Bygg & Lön i Umeå AB")
    term.answer("Which collaboration?", DOWN, ENTER)
    term.answer("Who is ending the collaboration?", ENTER)
    term.expect(r"error\[checklist-incomplete\]")
    assert term.finish() == 1
    # a dry run prints the checks as the result, and asks nothing it does not need
    document = re.search(r"(?ms)^\{$.*?^\}$", term.text)
    assert document is not None, term.text
    preflight = json.loads(document.group(0))
    assert (preflight["customer_number"], preflight["service"]) == ("1004", "lon")
    assert preflight["outcome"] == "handover"
    assert preflight["ok"] is False
    assert "Tick what is done" not in term.text
    assert '{"error"' not in term.text  # one document: the error is in its checks


def test_yes_skips_the_confirmation_but_not_the_missing_answers() -> None:
    term = Terminal("end", "1001", "--service", "eekonomi", "--yes")
    term.answer("Who is ending the collaboration?", ENTER)
    term.answer("What happens to Visma eEkonomi afterwards?", ENTER)
    term.expect(r"Ended the eekonomi collaboration of 1001 Kund AB")
    assert term.finish() == 0
    assert "End the eekonomi collaboration" not in term.text
    ended = collaboration(show("1001"), "eekonomi")
    assert (ended["state"], ended["ended_by"], ended["outcome"]) == (
        "ended",
        "customer",
        "continue",
    )


def test_the_result_goes_to_stdout_and_the_progress_to_stderr(tmp_path: Path) -> None:
    stderr = tmp_path / "stderr.txt"
    term = Terminal("end", "1001", "--service", "fakturering", "--format", "json", stderr=stderr)
    term.answer("Who is ending the collaboration?", DOWN, ENTER)
    term.answer("What happens to Visma eEkonomi Fakturering afterwards?", DOWN, ENTER)
    term.answer("When does the collaboration end?", ENTER)  # now
    term.answer("Reason (optional", ENTER)
    term.answer("outcome deactivate?", "y")
    term.expect(r"\n\}")
    assert term.finish() == 0

    progress = stderr.read_text(encoding="utf-8")
    assert "Pre-flight for ending fakturering of customer 1001" in progress
    assert "{" not in progress
    screen = term.text
    assert "Pre-flight" not in screen
    document = re.search(r"(?ms)^\{$.*?^\}$", screen)
    assert document is not None, screen
    result = json.loads(document.group(0))
    assert result["customer_number"] == "1001"
    assert (result["service"], result["state"], result["outcome"]) == (
        "fakturering",
        "ended",
        "deactivate",
    )
    assert result["subscription_state"] == "read-only"


# -- set-main-contact ----------------------------------------------------------------


def test_set_main_contact_picks_a_user() -> None:
    term = Terminal("set-main-contact", "1002")
    term.expect(re.escape("Who becomes the main contact?"))
    term.expect(r"lars@snickerinorr\.se  Lars Berg \(user; becomes administrator\)")
    # an auditor is never offered
    assert "revision@norrrevision.se" not in term.text
    term.send(ENTER)
    term.expect(r"lars@snickerinorr\.se \(Lars Berg\): administrator, main contact")
    term.expect(r"promoted to administrator")
    assert term.finish() == 0
    company = show("1002")
    assert company["main_contact"] == "lars@snickerinorr.se"
    (event,) = [e for e in events() if e["action"] == "set-main-contact"]
    assert event["details"]["before"] is None
    assert event["details"]["after"] == "lars@snickerinorr.se"


def test_set_main_contact_offers_no_users_of_a_company_the_scope_may_not_change() -> None:
    # Exempelbyrån has no collaboration with 1004 (its payroll office is Norrlands Lönebyrå)
    term = Terminal("--as", "office:556677-8899", "set-main-contact", "1004")
    assert term.finish() == 1
    assert "error[not-found]" in term.text
    assert "karin@byggumea.se" not in term.text
    assert "Who becomes the main contact?" not in term.text
