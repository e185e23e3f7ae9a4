"""`demo --reset` empties the database and loads the demo (asks at a terminal, --yes
otherwise), and every hint `demo` prints is a command that works as written
(SPEC §8.4)."""

from __future__ import annotations

import shlex

from helpers import CLI, Terminal, error_of, invoke, log_events, sqlite_only

END_1001 = ("end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "customer", "--yes")


def hinted_command(hint: str) -> list[str]:
    """The command a hint names between backticks, as words."""
    return shlex.split(hint.split("`")[1])


def test_after_an_end_the_hints_of_demo_lead_back_to_the_demo(demo: CLI) -> None:
    assert demo(*END_1001).exit_code == 0
    refused = error_of(demo("demo", "--format", "json"), "invalid-input", 2)
    forced = error_of(demo("demo", "--force", "--format", "json"), "conflict", 1)
    # each hint's command, run as written, starts over
    for hint in (refused["hint"], forced["hint"]):
        words = hinted_command(hint)
        assert words[:2] == ["collabctl", "demo"] and "--reset" in words, hint
    words = hinted_command(forced["hint"])
    done = demo(*words[1:], "--format", "json")
    assert done.exit_code == 0, done.output
    assert done.json()["companies"] == 7
    listed = demo("list", "--customer", "1001", "--format", "json").json()
    assert "eekonomi" in {row["service"] for row in listed}  # the end is gone
    events = log_events(demo)
    assert {e["action"] for e in events} == {"import"}  # the audit log starts again
    assert demo("log", "--verify").exit_code == 0


def test_reset_keeps_the_audit_log_append_only(demo: CLI) -> None:
    assert demo(*END_1001).exit_code == 0
    assert demo("demo", "--reset", "--yes").exit_code == 0
    assert demo(*END_1001).exit_code == 0  # the database works as before
    assert demo("log", "--verify").exit_code == 0


@sqlite_only  # a usage error: the flags decide it, not the database
def test_reset_without_a_terminal_needs_yes(demo: CLI) -> None:
    assert demo(*END_1001).exit_code == 0
    error = error_of(demo("demo", "--reset", "--format", "json"), "invalid-input", 2)
    assert "--yes" in error["message"] and error["hint"] == "collabctl demo --reset --yes"
    assert "already-ended" in demo(*END_1001).stderr  # nothing was deleted


def test_reset_asks_at_a_terminal() -> None:
    assert invoke("demo").exit_code == 0
    assert invoke(*END_1001).exit_code == 0
    term = Terminal("demo", "--reset")
    term.expect(r"database: sqlite:///")
    term.answer("(the audit log too) and load the demo?", "n")
    term.expect(r"error\[cancelled\]: nothing was deleted")
    assert term.finish() == 1
    assert "already-ended" in invoke(*END_1001).stderr

    term = Terminal("demo", "--reset")
    term.answer("(the audit log too) and load the demo?", "y")
    term.expect("Demo data loaded: 7 companies")
    assert term.finish() == 0
    assert invoke(*END_1001).exit_code == 0
