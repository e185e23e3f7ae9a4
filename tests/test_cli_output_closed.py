"""Standard output closed (``>&-``) or its reader gone (``| true``, ``| head``): every
command stops at the first write that fails and exits 141, silently; a bulk end
says on stderr how far it got. Real processes: this is about file descriptors (the data
they work on is loaded and read back in this process)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from helpers import COLLABCTL, PROCESS_TIMEOUT_S, Run, invoke

OUTPUT_CLOSED = 141
COMMAND = shlex.join(COLLABCTL)


def in_shell(script: str, input: str = "") -> Run:
    """``bash -c SCRIPT`` with ``$COLLABCTL`` the command; its exit code is the script's."""
    result = subprocess.run(
        ["bash", "-c", script],
        input=input,
        capture_output=True,
        text=True,
        env={**os.environ, "COLLABCTL": COMMAND},
        timeout=PROCESS_TIMEOUT_S,
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def without_reader(*args: str) -> Run:
    """collabctl writing into a pipe whose reader has already gone, as in ``| true``
    when ``true`` exits first (always, here: the read end is closed before the start)."""
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [*COLLABCTL, *args],
            stdin=subprocess.DEVNULL,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=PROCESS_TIMEOUT_S,
            check=False,
        )
    finally:
        os.close(write)
    return Run(result.returncode, "", result.stderr)


@pytest.fixture
def demo_data() -> None:
    assert invoke("demo").exit_code == 0


def active(customer: str) -> list[str]:
    run = invoke("list", "--customer", customer, "--format", "json")
    assert run.exit_code == 0, run.stderr
    return [row["service"] for row in json.loads(run.stdout)]


@pytest.mark.parametrize(
    "args",
    [["list"], ["list", "--format", "jsonl"], ["list", "--format", "json"], ["show", "1001"]],
    ids=["list", "list-jsonl", "list-json", "show"],
)
def test_a_closed_stdout_exits_141_silently(demo_data: None, args: list[str]) -> None:
    run = in_shell(f'$COLLABCTL {shlex.join(args)} >&-; echo "exit $?" >&2')
    assert run.stderr == f"exit {OUTPUT_CLOSED}\n"


@pytest.mark.parametrize(
    "args",
    [["list"], ["list", "--format", "json"], ["--version"], ["--help"], ["log"]],
    ids=["list", "list-json", "version", "help", "log"],
)
def test_a_reader_that_went_away_exits_141_silently(demo_data: None, args: list[str]) -> None:
    run = without_reader(*args)
    assert (run.exit_code, run.stderr) == (OUTPUT_CLOSED, "")


def test_the_same_in_a_shell_pipeline(demo_data: None) -> None:
    # `true` exits at once; collabctl writes only after it has started and read the data
    run = in_shell('$COLLABCTL list | true; echo "exit ${PIPESTATUS[0]}" >&2')
    assert run.stderr == f"exit {OUTPUT_CLOSED}\n"
    run = in_shell('$COLLABCTL --version | true; echo "exit ${PIPESTATUS[0]}" >&2')
    assert run.stderr == f"exit {OUTPUT_CLOSED}\n"


def test_version_to_a_closed_stdout(demo_data: None) -> None:
    run = in_shell('$COLLABCTL --version >&-; echo "exit $?" >&2')
    assert run.stderr == f"exit {OUTPUT_CLOSED}\n"


def test_an_end_is_done_before_its_result_cannot_be_written(demo_data: None) -> None:
    run = in_shell(
        '$COLLABCTL end 1001 -s eekonomi -o continue --by customer --yes >&-; echo "exit $?" >&2'
    )
    assert run.stderr == f"exit {OUTPUT_CLOSED}\n"
    assert "eekonomi" not in active("1001")


def test_a_bulk_end_reports_on_stderr_what_it_committed(demo_data: None, tmp_path: Path) -> None:
    items = tmp_path / "items.txt"
    items.write_text("1001\n1003\n", encoding="utf-8")
    run = in_shell(
        f"$COLLABCTL end --from {items} -s utlagg -o continue --by office --yes >&-; "
        'echo "exit $?" >&2'
    )
    lines = run.stderr.splitlines()
    assert lines[-1] == f"exit {OUTPUT_CLOSED}"
    # both lines were committed in one batch before the first result was written
    assert "output closed: 2 items: 1 ended, 1 failed" in run.stderr
    assert "run the same input again" in run.stderr
    assert "error[internal]" not in run.stderr
    assert "Traceback" not in run.stderr
    assert "utlagg" not in active("1001")


def test_an_error_keeps_its_exit_code_when_stdout_is_closed(demo_data: None) -> None:
    run = in_shell('$COLLABCTL show 9999 --format json >&-; echo "exit $?" >&2')
    assert run.stderr.startswith("error[not-found]: customer 9999 does not exist\n")
    assert run.stderr.endswith("exit 1\n")


def test_nothing_else_is_written_on_the_database_descriptor(demo_data: None) -> None:
    # with fd 1 closed at start, the database file must not take its number: a write
    # meant for standard output would land in it
    run = in_shell("$COLLABCTL list --format jsonl >&-; $COLLABCTL list --format jsonl | wc -l")
    assert run.exit_code == 0, run.stderr
    assert int(run.stdout.strip()) > 1
