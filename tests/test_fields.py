"""--fields F1,F2,... on every command that prints records (SPEC §8.4, gh's --json FIELDS):
the keys of machine formats and the columns of tables, in the order given; an unknown
field is invalid-input with a did-you-mean."""

from __future__ import annotations

import pytest

from helpers import CLI, Tty, error_of

COMMANDS = [
    ("list",),
    ("log",),
    ("user", "list", "1001"),
    ("notify", "list", "--state", "all"),
    ("doctor",),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_fields_select_keys_in_every_machine_format(demo: CLI, command: tuple[str, ...]) -> None:
    # a change, so that the outbox holds messages too
    assert demo("start", "0042", "-s", "eekonomi", "--office", "556677-8899").exit_code == 0
    full = demo(*command, "--format", "json")
    whole = full.json()
    assert whole, "the demo has something to show"
    second, first = list(whole[0])[:2]  # two keys, in another order
    fields = f"{first},{second}"
    chosen = demo(*command, "--fields", fields, "--format", "json")
    assert chosen.exit_code == full.exit_code
    assert [list(row) for row in chosen.json()] == [[first, second]] * len(whole)
    assert chosen.json() == [{first: r[first], second: r[second]} for r in whole]
    lines = demo(*command, "--fields", fields, "--format", "jsonl").jsonl()
    assert lines == chosen.json()
    csv = demo(*command, "--fields", fields, "--format", "csv").stdout.splitlines()
    assert csv[0] == fields and len(csv) == len(whole) + 1


def test_fields_choose_the_columns_of_a_table(demo: CLI) -> None:
    table = demo("list", "--fields", "service,customer_number,office_name").stdout.splitlines()
    assert table[0].split() == ["service", "customer", "office"]
    assert table[1].split()[:2] == ["fakturering", "0042"]
    at_terminal = demo("list", "--fields", "state,service", tty=Tty()).stdout
    assert "state" in at_terminal and "company" not in at_terminal


def test_fields_of_one_record(demo: CLI) -> None:
    shown = demo("show", "1001", "--fields", "name,main_contact", "--format", "json").json()
    assert shown == {"name": "Kund AB", "main_contact": "anna@kund.se"}
    table = demo("show", "1001", "--fields", "main_contact,name")
    assert table.stdout == "main_contact: anna@kund.se\nname: Kund AB\n"


@pytest.mark.parametrize(
    ("command", "typo", "meant"),
    [
        (("list",), "servce", "service"),
        (("log",), "ation", "action"),
        (("show", "1001"), "main_contct", "main_contact"),
        (("user", "list", "1001"), "emial", "email"),
    ],
)
def test_an_unknown_field_gets_a_did_you_mean(
    demo: CLI, command: tuple[str, ...], typo: str, meant: str
) -> None:
    run = demo(*command, "--fields", f"{meant},{typo}", "--format", "json")
    error = error_of(run, "invalid-input", 2)
    assert typo in error["message"] and f"did you mean {meant!r}?" in error["hint"]
    assert "Traceback" not in run.output


def test_no_field_at_all_is_invalid(demo: CLI) -> None:
    error_of(demo("list", "--fields", " , ", "--format", "json"), "invalid-input", 2)


def test_fields_of_the_results_of_end_from(demo: CLI) -> None:
    flags = ("end", "--from", "-", "-s", "fakturering", "-o", "continue", "--by", "office")
    run = demo(*flags, "--dry-run", "--fields", "customer_number,status", "--format", "jsonl",
               input="1001\n1002\n")  # fmt: skip
    assert run.jsonl() == [
        {"customer_number": "1001", "status": "would-end"},
        {"customer_number": "1002", "status": "failed"},
    ]
    # an unknown field is refused before anything is ended
    refused = demo(*flags, "--yes", "--fields", "stats", "--format", "json", input="1001\n")
    error = error_of(refused, "invalid-input", 2)
    assert "did you mean 'status'?" in error["hint"]
    listed = demo("list", "--customer", "1001", "--service", "fakturering", "--format", "json")
    assert [row["state"] for row in listed.json()] == ["active"]
    single = demo("end", "1001", "--fields", "state", "--format", "json")
    error_of(single, "invalid-input", 2)
