"""The interactive end at a real terminal (pexpect): the reason, a mistyped customer
number asked again, what a cancel or Ctrl-C says was and was not saved, and the forced
checklist items named in the final confirmation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from helpers import Terminal, invoke

DOWN = "\x1b[B"
ENTER = "\r"
CTRL_C = "\x03"
BACKSPACE = "\x7f"


def collabctl_json(*args: str) -> Any:
    result = invoke(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return result.json()


def collaboration(customer: str, service: str) -> dict[str, Any]:
    company = collabctl_json("show", customer)
    found: dict[str, Any] = next(c for c in company["collaborations"] if c["service"] == service)
    return found


def actions(customer: str) -> list[str]:
    events = collabctl_json("log", "--customer", customer)
    return sorted(e["action"] for e in events if e["action"] != "import")


@pytest.fixture(autouse=True)
def demo_data() -> None:
    assert invoke("demo").exit_code == 0


def test_the_reason_is_asked_and_recorded() -> None:
    term = Terminal("end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "customer")
    term.answer("When does the collaboration end?", ENTER)  # now
    term.answer("Reason (optional, recorded with the collaboration; Enter to skip):",
                "moving to another office", ENTER)  # fmt: skip
    term.answer("outcome continue?", "y")
    term.expect(r"Ended the eekonomi collaboration of 1001 Kund AB")
    assert term.finish() == 0
    ended = collaboration("1001", "eekonomi")
    assert (ended["state"], ended["reason"]) == ("ended", "moving to another office")


def test_the_reason_may_be_left_out() -> None:
    term = Terminal("end", "1001", "-s", "fakturering", "-o", "deactivate", "--by", "office")
    term.answer("When does the collaboration end?", ENTER)  # now
    term.answer("Reason (optional", ENTER)
    term.answer("outcome deactivate?", "y")
    assert term.finish() == 0
    ended = collaboration("1001", "fakturering")
    assert (ended["state"], ended["reason"]) == ("ended", None)


def test_a_mistyped_customer_number_is_asked_again() -> None:
    term = Terminal("end", "1007", "-s", "utlagg", "-o", "delete", "--by", "customer")
    term.answer("When does the collaboration end?", ENTER)  # now
    term.answer("Reason (optional", ENTER)
    term.answer("Write a backup file of the data before deleting it?", ENTER)
    term.answer("Type the customer number (1007) to confirm:", "1070", ENTER)
    term.expect(r"'1070' is not 1007: type 1007, or Ctrl-C to cancel")
    assert collaboration("1007", "utlagg")["state"] == "active"  # still asking, nothing done
    term.send(BACKSPACE * 4, "1007", ENTER)
    term.expect(r"Ended the utlagg collaboration of 1007")
    assert term.finish() == 0
    assert collaboration("1007", "utlagg")["outcome"] == "delete"


def fix_the_main_contact_of_1002(term: Terminal) -> None:
    term.answer("Who is ending the collaboration?", DOWN, ENTER)
    term.answer("The company has no main contact. Fix it now?", ENTER)
    term.expect(r"lars@snickerinorr\.se is now the main contact \(promoted to administrator\)")


KEPT = (
    r"saved before that, and kept: lars@snickerinorr\.se is the main contact of 1002 "
    r"\(promoted to administrator\)"
)


def test_no_after_fixing_the_main_contact_says_the_fix_stays() -> None:
    term = Terminal("end", "1002", "--format", "json")
    fix_the_main_contact_of_1002(term)
    term.answer("What happens to Visma eEkonomi afterwards?", DOWN, ENTER)
    term.answer("When does the collaboration end?", ENTER)  # now
    term.answer("Reason (optional", ENTER)
    term.answer("outcome deactivate?", "n")
    term.expect(r"error\[cancelled\]: the collaboration was not ended; " + KEPT)
    term.expect(r"hint: nothing else was changed")
    assert term.finish() == 1
    # the machine format has the error too, with its code
    document = next(
        json.loads(line) for line in term.text.splitlines() if line.startswith('{"error"')
    )
    assert document["error"]["code"] == "cancelled"
    assert collaboration("1002", "eekonomi")["state"] == "active"
    assert collabctl_json("show", "1002")["main_contact"] == "lars@snickerinorr.se"
    assert actions("1002") == ["set-main-contact", "set-role"]


def test_ctrl_c_after_fixing_the_main_contact_says_the_fix_stays() -> None:
    term = Terminal("end", "1002")
    fix_the_main_contact_of_1002(term)
    term.answer("What happens to Visma eEkonomi afterwards?", CTRL_C)
    term.expect(r"interrupted: the collaboration was not ended; " + KEPT)
    assert term.finish() == 130
    assert collaboration("1002", "eekonomi")["state"] == "active"
    assert collabctl_json("show", "1002")["main_contact"] == "lars@snickerinorr.se"
    assert actions("1002") == ["set-main-contact", "set-role"]


def test_cancelling_the_main_contact_fix_changes_nothing() -> None:
    term = Terminal("end", "1002", "--by", "office")
    term.answer("The company has no main contact. Fix it now?", DOWN, DOWN, ENTER)
    term.expect(r"error\[cancelled\]: customer 1002 still has no main contact; nothing was changed")
    assert term.finish() == 1
    assert collabctl_json("show", "1002")["main_contact"] is None
    assert actions("1002") == []


def test_the_final_confirmation_of_a_delete_names_the_forced_items() -> None:
    term = Terminal("end", "1003", "-s", "utlagg", "-o", "delete", "--by", "office")
    term.expect(r"still to do: reports-submitted")
    term.answer("End anyway?", "y")
    term.answer("When does the collaboration end?", ENTER)  # now
    term.answer("Reason (optional", "drafts stay with the company", ENTER)
    term.answer("Write a backup file of the data before deleting it?", ENTER)
    term.expect(r"Forced checklist items \(recorded\):\s+reports-submitted,\s+outlays-submitted\.")
    term.answer("Type the customer number (1003) to confirm:", "1003", ENTER)
    term.expect(r"Ended the utlagg collaboration of 1003")
    assert term.finish() == 0
    ended = collaboration("1003", "utlagg")
    assert (ended["outcome"], ended["reason"]) == ("delete", "drafts stay with the company")


def test_a_flag_that_does_not_apply_is_refused_before_any_question() -> None:
    term = Terminal("end", "1001", "-s", "eekonomi", "--confirm", "data-synchronised")
    term.expect(r"error\[invalid-input\]: --confirm data-synchronised: eekonomi has no checklist")
    assert term.finish() == 2
    assert "Who is ending" not in term.text
