"""The parser's errors follow the error contract: ``error[invalid-input]``, a hint, the JSON
error on stdout with a machine format (wherever ``--format`` stands), exit 2, nothing
created or changed. Unknown words get a "did you mean"."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from collabctl.cli.app import app
from collabctl.cli.env import Environment
from helpers import CLI, Run, error_of, invoke, run_process, sqlite_only

#: (command line, the message, a part of the hint): each a usage error of the parser
PARSER_ERRORS: list[tuple[list[str], str, str]] = [
    (["start", "1001", "--service", "lon"], "missing option --office", "add --office ORG_NUMBER"),
    (["show"], "missing argument CUSTOMER", "collabctl show [OPTIONS] CUSTOMER"),
    (["show", "1001", "1002"], "unexpected argument: 1002", "see `collabctl show --help`"),
    (["list", "--stat", "all"], "unknown option --stat", "did you mean '--state'?"),
    (
        ["list", "--format", "yaml"],
        "--format: 'yaml' is not one of table, json, jsonl, csv",
        "see `collabctl list --help`",
    ),
    (
        ["list", "--format", "jsn"],
        "--format: 'jsn' is not one of table, json, jsonl, csv",
        "did you mean 'json'?",
    ),
    (
        ["list", "--state", "actve"],
        "--state: 'actve' is not allowed",
        "did you mean 'active'? use --state active, --state ended or --state all",
    ),
    (
        ["end", "1001", "-s", "eekonomi", "--by", "custmer", "--dry-run"],
        "--by: 'custmer' is not allowed",
        "did you mean 'customer'? use --by customer or --by office",
    ),
    (["lis"], "unknown command 'lis'", "did you mean `collabctl list`?"),
    (["user", "lst", "1001"], "unknown command 'lst'", "did you mean `collabctl user list`?"),
    (["--databse-url", "x", "list"], "unknown option --databse-url", "'--database-url'"),
    (["list", "--service"], "--service needs a value", "see `collabctl list --help`"),
]


def snapshot(cli: CLI) -> tuple[Any, Any]:
    listed = cli("list", "--state", "all", "--format", "json")
    log = cli("log", "--format", "json")
    assert listed.exit_code == log.exit_code == 0, (listed.stderr, log.stderr)
    return listed.json(), log.json()


def assert_usage_error(run: Run, text: str, hint: str) -> None:
    assert run.exit_code == 2, (run.stdout, run.stderr)
    lines = run.stderr.splitlines()
    assert lines[0] == f"error[invalid-input]: {text}", run.stderr
    assert lines[1].startswith("hint: ") and hint in run.stderr, run.stderr
    # Click's own wording never reaches the user
    for leak in ("Usage:", "Error:", "Try '", "Value error", "Traceback"):
        assert leak not in run.stderr, run.stderr


@pytest.mark.parametrize("args,text,hint", PARSER_ERRORS, ids=lambda v: str(v)[:40])
def test_a_parser_error_follows_the_contract_and_creates_nothing(
    args: list[str], text: str, hint: str, home: Path
) -> None:
    table = invoke(*args)
    assert_usage_error(table, text, hint)
    assert table.stdout == ""
    # a machine format, given after what the parser refused, still gets its JSON error
    # (unless the last word wants a value: the parser would take --format as that value)
    last_wants_value = args[-1].startswith("-")
    machine = None if "--format" in args or last_wants_value else invoke(*args, "-f", "json")
    if machine is not None:
        assert_usage_error(machine, text, hint)
        error = machine.json()["error"]
        assert error["code"] == "invalid-input"
        assert error["message"] == text
        assert hint in error["hint"]
    # refused while parsing: no database was even opened, let alone created
    assert not home.exists() or not any(home.rglob("*.db")), list(home.rglob("*"))


@sqlite_only  # refused while parsing: no SQL runs
def test_parser_errors_change_nothing(demo: CLI) -> None:
    before = snapshot(demo)
    for args, text, hint in PARSER_ERRORS:
        assert_usage_error(demo(*args), text, hint)
    assert snapshot(demo) == before


def test_the_format_is_found_wherever_it_stands() -> None:
    for args in (
        ["--format", "jsonl", "--bogus"],  # before the error
        ["--bogus", "-f", "jsonl"],  # after it, short
        ["--bogus", "--format=jsonl"],
        ["-fjsonl", "--bogus"],
    ):
        run = invoke("list", *args)
        assert run.exit_code == 2, (args, run.stderr)
        assert run.jsonl() == [
            {
                "error": {
                    "code": "invalid-input",
                    "message": "unknown option --bogus",
                    "hint": "see `collabctl list --help`",
                }
            }
        ], args


def test_a_format_that_is_no_format_writes_no_json() -> None:
    run = invoke("list", "--format", "yaml")
    assert run.exit_code == 2
    assert run.stdout == ""


def test_the_error_goes_to_the_injected_environment() -> None:
    env = Environment.for_test()
    result = CliRunner().invoke(app, ["start", "1001", "-s", "lon", "-f", "json"], obj=env)
    assert result.exit_code == 2
    assert env.stderr.getvalue().startswith("error[invalid-input]: missing option --office\n")  # type: ignore[attr-defined]
    document = json.loads(env.stdout.getvalue())  # type: ignore[attr-defined]
    assert document["error"]["message"] == "missing option --office"


def test_the_issue_example_in_a_real_process(home: Path) -> None:
    run = run_process("start", "1001", "--service", "lon", "--format", "json")
    assert run.exit_code == 2, run.stderr
    error = run.json()["error"]
    assert error == {
        "code": "invalid-input",
        "message": "missing option --office",
        "hint": "add --office ORG_NUMBER; see `collabctl start --help`",
    }
    assert run.stderr.splitlines()[0] == "error[invalid-input]: missing option --office"
    assert not home.exists() or not any(home.rglob("*.db"))


def test_a_password_typed_where_it_does_not_belong_is_hidden() -> None:
    run = invoke("list", "postgresql://agent:hunter2pw@db.example/collab", "--format", "json")
    assert run.exit_code == 2
    assert "hunter2pw" not in run.stdout + run.stderr
    assert "postgresql://agent:***@db.example/collab" in run.stderr


def test_no_command_still_prints_the_help() -> None:
    run = invoke()
    assert "Usage: collabctl [OPTIONS] COMMAND [ARGS]..." in run.output
    assert "error[" not in run.output


# -- did you mean -----------------------------------------------------------------------------


def test_an_unknown_outcome_is_a_usage_error_with_a_suggestion(demo: CLI) -> None:
    before = snapshot(demo)
    flags = ("-s", "eekonomi", "--by", "customer", "--format", "json")
    for extra in (("--yes",), ("--dry-run",)):
        error = error_of(demo("end", "1001", *flags, "-o", "continu", *extra), "invalid-input", 2)
        assert error["message"] == "--outcome: unknown outcome 'continu'"
        assert error["hint"].startswith("did you mean 'continue'?")
    # a known outcome the service does not allow stays the rule's refusal
    error = error_of(demo("end", "1001", *flags, "-o", "delete", "--yes"), "outcome-not-allowed")
    assert "continue, deactivate" in error["hint"]
    assert snapshot(demo) == before


def test_services_and_checklist_items_get_a_suggestion(demo: CLI) -> None:
    before = snapshot(demo)
    error = error_of(
        demo("end", "1001", "-s", "eekonmi", "-o", "continue", "--by", "office", "--dry-run",
             "--format", "json"),
        "invalid-input", 2,
    )  # fmt: skip
    assert error["message"] == "--service: unknown service 'eekonmi'"
    assert error["hint"].startswith("did you mean 'eekonomi'?")
    error = error_of(
        demo("end", "1005", "-s", "lon", "--by", "office", "-c", "data-synchronisd", "--dry-run",
             "--format", "json"),
        "invalid-input", 2,
    )  # fmt: skip
    assert error["hint"].startswith("did you mean 'data-synchronised'?")
    error = error_of(
        demo("start", "1002", "-s", "fakturing", "--office", "559123-4561", "--format", "json"),
        "invalid-input",
        2,
    )
    assert error["hint"].startswith("did you mean 'fakturering'?")
    assert snapshot(demo) == before


def test_a_bulk_item_with_an_unknown_outcome_fails_with_a_suggestion(demo: CLI) -> None:
    before = snapshot(demo)
    item = json.dumps({"customer_number": "1001", "service": "eekonomi", "outcome": "continu"})
    run = demo("end", "--from", "-", "--by", "customer", "--yes", "--format", "jsonl", input=item)
    assert run.exit_code == 4
    (result,) = run.jsonl()
    assert result["status"] == "failed"
    assert result["error"]["code"] == "invalid-input"
    assert result["error"]["hint"].startswith("did you mean 'continue'?")
    assert snapshot(demo) == before


CUSTOMER_COMMANDS = [
    ["show", "42"],
    ["export", "42", "-o", "out.json"],
    ["user", "list", "42"],
    ["start", "42", "-s", "eekonomi", "--office", "556677-8899"],
    ["end", "42", "-s", "fakturering", "-o", "continue", "--by", "customer", "--yes"],
    ["set-main-contact", "042", "--user", "kalle@cafehornet.se"],
]


# one look-up of the twin for every command: show and end on both backends, the others
# on SQLite
@pytest.mark.parametrize(
    ("backend", "args"),
    [
        *(pytest.param("sqlite", a, id="sqlite-" + " ".join(a[:2])) for a in CUSTOMER_COMMANDS),
        *(
            pytest.param("postgres", a, id="postgres-" + " ".join(a[:2]))
            for a in CUSTOMER_COMMANDS
            if a[0] in ("show", "end")
        ),
    ],
    indirect=["backend"],
)
def test_a_customer_number_without_its_leading_zeros_is_named(
    demo: CLI, args: list[str], tmp_path: Path
) -> None:
    before = snapshot(demo)
    error = error_of(demo(*args, "--format", "json"), "not-found")
    assert error["hint"].startswith("did you mean 0042 (Café Hörnet HB)?"), error
    table = demo(*args)
    assert "hint: did you mean 0042 (Café Hörnet HB)?" in table.stderr
    assert snapshot(demo) == before
    assert not (tmp_path / "out.json").exists()


def test_no_suggestion_for_a_number_that_exists_or_has_no_twin(demo: CLI) -> None:
    error = error_of(demo("show", "9999", "--format", "json"), "not-found")
    assert "did you mean" not in error["hint"]
    # 0042 exists: its own not-found (no such collaboration) suggests nothing
    error = error_of(
        demo("end", "0042", "-s", "lon", "-o", "handover", "--by", "office", "--yes",
             "--format", "json"),
        "not-found",
    )  # fmt: skip
    assert "did you mean" not in error["hint"]


def test_a_scope_is_never_told_of_a_company_it_cannot_see(demo: CLI) -> None:
    error = error_of(demo("--as", "customer:1001", "show", "42", "--format", "json"), "not-found")
    assert "0042" not in json.dumps(error)
    assert "Café" not in json.dumps(error)


# -- help ---------------------------------------------------------------------------------------


def all_help() -> dict[str, str]:
    from collabctl.cli.docgen import commands

    return {c.name: c.help for c in commands()}


def test_help_shows_names_not_types() -> None:
    for name, text in all_help().items():
        assert not re.search(r"<[\w|\[\]]+>", text), (name, text)  # <str>, <int>, <a|b>
        usage = text.splitlines()[0]
        assert "{" not in usage, (name, usage)


def test_every_option_named_service_has_s() -> None:
    import typer.main

    def walk(command: Any) -> Any:
        yield command
        for sub in getattr(command, "commands", {}).values():
            yield from walk(sub)

    found = 0
    for command in walk(typer.main.get_command(app)):
        for param in command.params:
            if "--service" in getattr(param, "opts", ()):
                assert "-s" in param.opts, command.name
                found += 1
    assert found >= 6


def test_root_help_summaries_are_whole() -> None:
    run = invoke("--help")
    commands = run.stdout.split("Commands:", 1)[1]
    assert "..." not in commands
    assert "Load offices, companies, users, subscriptions,\n" in commands or (
        "collaborations and records." in commands
    )


def test_every_command_has_examples() -> None:
    missing = [name for name, text in all_help().items() if "Examples:" not in text]
    assert missing == []
