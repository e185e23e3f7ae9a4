"""collabctl at a real terminal: a pseudo-terminal it is forked onto, read through the
pyte terminal emulator (``at_terminal``, the ``Screen`` it leaves), and a pager that notes
each time it is called (the ``pager`` fixture, ``calls``)."""

from __future__ import annotations

import os
import select
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import forkserver

WAIT_S = 60


@dataclass
class Screen:
    raw: str  # what the program wrote, escape codes and all
    lines: list[str]  # the screen as a person sees it
    status: int

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def at_terminal(
    *args: str, columns: int = 80, rows: int = 200, env: dict[str, str] | None = None
) -> Screen:
    """Run collabctl in a pseudo-terminal ``columns`` wide; the screen it leaves.

    ``rows`` is the height of the terminal (and of the emulated screen): tall enough,
    the output fits and the pager is not needed unless a test makes it short.
    """
    import pyte

    environ = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns)}
    environ["LINES"] = str(rows)
    for name in ("NO_COLOR", "COLLABCTL_COLOR", "PAGER", "COLLABCTL_PAGER", "LESS"):
        environ.pop(name, None)
    environ.update(env or {})
    controller, tty = forkserver.terminal((rows, columns))
    try:
        child = forkserver.Popen(
            list(args), stdin=tty, stdout=tty, stderr=tty, env=environ, terminal=True
        )
    finally:
        os.close(tty)
    data = b""
    deadline = time.monotonic() + WAIT_S
    try:
        while time.monotonic() < deadline:
            if not select.select([controller], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: every end of the terminal closed
                break
            if not chunk:
                break
            data += chunk
    finally:
        os.close(controller)
    status = child.wait(timeout=WAIT_S)
    raw = data.decode("utf-8", "replace")
    assert status >= 0, f"killed by signal {-status}:\n{raw}"
    screen = pyte.Screen(columns, rows)
    pyte.Stream(screen).feed(raw)
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return Screen(raw, lines, status)


@pytest.fixture
def pager(tmp_path: Path) -> Path:
    """A pager that notes it was called and shows what it is given."""
    calls = tmp_path / "pager-calls"
    script = tmp_path / "pager.sh"
    script.write_text(f'#!/bin/sh\necho called >> "{calls}"\nexec cat\n', encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def calls(pager: Path) -> int:
    file = pager.with_name("pager-calls")
    return len(file.read_text().splitlines()) if file.exists() else 0
