"""Every fixed-value argument gets a did-you-mean (SPEC §8.4): a typo is an error that
names the value meant, never a silent empty answer."""

from __future__ import annotations

import pytest

from helpers import CLI, error_of

TYPOS = [
    (("log", "--action", "ennd"), "end"),
    (("log", "--action", "remove-usr"), "remove-user"),
    (("list", "--state", "actve"), "active"),
    (("list", "--sort", "strated"), "started"),
    (("notify", "list", "--state", "pendng"), "pending"),
    (("add-user", "1001", "--email", "ny@kund.se", "--role", "auditr"), "auditor"),
    (("user", "set-role", "1001", "erik@kund.se", "administrater"), "administrator"),
    (
        ("end", "1001", "-s", "eekonomi", "-o", "contnue", "--by", "customer", "--dry-run"),
        "continue",
    ),
    (
        ("end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "custmer", "--dry-run"),
        "customer",
    ),
    (("list", "--service", "eekonmi"), "eekonomi"),
]


# the fixed values are refused before the database is read, so they run on SQLite; the
# services are the catalogue's, looked up in the database, so that one runs on both
@pytest.mark.parametrize(
    ("backend", "args", "meant"),
    [
        *(pytest.param("sqlite", args, meant, id=f"sqlite-{meant}") for args, meant in TYPOS),
        pytest.param("postgres", *TYPOS[-1], id="postgres-eekonomi"),
    ],
    indirect=["backend"],
)
def test_a_typo_in_a_fixed_value_gets_a_did_you_mean(
    demo: CLI, args: tuple[str, ...], meant: str
) -> None:
    error = error_of(demo(*args, "--format", "json"), "invalid-input", 2)
    assert f"did you mean {meant!r}?" in error["hint"], error


def test_an_action_that_did_not_happen_yet_is_no_error(demo: CLI) -> None:
    run = demo("log", "--action", "restore", "--format", "json")
    assert run.exit_code == 0 and run.json() == []
