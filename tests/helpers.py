"""What the test modules share: running collabctl (in this process, as a real process,
or in a pseudo-terminal), reading its results and errors, and making test data.

Fixtures live in conftest.py; plain functions and classes live here, so a module
imports them by name (``from helpers import error_of, ok``).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

import forkserver
from collabctl.cli.app import app
from collabctl.cli.env import Environment

# -- running collabctl in this process --------------------------------------------------

#: The Click command behind the Typer app. Typer builds it anew on every call to
#: ``CliRunner.invoke``; the tree never changes during a test run, so it is built
#: once here and invoked directly (about half the cost of an in-process call).
COMMAND = typer.main.get_command(app)
_RUNNER = CliRunner()


@dataclass
class Run:
    """What one collabctl run left behind: its exit code and both streams."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)

    def jsonl(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def hint(self) -> str:
        """The ``hint:`` line on stderr."""
        return next(line for line in self.stderr.splitlines() if line.startswith("hint: "))


#: ``cli("list", "--format", "json", input="...")``: what the ``cli`` fixture returns.
CLI = Callable[..., Run]


@dataclass(frozen=True)
class Tty:
    """Which standard streams claim to be a terminal, as gh's ``iostreams.Test()`` sets
    them: collabctl decides whether to prompt from these flags, not from the streams."""

    stdin: bool = True
    stdout: bool = True
    stderr: bool = True
    #: ``--color`` unless given: "never" (a test's streams show no colour unless they ask),
    #: "auto" as at a real terminal
    color: str = "never"


#: An audit event's keys in every format of ``log``, in order (README, SPEC §7.5): written
#: out here, not taken from collabctl, so a change to them fails the tests that use it.
EVENT_KEYS = [
    "id",
    "at",
    "actor",
    "db_user",
    "scope",
    "action",
    "customer_number",
    "service",
    "details",
]


def invoke(
    *args: str,
    input: str | None = None,
    env: dict[str, str] | None = None,
    tty: Tty | None = None,
) -> Run:
    """Run collabctl in this process, on whatever database the options and environment name.

    ``tty`` hands the app an ``Environment`` with those terminal flags (over the
    captured streams) instead of the one it would detect. Exceptions other than an
    exit propagate, so a bug shows its traceback in the test report.
    """
    extra: dict[str, Any] = {}
    with _RUNNER.isolation(input=input, env=env) as (out, err, _):
        exit_code = 0
        if tty is not None:
            # built here, so that its streams are the captured ones
            extra["obj"] = Environment(
                stdin_tty=tty.stdin, stdout_tty=tty.stdout, stderr_tty=tty.stderr, color=tty.color
            )
        try:
            COMMAND.main(args=list(args), prog_name=COMMAND.name, **extra)
        except SystemExit as exc:
            code = exc.code
            if code is None:
                exit_code = 0
            elif isinstance(code, int):
                exit_code = code
            else:  # sys.exit("message"): Python prints it and exits 1
                sys.stderr.write(f"{code}\n")
                exit_code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        stdout, stderr = out.getvalue(), err.getvalue()
    return Run(exit_code, stdout.decode("utf-8"), stderr.decode("utf-8", "replace"))


def db_url() -> str:
    """The database the current test's collabctl runs use."""
    return (
        os.environ.get("COLLABCTL_DATABASE_URL")
        or f"sqlite:///{os.environ['COLLABCTL_HOME']}/collabctl.db"
    )


#: ``@sqlite_only`` on a test (or ``pytestmark = sqlite_only`` on a module): run it on the
#: embedded SQLite database alone, not once more on PostgreSQL. The rule: the outcome is
#: decided before any SQL runs, or does not depend on which database answered. That
#: covers parsing of options and arguments, input validation and the refusals that come
#: before the database is read, hints and usage errors, the rendering, format and field
#: selection of rows already read, help text and catalogue texts. A test keeps
#: PostgreSQL when the database can change the outcome: a change written and read back,
#: locking, transactions and rollbacks, counts, filters, ordering, search and collation
#: done in SQL, timestamps and time zones, JSON columns, large numbers, control
#: characters stored and read back, roles and grants, migrations. When in doubt, keep
#: PostgreSQL. (It parametrizes the ``backend`` fixture directly, so the ``postgres`` case
#: is never collected, and the ``postgres`` marker is not added; as a module's
#: ``pytestmark`` every test there must use ``backend``, through ``cli``, ``demo`` or
#: ``db``.) For many variants of one case, keep one on both backends and the rest on
#: SQLite: ``parametrize(("backend", "value"), [("sqlite", a), ("postgres", a),
#: ("sqlite", b)], indirect=["backend"])``.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


# -- running collabctl as a real process -------------------------------------------------

#: The installed console script beside this interpreter, else ``python -m collabctl``.
_SCRIPT = Path(sys.executable).with_name("collabctl")
COLLABCTL = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "collabctl"]
PROCESS_TIMEOUT_S = 120


