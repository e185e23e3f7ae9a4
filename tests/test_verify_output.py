"""What `log --verify` says is true: its hint promises that `--format json` lists the
first bad event of each chain, and it does; counts are in singular or plural, never
"(s)" (SPEC §8.4)."""

from __future__ import annotations

import pytest

from helpers import CLI, error_of
from tampering import drop_guards, events, raw


def test_json_lists_the_first_bad_event_of_each_chain(
    demo: CLI, backend: str, request: pytest.FixtureRequest
) -> None:
    imports = {r[1]: r[0] for r in events(backend, request) if r[2] == "import" and r[1]}
    edited = {imports["1001"], imports["1002"]}
    with raw(backend, request) as conn:
        drop_guards(backend, conn)
        for event in edited:
            conn.execute(f"UPDATE audit_event SET actor = 'someone else' WHERE id = {event}")
    run = demo("log", "--verify", "--format", "json")
    error = error_of(run, "audit-tampered", 1)
    assert "--format json` lists the first bad event of each chain" in error["hint"]
    assert error["problem_count"] == 2
    assert {(p["event"], p["customer_number"]) for p in error["problems"]} == {
        (imports["1001"], "1001"),
        (imports["1002"], "1002"),
    }
    assert error["message"].endswith("(and 1 more problem)")
    assert "(s)" not in run.stderr


def test_an_intact_log_counts_in_words(demo: CLI) -> None:
    run = demo("log", "--verify")
    assert run.exit_code == 0
    assert "(s)" not in run.output
    first = run.stdout.splitlines()[0]
    assert first.endswith("chains, intact") and " events in " in first
