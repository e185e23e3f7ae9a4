"""Messages wrap at word boundaries at any terminal width, and are never hard-wrapped in a
pipe (SPEC §8.4): at 60 columns no word of an error or hint is cut in two. The terminal is a
pseudo-terminal; what a pipe gets is read in this process, whose streams are no terminal."""

from __future__ import annotations

import re

import pytest

from helpers import invoke
from screens import at_terminal

NO_MAIN_CONTACT = ("end", "1002", "-s", "eekonomi", "-o", "deactivate", "--by", "office")


@pytest.fixture(autouse=True)
def demo_data() -> None:
    assert invoke("demo").exit_code == 0


def words_of(text: str) -> list[str]:
    return [w for w in re.split(r"\s+", text) if w]


def test_an_error_at_60_columns_breaks_between_words() -> None:
    piped = invoke(*NO_MAIN_CONTACT, "--yes")
    assert piped.exit_code == 1
    screen = at_terminal(*NO_MAIN_CONTACT, "--yes", columns=60, rows=40)
    assert screen.status == 1
    shown = [line for line in screen.lines if line.strip()]
    assert all(len(line) <= 60 for line in shown)
    # every word the pipe got whole is on one line of the screen, whole
    on_screen = {w for line in shown for w in words_of(line)}
    for word in words_of(piped.stderr):
        if len(word) <= 60:
            assert word in on_screen, (word, "\n".join(shown))
    hint = next(i for i, line in enumerate(shown) if line.startswith("hint: "))
    assert shown[hint + 1].startswith("      ")  # the hint's next line stands under its text


def test_in_a_pipe_lines_are_whole_whatever_the_width() -> None:
    run = invoke(*NO_MAIN_CONTACT, "--dry-run", env={"COLUMNS": "60"})
    lines = run.stderr.splitlines() + run.stdout.splitlines()
    hint = next(line for line in lines if line.startswith("hint: "))
    assert "set-main-contact 1002 --user lars@snickerinorr.se" in hint
    assert len(hint) > 60
    verdict = invoke("end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "office",
                     "--dry-run", env={"COLUMNS": "60"})  # fmt: skip
    would = next(line for line in verdict.stderr.splitlines() if line.startswith("would end"))
    assert would.endswith("run again with --yes") and len(would) > 150


def test_the_pre_flight_in_a_pipe_keeps_each_check_on_one_line() -> None:
    run = invoke("end", "1003", "-s", "utlagg", "-o", "delete", "--by", "office",
                 "--dry-run")  # fmt: skip
    failed = next(line for line in run.stdout.splitlines() if "FAIL checklist" in line)
    assert failed.rstrip().endswith("(1 outlay is a draft: OL-3201)"), run.stdout
    assert len(failed) > 160