def run_process(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Run:
    """A real ``collabctl`` process: what a user's shell sees, tracebacks included.

    stdin is empty (not a terminal) unless ``input`` is given; ``env`` is added to
    this process's environment. The process is forked from one that imported collabctl
    already (``tests/forkserver.py``); ``fresh_process`` starts a new interpreter.
    """
    result = forkserver.run(
        args, input=input, env={**os.environ, **(env or {})}, timeout=PROCESS_TIMEOUT_S
    )
    return Run(result.returncode, result.stdout, result.stderr)


def fresh_process(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Run:
    """``run_process`` in a new interpreter: for what happens at start-up and at its exit."""
    result = subprocess.run(
        [*COLLABCTL, *args],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=PROCESS_TIMEOUT_S,
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def collabctl_process(args: list[str], **options: Any) -> forkserver.Popen:
    """``subprocess.Popen(args, **options)`` for ``args`` = ``[*COLLABCTL, ...]``, forked from
    the fork server (``tests/forkserver.py``)."""
    assert args[: len(COLLABCTL)] == COLLABCTL, args
    return forkserver.Popen(args[len(COLLABCTL) :], **options)


def run_collabctl(
    args: list[str],
    *,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = PROCESS_TIMEOUT_S,
    capture_output: bool = True,
    text: bool = True,
    check: bool = False,
    stdin: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(args, capture_output=True, text=True, check=False)`` for
    ``[*COLLABCTL, ...]``, forked (stdin: ``input``, else /dev/null)."""
    assert args[: len(COLLABCTL)] == COLLABCTL, args
    assert capture_output and text and not check, "captured text, checked by the caller"
    assert stdin in (None, subprocess.DEVNULL), "stdin: input, or /dev/null"
    return forkserver.run(args[len(COLLABCTL) :], input=input, env=env, timeout=timeout)


# -- results and errors ------------------------------------------------------------------


def killed_after(command: list[str], out_path: Path, results: int) -> list[dict[str, Any]]:
    """Run ``command`` with its results (JSON Lines) going to ``out_path``, SIGKILL it
    once ``results`` lines are there, and return the complete result lines it wrote.

    A bulk run writes a result only after its batch is committed, so the kill lands
    in the middle of the run with some batches done.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with out_path.open("w") as out:
        proc = collabctl_process(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL, env=env
        )
        try:
            deadline = time.monotonic() + PROCESS_TIMEOUT_S
            while out_path.read_text().count("\n") < results:
                assert proc.poll() is None, f"{command[1:3]} ended before it could be killed"
                assert time.monotonic() < deadline, "no result within the time limit"
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return [json.loads(line) for line in out_path.read_text().splitlines() if line.endswith("}")]


def ok(run: Run) -> Any:
    """The JSON document of a run that must have succeeded."""
    assert run.exit_code == 0, (run.stdout, run.stderr)
    return run.json()


def error_of(run: Run, code: str, exit_code: int = 1) -> dict[str, Any]:
    """The error of a refused command (with ``--format json``), checked on both streams:
    the code and exit code, ``error[CODE]: message`` and a hint on stderr, no traceback."""
    assert run.exit_code == exit_code, (run.stdout, run.stderr)
    error: dict[str, Any] = run.json()["error"]
    assert error["code"] == code, error
    assert f"error[{code}]: {error['message']}" in run.stderr, run.stderr
    assert error["hint"], "every refusal says how to fix it"
    assert "hint: " in run.stderr, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    return error


def mode(path: Path) -> int:
    """A file's permission bits, e.g. ``0o600``."""
    return stat.S_IMODE(path.stat().st_mode)


# -- data --------------------------------------------------------------------------------


def luhn_org_number(index: int) -> str:
    """A valid Swedish organisation number (Luhn check digit), a different one per index."""
    nine = f"55{index:07d}"
    total = 0
    for position, char in enumerate(reversed(nine)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return f"{nine[:6]}-{nine[6:]}{(10 - total % 10) % 10}"


def import_doc(cli: CLI, document: dict[str, Any], *options: str) -> Run:
    """Import one JSON document from stdin."""
    return cli("import", "-", *options, input=json.dumps(document, ensure_ascii=False))


def show(cli: CLI, customer: str) -> dict[str, Any]:
    """``show CUSTOMER`` as JSON."""
    return ok(cli("show", customer, "--format", "json"))


def log_events(cli: CLI, *args: str) -> list[dict[str, Any]]:
    """``log ARGS`` as JSON: the audit events, oldest first."""
    return ok(cli("log", *args, "--reverse", "--format", "json"))


# -- collabctl in a pseudo-terminal ------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
WAIT_S = 20


def terminal_env(**extra: str) -> dict[str, str]:
    """This environment as a terminal session has it; prompting allowed unless ``extra`` says."""
    env = {
        **os.environ,
        "TERM": "xterm",
        # the pty answers no cursor-position requests; without this prompt_toolkit
        # waits for one and then prints a warning in the middle of the flow
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }
    env.pop("COLLABCTL_NO_INPUT", None)
    env.update(extra)
    return env


class Terminal:
    """collabctl in a pseudo-terminal, typed at as a person would; the screen text is
    kept as it came, and read without its escapes and carriage returns.

    Every wait is bounded, so a flow that hangs fails instead of blocking the suite.
    """

    def __init__(
        self,
        *args: str,
        stderr: Path | None = None,
        size: tuple[int, int] = (40, 160),
        env: dict[str, str] | None = None,
    ) -> None:
        from pexpect.fdpexpect import fdspawn

        rows, columns = size
        controller, tty = forkserver.terminal(size)
        error = stderr.open("w") if stderr is not None else None
        try:
            # stdin, stdout (and stderr unless a file takes it) are the terminal, whose
            # program collabctl is: a session of its own, the terminal its controlling one
            self.process = forkserver.Popen(
                list(args),
                stdin=tty,
                stdout=tty,
                stderr=error if error is not None else tty,
                env=terminal_env(COLUMNS=str(columns), LINES=str(rows), **(env or {})),
                terminal=True,
            )
        finally:
            os.close(tty)
            if error is not None:
                error.close()
        self.child = fdspawn(controller, encoding="utf-8", codec_errors="replace", timeout=WAIT_S)
        self.raw = ""
        self.seen = 0  # text before this offset was matched already

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw).replace("\r", "")

    def _read(self, timeout: float) -> None:
        import pexpect

        with contextlib.suppress(pexpect.TIMEOUT):
            self.raw += self.child.read_nonblocking(65536, timeout=timeout)

    def expect(self, pattern: str) -> re.Match[str]:
        """Wait until the output after the last match contains ``pattern`` (a regex)."""
        import pexpect

        deadline = time.monotonic() + WAIT_S
        compiled = re.compile(pattern)
        while True:
            text = self.text
            found = compiled.search(text, self.seen)
            if found:
                self.seen = found.end()
                return found
            if time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"no {pattern!r} within {WAIT_S} s; the terminal showed:\n{text}")
            try:
                self._read(0.1)
            except pexpect.EOF:
                pytest.fail(f"collabctl exited before {pattern!r}; the terminal showed:\n{text}")

    def send(self, *keys: str) -> None:
        for key in keys:
            self.child.send(key)
            # apart, as typed: an escape sequence must not merge with the next key
            time.sleep(0.02)

    def answer(self, question: str, *keys: str) -> None:
        """Wait for ``question`` (plain text), then type ``keys``."""
        self.expect(re.escape(question))
        self.send(*keys)

    def finish(self) -> int:
        """Wait for collabctl to exit; its exit code."""
        import pexpect

        deadline = time.monotonic() + WAIT_S
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                self._read(0.2)
            except pexpect.EOF:
                break
        try:
            code = self.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"collabctl did not exit within {WAIT_S} s:\n{self.text}")
        with contextlib.suppress(pexpect.EOF, pexpect.TIMEOUT, OSError):
            while True:  # what is left on the terminal after the exit
                self.raw += self.child.read_nonblocking(65536, timeout=0)
        with contextlib.suppress(OSError):
            self.child.close()
        assert code >= 0, f"killed by signal {-code}"
        assert "Traceback" not in self.text
        return code


# -- running collabctl as another user ---------------------------------------------------


def run_as(user: pwd.struct_passwd, *args: str, env: dict[str, str] | None = None) -> Run:
    """collabctl in a child of this process that has become ``user``.

    The child cannot read this interpreter's files (they are root's), so what a command
    imports is imported here first, by the same command run as root on a scratch database.
    """
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become the user, run, report, and leave without cleanup
        try:
            os.close(reading)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            result = invoke(*args, env=env)
            report = [result.exit_code, result.stdout, result.stderr]
        except BaseException as exc:
            report = [-1, "", f"{type(exc).__name__}: {exc}"]
        os.write(writing, json.dumps(report).encode())
        os._exit(0)
    os.close(writing)
    with os.fdopen(reading, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    exit_code, stdout, stderr = json.loads(data)
    return Run(exit_code, stdout, stderr)


def warm_up(tmp_path: Path, *commands: list[str]) -> None:
    """Import, as root, everything these commands import (see ``run_as``)."""
    scratch = f"sqlite:///{tmp_path}/warm-up.db"
    invoke("--database-url", scratch, "db", "upgrade")
    invoke("--database-url", scratch, "demo")
    for command in commands:
        invoke("--database-url", scratch, *command)
    invoke("--database-url", f"sqlite:///{tmp_path}/missing/x.db", "list")
    import pwd as _  # noqa: F401  (used when a message names a file's owner)


def schedule_run_at(now: Any) -> list[dict[str, Any]]:
    """``schedule run`` in this process, at ``now`` by its clock (a ``datetime``): each
    result as its machine formats give it. Whole processes move the clock with libfaketime."""
    from collabctl.config import backup_dir
    from collabctl.operations.context import Context
    from collabctl.operations.schedule_run import run_due
    from collabctl.store.database import Database

    db = Database(db_url())
    try:
        return [
            result.to_dict()
            for batch in run_due(db, Context(actor="runner"), now=now, backup_dir=backup_dir())
            for result in batch
        ]
    finally:
        db.dispose()


# -- a migrated SQLite database, quickly ---------------------------------------------------


@dataclass(frozen=True)
class SqliteSchema:
    """What the migrations leave in an empty SQLite database: the statements that define its
    tables, indexes and triggers, and the rows they write (``alembic_version`` among them)."""

    statements: tuple[str, ...]
    rows: tuple[tuple[str, tuple[tuple[Any, ...], ...]], ...]

    def apply(self, connection: Any) -> None:
        """Make an empty SQLite database on ``connection`` what the migrations make of it."""
        for statement in self.statements:
            connection.exec_driver_sql(statement)
        for table, rows in self.rows:
            marks = ", ".join("?" * len(rows[0]))
            connection.exec_driver_sql(f'INSERT INTO "{table}" VALUES ({marks})', list(rows))


_SCHEMA: list[SqliteSchema] = []


def migrated_sqlite_schema(upgrade: Callable[..., None]) -> SqliteSchema:
    """The schema ``upgrade`` (Alembic's) writes into an empty SQLite database: migrated once
    per test process, in a scratch file, and read back from it."""
    if _SCHEMA:
        return _SCHEMA[0]
    import sqlite3
    import tempfile

    from sqlalchemy import create_engine

    with tempfile.TemporaryDirectory(prefix="collabctl-schema-") as scratch:
        path = Path(scratch) / "migrated.db"
        engine = create_engine(f"sqlite:///{path}")
        try:
            with engine.begin() as conn:
                upgrade(conn, "head")
        finally:
            engine.dispose()
        with contextlib.closing(sqlite3.connect(path)) as db:
            # tables first, then what stands on them; SQLite makes its own sqlite_* objects
            statements = tuple(
                sql
                for (sql,) in db.execute(
                    "SELECT sql FROM sqlite_master"
                    " WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
                    " ORDER BY type != 'table', type != 'index', type != 'view', rowid"
                )
            )
            tables = [name for (name,) in db.execute(
                "SELECT name FROM sqlite_master"
                " WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
            )]  # fmt: skip
            rows = tuple(
                (table, found)
                for table in tables
                if (found := tuple(db.execute(f'SELECT * FROM "{table}" ORDER BY rowid')))
            )
    _SCHEMA.append(SqliteSchema(statements, rows))
    return _SCHEMA[0]
