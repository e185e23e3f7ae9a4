"""Counts from the command line (SPEC 8.1): a `--limit` outside 1 to 2^31 is
invalid-input (exit 2), never a driver's overflow, on both backends."""

from __future__ import annotations

import pytest

from conftest import CLI
from helpers import error_of

LIMITS = ["0", "-1", "2147483649", "9223372036854775807", "9223372036854775808", "1" + "0" * 40]


# refused before any SQL runs: the first count past the largest on both backends, the
# others on SQLite (the largest count taken runs on both, below)
@pytest.mark.parametrize("command", [["log"], ["list"]])
@pytest.mark.parametrize(
    ("backend", "limit"),
    [("postgres", "2147483649"), *(("sqlite", limit) for limit in LIMITS)],
    indirect=["backend"],
)
def test_a_limit_outside_1_to_2_31_is_invalid_input(
    demo: CLI, command: list[str], limit: str
) -> None:
    error = error_of(demo(*command, "--limit", limit, "--format", "json"), "invalid-input", 2)
    assert error["message"] == f"--limit: {limit} is not a count from 1 to 2147483648"


@pytest.mark.parametrize("command", [["log"], ["list"]])
def test_the_largest_limit_is_taken(demo: CLI, command: list[str]) -> None:
    run = demo(*command, "--limit", "2147483648", "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()
