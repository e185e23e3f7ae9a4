"""What a run over many items says (``cli/run_report.py``), shared by ``import`` and
``end --from``: in-process, no database. The commands' own wording is pinned by
test_import.py and test_bulk.py."""

from __future__ import annotations

import dataclasses
import io
from typing import Any, cast

import pytest

from collabctl.cli.env import Environment
from collabctl.cli.run_report import RunReport
from collabctl.domain.errors import NotFound

STATUSES = ("ended", "already-ended", "failed")


@dataclasses.dataclass
class Reader:
    position: int = 0
    size: int | None = 100


def env(*, stdout_tty: bool, stderr_tty: bool) -> Environment:
    shown = Environment.for_test()
    shown.stdout_tty, shown.stderr_tty = stdout_tty, stderr_tty
    return shown


@pytest.mark.parametrize(
    ("stdout_tty", "stderr_tty", "streamed", "display"),
    [
        (False, False, False, False),  # a pipe: nobody to watch it
        (False, False, True, False),
        (False, True, False, True),  # results to a file, a person at stderr
        (False, True, True, True),
        (True, True, False, True),  # results only at the end (import's table, json, csv)
        (True, True, True, False),  # results streamed to the terminal: they are the progress
        (True, False, True, False),
    ],
)
def test_a_display_only_where_a_person_sees_stderr_and_no_results_stream_past(
    stdout_tty: bool, stderr_tty: bool, streamed: bool, display: bool
) -> None:
    report = RunReport(
        env(stdout_tty=stdout_tty, stderr_tty=stderr_tty), Reader(), "ending", STATUSES,
        streamed=streamed,
    )  # fmt: skip
    assert (report.display is not None) is display


def test_the_display_shows_the_items_and_the_statuses_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from collabctl.cli.progress import ProgressDisplay

    shown: list[str] = []
    monkeypatch.setattr(ProgressDisplay, "update", lambda self, items: shown.append(items))
    report = RunReport(
        env(stdout_tty=False, stderr_tty=True), Reader(), "importing", STATUSES,
        streamed=False, progress_statuses=("failed",),
    )  # fmt: skip
    report.count("ended")
    report.update()
    report.count("failed")
    report.count("ended")
    report.update()
    assert shown == ["1 item", "3 items, 1 failed"]


def test_the_summary_counts_the_items_and_each_status() -> None:
    report = RunReport(env(stdout_tty=False, stderr_tty=False), Reader(), "x", STATUSES,
                       streamed=True)  # fmt: skip
    assert report.summary() == "0 items"
    assert report.summary(every_status=True) == "0 items: 0 ended, 0 already-ended, 0 failed"
    for status in ("ended", "failed", "ended"):
        report.count(status)
    assert report.total == 3
    assert report.summary() == "3 items: 2 ended, 1 failed"
    assert report.summary(done=2) == "2 of 3 items: 2 ended, 1 failed"
    assert report.summary(done=3) == "3 items: 2 ended, 1 failed"


@pytest.mark.parametrize("stderr_tty", [False, True])
def test_an_error_goes_above_the_display_or_as_any_error(
    stderr_tty: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collabctl.cli.progress import ProgressDisplay

    said: list[Any] = []
    monkeypatch.setattr(ProgressDisplay, "say", lambda self, text: said.append(text))
    shown = env(stdout_tty=False, stderr_tty=stderr_tty)
    report = RunReport(shown, Reader(), "x", STATUSES, streamed=False)
    report.error(NotFound("customer 9999 does not exist", "check the number"))
    report.say("a line")
    expected = "error[not-found]: customer 9999 does not exist\nhint: check the number"
    if stderr_tty:
        assert said == [expected, "a line"]
        assert cast(io.StringIO, shown.stderr).getvalue() == ""
    else:
        assert said == []
        assert cast(io.StringIO, shown.stderr).getvalue() == expected + "\na line\n"
