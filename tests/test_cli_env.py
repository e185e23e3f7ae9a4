"""The Environment a test hands to the app: terminal or not, prompting or not, in-process."""

from __future__ import annotations

import io
from typing import cast

import pytest
from typer.testing import CliRunner

from collabctl.cli.app import app
from collabctl.cli.env import Environment
from conftest import CLI
from helpers import error_of, invoke, sqlite_only

RUNNER = CliRunner()


def written(stream: object) -> str:
    return cast(io.StringIO, stream).getvalue()


@sqlite_only  # the environment and the flags decide it, not the database
def test_the_injected_environment_carries_the_output(demo: CLI) -> None:
    env = Environment.for_test()
    result = RUNNER.invoke(app, ["list", "--format", "jsonl"], obj=env, catch_exceptions=False)
    assert result.exit_code == 0, written(env.stderr)
    assert result.stdout == ""  # everything went to the injected streams
    rows = [line for line in written(env.stdout).splitlines() if line]
    assert len(rows) > 1
    assert any('"customer_number":"1001"' in row for row in rows)


@sqlite_only  # the environment and the flags decide it, not the database
def test_without_a_terminal_a_missing_answer_names_the_flag(demo: CLI) -> None:
    env = Environment.for_test(tty=False)
    result = RUNNER.invoke(app, ["set-main-contact", "1002"], obj=env, catch_exceptions=False)
    assert result.exit_code == 2
    assert written(env.stderr).startswith("error[invalid-input]: which user? --user is required")


@sqlite_only  # the environment and the flags decide it, not the database
def test_no_input_is_honoured_with_an_injected_terminal(demo: CLI) -> None:
    env = Environment.for_test(tty=True)
    assert env.can_prompt
    result = RUNNER.invoke(
        app, ["--no-input", "set-main-contact", "1002"], obj=env, catch_exceptions=False
    )
    assert result.exit_code == 2
    assert not env.can_prompt
    assert "--user is required" in written(env.stderr)


@sqlite_only  # the environment and the flags decide it, not the database
def test_a_terminal_reads_the_file_from_standard_input(demo: CLI) -> None:
    env = Environment.for_test('{"office": {"org_number": "556677-8899", "name": "Ny AB"}}\n')
    result = RUNNER.invoke(app, ["import", "-"], obj=env, catch_exceptions=False)
    assert result.exit_code == 0, written(env.stderr)
    assert "1 changed" in written(env.stderr)


@pytest.mark.parametrize("actor", ["", "   "], ids=["empty", "blank"])
def test_an_empty_actor_is_invalid_input(actor: str) -> None:
    result = invoke("--actor", actor, "list", "--format", "json")
    error = error_of(result, "invalid-input", 2)
    assert "--actor" in error["message"]
    assert "--actor NAME" in error["hint"]


def test_an_empty_actor_from_the_environment_is_invalid_input() -> None:
    result = invoke("show", "1001", env={"COLLABCTL_ACTOR": " "})
    assert result.exit_code == 2
    assert result.stderr.startswith("error[invalid-input]: --actor (or COLLABCTL_ACTOR) is empty")
    assert "hint: " in result.stderr


END_1001 = ("end", "1001", "--service", "eekonomi", "--outcome", "deactivate", "--by", "office")


# refused before the database is read: one case on both backends, the others on SQLite
@pytest.mark.parametrize(
    ("backend", "actor"),
    [
        pytest.param("sqlite", "agent\x00root", id="sqlite-nul"),
        pytest.param("postgres", "agent\x00root", id="postgres-nul"),
        pytest.param("sqlite", "agent\udcff", id="sqlite-lone-surrogate"),
        pytest.param("sqlite", "a" * 201, id="sqlite-too-long"),
    ],
    indirect=["backend"],
)
def test_an_actor_the_audit_log_cannot_store_is_refused_before_any_change(
    demo: CLI, actor: str
) -> None:
    before = demo("log", "--format", "json").json()
    result = demo("--actor", actor, *END_1001, "--yes", "--format", "json")
    error = error_of(result, "invalid-input", 2)
    assert error["message"].startswith("--actor (or COLLABCTL_ACTOR): ")
    assert "leave it out to record your login name" in error["hint"]
    assert demo("log", "--format", "json").json() == before
    assert "eekonomi" in {
        r["service"] for r in demo("list", "--customer", "1001", "--format", "json").json()
    }


def test_bytes_that_are_not_utf8_in_collabctl_actor_are_refused() -> None:
    from helpers import run_process

    # the process's environment holds the bytes ED A0 80 (a UTF-8 encoded surrogate)
    result = run_process(
        "list", "--format", "json", env={"COLLABCTL_ACTOR": "x\udced\udca0\udc80y"}
    )
    error = error_of(result, "invalid-input", 2)
    assert "not UTF-8" in error["message"]
    assert "Traceback" not in result.stderr


def test_an_actor_is_recorded_without_surrounding_blanks_and_control_text_stays_data(
    demo: CLI,
) -> None:
    result = demo("--actor", "  Anna \x1b[31mAgent  ", *END_1001, "--yes")
    assert result.exit_code == 0, result.stderr
    event = demo("log", "--customer", "1001", "--format", "json").json()[0]
    assert event["action"] == "end"
    assert event["actor"] == "Anna \x1b[31mAgent"
    table = demo("log", "--customer", "1001").stdout
    assert "\x1b" not in table
    assert "Anna" in table


def test_without_actor_the_audit_log_records_the_login_name(
    demo: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass

    monkeypatch.delenv("COLLABCTL_ACTOR")
    assert demo(*END_1001, "--yes").exit_code == 0
    event = demo("log", "--customer", "1001", "--format", "json").json()[0]
    assert (event["action"], event["actor"]) == ("end", getpass.getuser())
