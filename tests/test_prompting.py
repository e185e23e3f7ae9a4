"""When collabctl may prompt, and what it does when it may not.

It prompts only when stdin and stdout are terminals and --no-input
(COLLABCTL_NO_INPUT=1) is not set. Otherwise a missing answer is a usage error
(exit 2) that names the flag to pass, and nothing changes.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from collabctl.cli.env import Environment
from helpers import ANSI, CLI, Terminal, Tty, invoke, sqlite_only, terminal_env

WAIT_S = 20


def active_services(cli: CLI, customer: str) -> list[str]:
    result = cli("list", "--customer", customer, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return [row["service"] for row in result.json()]


# -- missing answers without a terminal ---------------------------------------------

END_1001 = ("end", "1001", "--service", "eekonomi")


MISSING_FLAGS = {
    "customer": (("end",), "CUSTOMER"),
    "service": (("end", "1001"), "--service"),
    "service-with-the-rest": (
        ("end", "1001", "--outcome", "continue", "--by", "office", "--yes"),
        "--service",
    ),
    "by": ((*END_1001, "--outcome", "continue", "--yes"), "--by"),
    "outcome": ((*END_1001, "--by", "customer", "--yes"), "--outcome"),
    "yes": ((*END_1001, "--by", "customer", "--outcome", "continue"), "--yes"),
}


# usage errors the flags decide: one after the checks on both backends, the others on SQLite
@pytest.mark.parametrize(
    ("backend", "args", "flag"),
    [
        pytest.param("postgres", *MISSING_FLAGS["by"], id="postgres-by"),
        *(
            pytest.param("sqlite", *case, id=f"sqlite-{name}")
            for name, case in MISSING_FLAGS.items()
        ),
    ],
    indirect=["backend"],
)
def test_end_without_a_terminal_names_the_missing_flag(
    demo: CLI, args: tuple[str, ...], flag: str
) -> None:
    result = demo(*args)
    assert result.exit_code == 2, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("error[invalid-input]: ")
    assert flag in first
    assert "hint: " in result.stderr
    assert result.stdout == ""
    assert active_services(demo, "1001") == ["eekonomi", "fakturering", "utlagg"]


@sqlite_only  # a usage error: the flags decide it, not the database
def test_the_missing_flag_is_also_reported_as_json(demo: CLI) -> None:
    result = demo(*END_1001, "--outcome", "continue", "--yes", "--format", "json")
    assert result.exit_code == 2
    error = result.json()["error"]
    assert error["code"] == "invalid-input"
    assert "--by" in error["message"]
    assert "--by customer" in error["hint"]


def test_the_missing_flags_are_asked_in_the_order_of_the_checks(demo: CLI) -> None:
    # 1002 has no main contact, but --by is asked for first: the party check comes first
    result = demo("end", "1002", "--service", "eekonomi", "--yes")
    assert result.exit_code == 2
    assert "--by" in result.stderr.splitlines()[0]
    # with --by given, the rule that refuses comes before the missing --outcome
    result = demo("end", "1002", "--service", "eekonomi", "--by", "office", "--yes")
    assert result.exit_code == 1
    assert result.stderr.startswith("error[main-contact-missing]")


def test_a_dry_run_needs_no_yes_and_no_outcome(demo: CLI) -> None:
    result = demo(*END_1001, "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.stderr
    preflight = result.json()
    assert preflight["ok"] is True
    assert preflight["outcome"] is None
    assert active_services(demo, "1001") == ["eekonomi", "fakturering", "utlagg"]


def test_acting_as_a_party_says_who_ends_it(demo: CLI) -> None:
    result = demo(
        "--as",
        "office:556677-8899",
        *END_1001,
        "--outcome",
        "continue",
        "--yes",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    assert result.json()["ended_by"] == "office"


def test_everything_given_ends_without_a_terminal(demo: CLI) -> None:
    result = demo(*END_1001, "--by", "customer", "--outcome", "continue", "--yes")
    assert result.exit_code == 0, result.stderr
    assert active_services(demo, "1001") == ["fakturering", "utlagg"]


@sqlite_only  # a usage error: the flags decide it, not the database
def test_set_main_contact_without_a_terminal_needs_user(demo: CLI) -> None:
    result = demo("set-main-contact", "1002")
    assert result.exit_code == 2
    assert result.stderr.startswith("error[invalid-input]: ")
    assert "--user" in result.stderr.splitlines()[0]
    assert "collabctl set-main-contact 1002 --user EMAIL" in result.stderr
    company = demo("show", "1002", "--format", "json").json()
    assert company["main_contact"] is None


# -- the Environment decides once -----------------------------------------------------


@pytest.mark.parametrize(
    ("stdin_tty", "stdout_tty", "no_input", "can_prompt"),
    [
        (True, True, False, True),
        (False, True, False, False),
        (True, False, False, False),
        (False, False, False, False),
        (True, True, True, False),
    ],
)
def test_can_prompt_needs_both_terminals_and_input_allowed(
    stdin_tty: bool, stdout_tty: bool, no_input: bool, can_prompt: bool
) -> None:
    env = Environment(stdin_tty=stdin_tty, stdout_tty=stdout_tty, no_input=no_input)
    assert env.can_prompt is can_prompt


@pytest.fixture
def terminal() -> Iterator[tuple[io.TextIOWrapper, io.TextIOWrapper]]:
    """A real pseudo-terminal: the same device for reading and for writing."""
    primary, secondary = os.openpty()
    reader = open(secondary, encoding="utf-8", closefd=False)  # noqa: SIM115
    writer = open(secondary, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    try:
        yield reader, writer
    finally:
        reader.close()
        writer.close()
        os.close(secondary)
        os.close(primary)


@pytest.fixture
def pipe() -> Iterator[tuple[io.TextIOWrapper, io.TextIOWrapper]]:
    read_fd, write_fd = os.pipe()
    reader = open(read_fd, encoding="utf-8")  # noqa: SIM115
    writer = open(write_fd, "w", encoding="utf-8")  # noqa: SIM115
    try:
        yield reader, writer
    finally:
        reader.close()
        writer.close()


@pytest.mark.parametrize(
    ("stdin_from", "stdout_to", "can_prompt"),
    [
        ("terminal", "terminal", True),
        ("pipe", "terminal", False),
        ("terminal", "pipe", False),
        ("pipe", "pipe", False),
    ],
)
def test_detect_looks_at_the_real_streams(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    stdin_from: str,
    stdout_to: str,
    can_prompt: bool,
) -> None:
    monkeypatch.setattr(sys, "stdin", request.getfixturevalue(stdin_from)[0])
    monkeypatch.setattr(sys, "stdout", request.getfixturevalue(stdout_to)[1])
    env = Environment.detect()
    assert env.stdin_tty is (stdin_from == "terminal")
    assert env.stdout_tty is (stdout_to == "terminal")
    assert env.can_prompt is can_prompt


@pytest.mark.parametrize(("value", "can_prompt"), [("1", False), ("0", True), ("", True)])
def test_detect_reads_collabctl_no_input(
    terminal: tuple[io.TextIOWrapper, io.TextIOWrapper],
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    can_prompt: bool,
) -> None:
    monkeypatch.setattr(sys, "stdin", terminal[0])
    monkeypatch.setattr(sys, "stdout", terminal[1])
    monkeypatch.setenv("COLLABCTL_NO_INPUT", value)
    assert Environment.detect().can_prompt is can_prompt
    assert Environment.detect(no_input=True).can_prompt is False


def test_a_closed_or_odd_stream_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stdin", closed)
    monkeypatch.setattr(sys, "stdout", object())
    env = Environment.detect()
    assert (env.stdin_tty, env.stdout_tty, env.can_prompt) == (False, False, False)


# -- a terminal, but no prompt ----------------------------------------------------------

#: how questionary draws a question: "? " at the start of a line, after any escapes
QUESTION = re.compile(r"(?m)^(?:\x1b\[[0-?]*[ -/]*[@-~])*\? ")


@pytest.fixture
def demo_data() -> None:
    """The demo data in the embedded database (these tests need no second backend)."""
    result = invoke("demo")
    assert result.exit_code == 0, result.stderr


@pytest.mark.usefixtures("demo_data")
@pytest.mark.parametrize(
    ("argv", "env", "flag"),
    [
        (["--no-input", "end", "1001"], {}, "--service"),
        (["--no-input", "end"], {}, "CUSTOMER"),
        (["end", "1001", "--service", "eekonomi"], {"COLLABCTL_NO_INPUT": "1"}, "--by"),
        (["--no-input", "set-main-contact", "1002"], {}, "--user"),
    ],
    ids=["option", "option-no-customer", "environment", "set-main-contact"],
)
def test_no_input_never_prompts_in_a_terminal(
    cli_tty: CLI, argv: list[str], env: dict[str, str], flag: str
) -> None:
    result = cli_tty(*argv, env=env)
    assert result.exit_code == 2, result.output
    stderr = ANSI.sub("", result.stderr)  # a terminal may be shown colours
    assert stderr.startswith("error[invalid-input]: ")
    assert flag in stderr.splitlines()[0]
    assert not QUESTION.search(result.output), result.output
    assert active_services(invoke, "1001") == ["eekonomi", "fakturering", "utlagg"]


@pytest.mark.usefixtures("demo_data")
@pytest.mark.parametrize(
    "tty",
    [Tty(stdin=False), Tty(stdout=False), Tty(stdin=False, stdout=False, stderr=False)],
    ids=["stdin-not-a-terminal", "stdout-not-a-terminal", "no-terminal"],
)
def test_half_a_terminal_is_not_enough_to_prompt(cli_tty: CLI, tty: Tty) -> None:
    result = cli_tty("end", "1001", tty=tty)
    assert result.exit_code == 2, result.output
    assert "--service" in ANSI.sub("", result.stderr).splitlines()[0]
    assert not QUESTION.search(result.output), result.output
    assert result.stdout == ""


def test_no_input_never_prompts_in_a_real_terminal(demo_data: None) -> None:
    """The same, end to end: a pseudo-terminal, and COLLABCTL_NO_INPUT read by the program."""
    term = Terminal("end", "1001", "--service", "eekonomi", env={"COLLABCTL_NO_INPUT": "1"})
    code = term.finish()  # fails if it waits for an answer
    assert code == 2, term.text
    assert "error[invalid-input]" in term.text
    assert "--by" in term.text
    assert not QUESTION.search(term.text), term.text


def test_without_a_terminal_the_prompt_library_is_never_loaded(demo_data: None) -> None:
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('questionary' in sys.modules, file=sys.stderr))\n"
        "from collabctl.cli.app import main\n"
        "sys.argv = sys.argv[1:]\n"
        "main()\n"
    )
    for args in (["end", "1001", "--service", "eekonomi"], ["set-main-contact", "1002"]):
        result = subprocess.run(
            [sys.executable, "-c", probe, "collabctl", *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=WAIT_S,
            env=terminal_env(),
        )
        assert result.returncode == 2, result.stderr
        assert "error[invalid-input]" in result.stderr
        assert result.stderr.splitlines()[-1] == "False"
