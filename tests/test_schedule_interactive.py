"""The interactive end offers "now", "at the end of this month" or another day, at a real
terminal (pexpect); a later day schedules the end instead of doing it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collabctl.domain.schedule_dates import end_day
from helpers import Terminal, invoke

DOWN = "\x1b[B"
ENTER = "\r"
BACKSPACE = "\x7f"
DAY = (date.today() + timedelta(days=60)).isoformat()


def collabctl_json(*args: str) -> Any:
    result = invoke(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return result.json()


@pytest.fixture(autouse=True)
def demo_data() -> None:
    assert invoke("demo").exit_code == 0


def active(customer: str, service: str) -> bool:
    rows = collabctl_json("list", "--customer", customer)
    return any(r["service"] == service for r in rows)


def test_at_the_end_of_this_month_schedules_the_end() -> None:
    month_end = end_day(
        "month-end", now=datetime.now(UTC), tz=ZoneInfo("Europe/Stockholm")
    ).ends_on.isoformat()
    term = Terminal("end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "office")
    term.expect(r"When does the collaboration end\?")
    term.expect(rf"at the end of this month \({month_end}\)")
    term.send(DOWN, ENTER)
    term.answer(f"for the end of {month_end}?", "y")
    term.expect(r"scheduled \(schedule 1\)")
    assert term.finish() == 0
    assert active("1001", "eekonomi")  # not ended now
    [row] = collabctl_json("schedule", "list")
    assert (row["customer_number"], row["service"], row["state"]) == (
        "1001",
        "eekonomi",
        "scheduled",
    )
    assert row["due_at"][:10] == month_end


def test_another_day_is_asked_again_until_it_is_a_day_in_the_future() -> None:
    term = Terminal("end", "1001", "-s", "fakturering", "-o", "deactivate", "--by", "customer")
    term.answer("When does the collaboration end?", DOWN, DOWN, ENTER)
    term.answer("The collaboration's last day (YYYY-MM-DD):", "2020-01-01", ENTER)
    term.expect(r"must be in the future")
    term.send(BACKSPACE * 10, "2027-02-30", ENTER)
    term.expect(r"no such day in the calendar")
    term.send(BACKSPACE * 10, DAY, ENTER)
    term.answer(f"for the end of {DAY}?", "y")
    term.expect(r"scheduled \(schedule 1\)")
    assert term.finish() == 0
    [row] = collabctl_json("schedule", "list")
    assert (row["service"], row["by"], row["outcome"]) == ("fakturering", "customer", "deactivate")
    assert row["due_at"][:10] == DAY
    assert active("1001", "fakturering")


def test_answering_no_schedules_nothing() -> None:
    term = Terminal("end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "office")
    term.answer("When does the collaboration end?", DOWN, ENTER)
    term.answer("for the end of", "n")
    assert term.finish() == 1
    assert collabctl_json("schedule", "list", "--state", "all") == []
    assert active("1001", "eekonomi")


def test_ending_now_at_the_terminal_settles_the_scheduled_end() -> None:
    scheduled = collabctl_json(
        "end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "office", "--at", DAY, "--yes"
    )
    term = Terminal("end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "office")
    term.answer("When does the collaboration end?", ENTER)  # now
    term.answer("Reason (optional", ENTER)
    term.answer("outcome continue?", "y")
    term.expect(r"Ended the eekonomi collaboration of 1001")
    assert term.finish() == 0
    [row] = collabctl_json("schedule", "list", "--state", "all")
    assert (row["id"], row["state"], row["error"]["code"]) == (
        scheduled["id"],
        "cancelled",
        "already-ended",
    )
    assert "ended by hand" in row["error"]["message"]
    assert not active("1001", "eekonomi")
