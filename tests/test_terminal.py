"""collabctl at a real terminal (a pseudo-terminal, read through the pyte terminal emulator):
colour only where it belongs, tables that fit 80 columns with every key value whole,
plain lines in a pipe, and a pager for long output (SPEC §7.1, issue 10's "Seen")."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from helpers import COLLABCTL, Tty, invoke, ok, run_process
from screens import WAIT_S, at_terminal, calls, pager

__all__ = ["pager"]

BOX = re.compile("[│┃━─╭╮╰╯┏┓┗┛┡┩└┘├┤┼…]")


def whole(value: str, text: str) -> bool:
    """``value`` stands whole in ``text``, never cut or split over two lines."""
    return re.search(rf"(?<![\w.@-]){re.escape(value)}(?![\w.@-])", text) is not None


@pytest.fixture
def demo_data() -> None:
    assert invoke("demo").exit_code == 0
    ended = invoke("end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "customer",
                   "--reason", "moving to another bureau", "--yes")  # fmt: skip
    assert ended.exit_code == 0, ended.output


# -- colour ----------------------------------------------------------------------------

DRY_RUN = ("end", "1001", "-s", "fakturering", "-o", "delete", "--by", "office", "--dry-run")
COMMANDS = [DRY_RUN, ("list", "--state", "all"), ("show", "1001"), ("log",), ("show", "9999")]


#: the ways of turning colour off: (options, environment)
NO_COLOUR = [
    ((), {"NO_COLOR": "1"}),
    (("--color", "never"), {}),
    ((), {"COLLABCTL_COLOR": "never"}),
]
#: what ``at_terminal`` gives collabctl, for a run in this process
AT_TERMINAL: dict[str, str | None] = {"TERM": "xterm-256color", "NO_COLOR": None}
AT_TERMINAL.update(COLLABCTL_COLOR=None, PAGER=None, COLLABCTL_PAGER=None, LESS=None)
#: streams that claim to be a terminal, with colour as collabctl decides it at one
TERMINAL = Tty(color="auto")


@pytest.mark.usefixtures("demo_data")
def test_no_escape_code_at_all_without_colour() -> None:
    # one way of turning colour off at a real terminal; then each way, every command in
    # this process, whose streams claim to be a terminal (what the colour decision reads)
    for command in COMMANDS:
        screen = at_terminal(*command, env={"NO_COLOR": "1"})
        assert "\x1b" not in screen.raw, (command, screen.raw)
        assert screen.lines, command
    assert (
        at_terminal("show", "9999", env={"NO_COLOR": "1"})
        .lines[0]
        .startswith("error[not-found]: customer 9999")
    )
    # the same claim with colour left on is coloured: the checks below can see colour
    assert "\x1b[" in invoke("show", "1001", env=AT_TERMINAL, tty=TERMINAL).stdout
    for options, extra in NO_COLOUR:
        env = {**AT_TERMINAL, **extra}
        for command in COMMANDS:
            run = invoke(*options, *command, env=env, tty=TERMINAL)
            assert "\x1b" not in run.output, (options, extra, command, run.output)
            assert run.output.strip(), command
        refused = invoke(*options, "show", "9999", env=env, tty=TERMINAL)
        assert refused.stderr.startswith("error[not-found]: customer 9999"), refused.stderr


@pytest.mark.usefixtures("demo_data")
def test_colour_on_a_terminal_and_error_lines_coloured() -> None:
    shown = at_terminal("show", "1001")
    assert "\x1b[" in shown.raw
    # NO_COLOR counts only when it is set to something (no-color.org)
    assert "\x1b[" in at_terminal("show", "1001", env={"NO_COLOR": ""}).raw
    failed = at_terminal("show", "9999")
    assert failed.status == 1
    assert re.search(r"\x1b\[[0-9;]*31m\s*error\[not-found\]", failed.raw), failed.raw
    assert failed.lines[0].startswith("error[not-found]")


@pytest.mark.usefixtures("demo_data")
def test_never_colour_in_a_pipe_unless_asked() -> None:
    # one real pipe; the rest in this process, whose captured streams are no terminal either
    piped = run_process("show", "9999")
    assert "\x1b" not in piped.output
    forced = invoke("--color", "always", "show", "9999", env={"NO_COLOR": "1"})
    assert "\x1b[" in forced.stderr  # --color always wins over NO_COLOR and the pipe
    assert "error[not-found]" in forced.stderr
    from_env = invoke("show", "9999", env={"COLLABCTL_COLOR": "always"})
    assert "\x1b[" in from_env.stderr  # the same from the environment
    table = invoke("--color", "always", "list")
    assert table.stdout.startswith("\x1b[1mcustomer")  # the header in bold, the rows as data
    assert "\x1b" not in table.stdout.split("\n", 1)[1]
    assert "\x1b" not in invoke("list").stdout


# -- 80 columns: every key value whole ----------------------------------------------------


@pytest.mark.usefixtures("demo_data")
def test_list_at_80_columns_shows_every_key_value_whole() -> None:
    rows = ok(invoke("list", "--state", "all", "--format", "json"))
    screen = at_terminal("list", "--state", "all")
    assert screen.status == 0
    assert all(len(line) <= 80 for line in screen.lines)
    assert not BOX.search(screen.text)
    text = screen.text
    starts = [line for line in screen.lines if re.match(r"\d{4} ", line)]
    assert len(starts) == len(rows)  # one first line per collaboration, wrapped names after
    for r, line in zip(rows, starts, strict=True):
        for key in ("customer_number", "service", "office_org_number", "state"):
            assert whole(r[key], line), (key, r[key], line)
        if r["ended_at"]:
            assert whole(r["ended_at"][:10], line) and whole(r["outcome"], line), line
    # what did not fit is named, with the way to see it
    joined = " ".join(text.split())
    assert "not shown at 80 columns:" in joined
    assert "--format csv or json, or in a wider terminal" in joined
    # in a wide terminal nothing is left out
    wide = at_terminal("list", "--state", "all", columns=200)
    assert "not shown" not in wide.text
    assert all(whole(r["office_name"].split()[0], wide.text) for r in rows)


@pytest.mark.usefixtures("demo_data")
def test_show_at_80_columns_shows_every_email_and_org_number_whole() -> None:
    company = ok(invoke("show", "1001", "--format", "json"))
    screen = at_terminal("show", "1001")
    assert screen.status == 0
    assert all(len(line) <= 80 for line in screen.lines)
    assert not BOX.search(screen.text)
    text = screen.text
    assert whole(company["org_number"], text)
    for user in company["users"]:
        assert whole(user["email"], text), user["email"]
        assert whole(user["role"], text)
    for c in company["collaborations"]:
        assert whole(c["office_org_number"], text)
        assert whole(c["service"], text)
        assert whole(c["started_at"][:10], text)
    for a in company["access"]:
        assert whole(a["party"], text)


@pytest.mark.usefixtures("demo_data")
def test_log_at_80_columns_shows_keys_whole_and_details_as_text_not_json() -> None:
    events = ok(invoke("log", "--format", "json"))
    screen = at_terminal("log")
    assert screen.status == 0
    assert all(len(line) <= 80 for line in screen.lines)
    text = screen.text
    starts = [line for line in screen.lines if re.match(r"\d+ +\d{4}-\d\d-\d\d ", line)]
    assert [int(line.split()[0]) for line in starts] == [e["id"] for e in events]  # newest first
    for e, line in zip(events, starts, strict=True):
        assert whole(e["at"][:16].replace("T", " "), line)
        assert whole(e["action"], line)
        if e["customer_number"]:
            assert whole(e["customer_number"], line)
    assert '{"' not in text and '":' not in text  # no raw JSON
    assert "outcome: continue" in text
    assert "reason: moving to another bureau" in text


# -- in a pipe: plain lines -----------------------------------------------------------


@pytest.mark.usefixtures("demo_data")
def test_list_piped_is_plain_aligned_lines_without_boxes_or_cuts() -> None:
    rows = ok(invoke("list", "--state", "all", "--format", "json"))
    piped = run_process("list", "--state", "all")
    assert piped.exit_code == 0
    assert "\x1b" not in piped.stdout
    assert not BOX.search(piped.stdout)
    header, *lines = piped.stdout.splitlines()
    assert len(lines) == len(rows)  # one row a line
    assert header.split()[:3] == ["customer", "company", "service"]
    for r, line in zip(rows, lines, strict=True):
        for key in ("customer_number", "company_name", "office_name", "office_org_number"):
            assert r[key] in line
        assert line.index(r["service"]) == header.index("service")  # aligned
    assert max(len(line) for line in lines) > 80  # nothing cut to fit a width


@pytest.mark.usefixtures("demo_data")
def test_piped_output_at_a_terminal_is_plain_too() -> None:
    """``collabctl list | cat`` typed at a terminal: stderr is the terminal, stdout a pipe."""
    screen = at_terminal("list", "--state", "all", columns=200)
    piped = subprocess.run(
        ["/bin/sh", "-c", 'exec "$@" | cat', "sh", *COLLABCTL, "list", "--state", "all"],
        capture_output=True,
        text=True,
        check=True,
        timeout=WAIT_S,
    )
    assert not BOX.search(piped.stdout)
    assert len(piped.stdout.splitlines()) == len(screen.lines)


# -- the pager ---------------------------------------------------------------------------


@pytest.mark.usefixtures("demo_data")
def test_long_output_on_a_terminal_goes_through_the_pager(pager: Path) -> None:
    env = {"COLLABCTL_PAGER": str(pager)}
    screen = at_terminal("log", rows=12, env=env)
    assert screen.status == 0
    assert calls(pager) == 1
    assert "1001" in screen.raw  # what the pager was given reached the screen

    # short output is written straight to the terminal
    assert at_terminal("list", "--customer", "0042", rows=12, env=env).status == 0
    assert calls(pager) == 1
    # --no-pager and a pipe bypass it
    assert at_terminal("--no-pager", "log", rows=12, env=env).status == 0
    assert calls(pager) == 1
    piped = run_process("log", env=env)
    assert piped.exit_code == 0 and "import" in piped.stdout
    assert calls(pager) == 1


@pytest.mark.usefixtures("demo_data")
def test_pager_order_collabctl_pager_then_pager(pager: Path) -> None:
    at_terminal("log", rows=12, env={"PAGER": str(pager)})
    assert calls(pager) == 1
    at_terminal("log", rows=12, env={"PAGER": str(pager), "COLLABCTL_PAGER": "cat"})
    assert calls(pager) == 1  # COLLABCTL_PAGER wins; cat means no pager


@pytest.mark.usefixtures("demo_data")
def test_the_default_pager_is_less_with_its_flags(tmp_path: Path) -> None:
    # a `less` first on PATH that notes how it was called and shows its input
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    noted = tmp_path / "less-args"
    less = bin_dir / "less"
    less.write_text(f'#!/bin/sh\necho "$* LESS=$LESS" >> "{noted}"\nexec cat\n', "utf-8")
    less.chmod(0o755)
    path = f"{bin_dir}:{os.environ['PATH']}"
    assert at_terminal("log", rows=12, env={"PATH": path}).status == 0
    assert noted.read_text().splitlines() == ["-FRX LESS=FRX"]
    # PAGER=less alone gets the same behaviour through LESS, as git does
    assert at_terminal("log", rows=12, env={"PATH": path, "PAGER": "less"}).status == 0
    assert noted.read_text().splitlines()[1] == " LESS=FRX"


@pytest.mark.usefixtures("demo_data")
def test_a_pager_that_stops_reading_ends_the_command_quietly() -> None:
    screen = at_terminal("log", rows=8, env={"COLLABCTL_PAGER": "head -3"})
    assert screen.status == 0, screen.text
    assert len([line for line in screen.lines if line]) == 3
    assert "error" not in screen.text and "Traceback" not in screen.raw


@pytest.mark.usefixtures("demo_data")
def test_quitting_less_early_ends_quietly() -> None:
    import pexpect

    environ = {**os.environ, "TERM": "xterm", "COLUMNS": "80", "LINES": "8"}
    for name in ("PAGER", "COLLABCTL_PAGER", "LESS"):
        environ.pop(name, None)
    child = pexpect.spawn(
        COLLABCTL[0], [*COLLABCTL[1:], "log"], env=environ, dimensions=(8, 80),
        encoding="utf-8", timeout=WAIT_S,
    )  # fmt: skip
    child.expect("outcome: continue")  # less shows the first screen: the newest events
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Traceback" not in (child.before or "")
