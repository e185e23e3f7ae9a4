"""--fields F1,F2,... on every command that prints records (SPEC §8.4, gh's --json FIELDS):
the keys of machine formats and the columns of tables, in the order given; an unknown
field is invalid-input with a did-you-mean."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from helpers import CLI, Tty, error_of, sqlite_only

COMMANDS = [
    ("list",),
    ("log",),
    ("user", "list", "1001"),
    ("notify", "list", "--state", "all"),
    ("doctor",),
]


# the selection of keys of rows already read: list on both backends, the others on SQLite
@pytest.mark.parametrize(
    ("backend", "command"),
    [
        pytest.param("postgres", COMMANDS[0], id="postgres-list"),
        *(pytest.param("sqlite", c, id="sqlite-" + " ".join(c)) for c in COMMANDS),
    ],
    indirect=["backend"],
)
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


@sqlite_only  # the selection of fields of rows already read
def test_fields_choose_the_columns_of_a_table(demo: CLI) -> None:
    table = demo("list", "--fields", "service,customer_number,office_name").stdout.splitlines()
    assert table[0].split() == ["service", "customer", "office"]
    assert table[1].split()[:2] == ["fakturering", "0042"]
    at_terminal = demo("list", "--fields", "state,service", tty=Tty()).stdout
    assert "state" in at_terminal and "company" not in at_terminal


@sqlite_only  # the selection of fields of rows already read
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
@sqlite_only  # fields are refused before the database is read
def test_an_unknown_field_gets_a_did_you_mean(
    demo: CLI, command: tuple[str, ...], typo: str, meant: str
) -> None:
    run = demo(*command, "--fields", f"{meant},{typo}", "--format", "json")
    error = error_of(run, "invalid-input", 2)
    assert typo in error["message"] and f"did you mean {meant!r}?" in error["hint"]
    assert "Traceback" not in run.output


@sqlite_only  # fields are refused before the database is read
def test_no_field_at_all_is_invalid(demo: CLI) -> None:
    error_of(demo("list", "--fields", " , ", "--format", "json"), "invalid-input", 2)


@sqlite_only  # fields are refused before the database is read
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


# -- scheduled ends: schedule list and schedule run ---------------------------------------

END_1001 = ("end", "1001", "--service", "eekonomi", "--outcome", "continue", "--by", "office")
#: after the day the tests schedule for (2099-12-31): everything scheduled is due
LATE = datetime(2100, 1, 2, tzinfo=UTC)


def _schedule(cli: CLI, *end: str) -> dict[str, Any]:
    run = cli(*end, "--at", "2099-12-31", "--yes", "--format", "json")
    assert run.exit_code == 0, run.stderr
    return run.json()  # type: ignore[no-any-return]


def _runs_late(monkeypatch: pytest.MonkeyPatch) -> None:
    """`schedule run` in this process sees the clock at LATE."""
    from collabctl.operations import schedule_run

    original = schedule_run.run_due

    def run_due(db: Any, ctx: Any, *, now: datetime, **kwargs: Any) -> Any:
        return original(db, ctx, now=LATE, **kwargs)

    monkeypatch.setattr(schedule_run, "run_due", run_due)


@sqlite_only  # the selection of fields of rows already read
def test_fields_of_schedule_list(demo: CLI) -> None:
    scheduled = _schedule(demo, *END_1001)
    flags = ("schedule", "list", "--fields", "service,id")
    assert demo(*flags, "--format", "json").json() == [
        {"service": "eekonomi", "id": scheduled["id"]}
    ]
    assert demo(*flags, "--format", "csv").stdout.splitlines() == [
        "service,id",
        f"eekonomi,{scheduled['id']}",
    ]
    assert demo(*flags).stdout.splitlines()[0].split() == ["service", "id"]


def test_fields_of_schedule_run_and_of_the_failed_ends_it_leaves(
    demo: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fine = _schedule(demo, *END_1001)
    # by the customer, who has no main contact for 1002: the run fails it
    no_contact = _schedule(demo, "end", "1002", "-s", "eekonomi", "-o", "continue", "--by",
                           "customer")  # fmt: skip
    _runs_late(monkeypatch)
    run = demo("schedule", "run", "--fields", "id,status", "--format", "jsonl")
    assert run.exit_code == 4, run.stderr
    assert sorted(run.jsonl(), key=lambda r: r["id"]) == sorted(
        [{"id": fine["id"], "status": "done"}, {"id": no_contact["id"], "status": "failed"}],
        key=lambda r: r["id"],
    )
    # a table shows the error as "code: message", machine formats the error object
    flags = ("schedule", "list", "--state", "failed", "--fields", "error,id")
    [failed] = demo(*flags, "--format", "json").json()
    assert failed["id"] == no_contact["id"] and failed["error"]["code"] == "main-contact-missing"
    table = demo(*flags).stdout.splitlines()
    assert table[0].split() == ["error", "id"]
    assert table[1].startswith(f"main-contact-missing: {failed['error']['message'][:20]}")
    assert table[1].split()[-1] == str(no_contact["id"])


@pytest.mark.parametrize(
    ("command", "typo", "meant"),
    [
        (("schedule", "list"), "stat", "state"),
        (("schedule", "run"), "stauts", "status"),
    ],
)
@sqlite_only  # fields are refused before the database is read
def test_an_unknown_field_of_a_scheduled_end_gets_a_did_you_mean(
    demo: CLI, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...], typo: str, meant: str
) -> None:
    scheduled = _schedule(demo, *END_1001)
    _runs_late(monkeypatch)  # due: a run would end it
    run = demo(*command, "--fields", f"id,{typo}", "--format", "json")
    error = error_of(run, "invalid-input", 2)
    assert typo in error["message"] and f"did you mean {meant!r}?" in error["hint"]
    # refused before anything was performed
    [still] = demo("schedule", "list", "--format", "json").json()
    assert (still["id"], still["state"]) == (scheduled["id"], "scheduled")


@sqlite_only  # fields are refused before the database is read
def test_schedule_run_checks_the_fields_with_nothing_due(demo: CLI) -> None:
    _schedule(demo, *END_1001)  # due in 2099 only
    nothing = demo("schedule", "run", "--fields", "id,status", "--format", "json")
    assert nothing.exit_code == 0, nothing.stderr
    assert nothing.json() == []
    refused = demo("schedule", "run", "--fields", "id,stauts", "--format", "json")
    error = error_of(refused, "invalid-input", 2)
    assert "did you mean 'status'?" in error["hint"]
    error_of(demo("schedule", "run", "--fields", "stauts", "--format", "jsonl"), "invalid-input", 2)
