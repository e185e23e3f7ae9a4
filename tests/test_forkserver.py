"""The process tests' collabctl processes are forked (tests/forkserver.py): each is still a
process of its own, with what it was given (descriptors, terminal, environment, working
directory) and its own exit, and a process that needs a fresh interpreter gets one."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from pathlib import Path

import forkserver
from helpers import run_process


def test_a_fork_is_a_process_of_its_own_with_its_exit_code() -> None:
    refused = forkserver.run(["nosuch"])
    assert refused.returncode == 2
    assert refused.stderr.startswith("error[invalid-input]: unknown command 'nosuch'")
    version = forkserver.run(["--version"])
    assert (version.returncode, version.stdout.startswith("collabctl ")) == (0, True)
    proc = forkserver.Popen(["--version"], stdout=subprocess.DEVNULL)
    assert proc.pid != os.getpid()
    assert proc.wait(timeout=60) == 0


def test_the_environment_and_working_directory_are_the_callers(tmp_path: Path) -> None:
    home = tmp_path / "elsewhere"
    listed = run_process("list", env={"COLLABCTL_HOME": str(home)})
    assert listed.exit_code == 0, listed.stderr
    assert (home / "collabctl.db").exists()  # the database where this environment said
    database = tmp_path / "relative.db"
    proc = forkserver.Popen(
        ["--database-url", "sqlite:///relative.db", "db", "upgrade"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=str(tmp_path),
    )
    assert proc.wait(timeout=60) == 0
    assert database.exists()
    # an environment larger than one message of the socket arrives whole
    big = forkserver.run(["--version"], env={**os.environ, "COLLABCTL_X": "x" * 500_000})
    assert big.returncode == 0, big.stderr


def test_a_kill_ends_the_fork_and_its_exit_says_so() -> None:
    # stdin is a pipe left open: `end --from -` waits for lines until killed
    proc = forkserver.Popen(
        ["end", "--from", "-", "--dry-run"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.2)
        assert proc.poll() is None
        proc.kill()
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        assert proc.stdin is not None
        proc.stdin.close()


def test_a_terminal_is_the_controlling_terminal_of_the_fork() -> None:
    controller, tty = forkserver.terminal((24, 100))
    try:
        proc = forkserver.Popen(
            ["--color", "auto", "show", "9999"], stdin=tty, stdout=tty, stderr=tty, terminal=True
        )
    finally:
        os.close(tty)
    shown = b""
    while select.select([controller], [], [], 30)[0]:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the terminal closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert proc.wait(timeout=60) == 1  # not found
    # coloured: collabctl saw a terminal on stderr (a pipe would get no colour)
    assert b"\x1b[" in shown and b"error[not-found]" in shown


def test_what_acts_before_collabctl_starts_gets_a_fresh_interpreter(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    hook = tmp_path / "sitecustomize.py"
    hook.write_text(f"open({str(marker)!r}, 'w').close()\n")
    # PYTHONPATH acts when an interpreter starts: a fork of the server would never read it
    ran = forkserver.run(["--version"], env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert ran.returncode == 0
    assert marker.exists()
