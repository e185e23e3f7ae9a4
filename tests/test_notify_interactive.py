"""The interactive end queues its notifications too: the main contact fixed on the
spot and the end itself, each to both parties (a real pseudo-terminal)."""

from __future__ import annotations

from typing import Any

from helpers import Terminal, invoke

DOWN = "\x1b[B"
ENTER = "\r"


def outbox() -> list[dict[str, Any]]:
    result = invoke("notify", "list", "--state", "all", "--format", "json")
    assert result.exit_code == 0, result.stderr
    messages: list[dict[str, Any]] = result.json()
    return messages


def test_the_interactive_end_and_its_main_contact_fix_queue_their_messages() -> None:
    assert invoke("demo").exit_code == 0
    term = Terminal("end")
    term.answer("Company (type to search by customer number or name)", "1002", ENTER)
    term.expect(r"1002  Snickeri Norr AB")
    term.answer("Who is ending the collaboration?", DOWN, ENTER)
    term.answer("The company has no main contact. Fix it now?", ENTER)
    term.expect(r"lars@snickerinorr\.se is now the main contact")
    term.answer("What happens to Visma eEkonomi afterwards?", DOWN, ENTER)
    term.answer("When does the collaboration end?", ENTER)  # now
    term.answer("Reason (optional", ENTER)
    term.answer("outcome deactivate?", "y")
    term.expect(r"Ended the eekonomi collaboration of 1002 Snickeri Norr AB")
    assert term.finish() == 0

    messages = [(m["event"], m["to"], m["state"]) for m in outbox()]
    # Exempelbyrån, the office of 1002's eEkonomi, has an address in the demo data
    assert messages == [
        ("main-contact", "lars@snickerinorr.se", "pending"),
        ("main-contact", "info@exempelbyran.se", "pending"),
        ("end", "lars@snickerinorr.se", "pending"),
        ("end", "info@exempelbyran.se", "pending"),
    ]
