"""What a command imports (SPEC §6): ``--version`` and ``--help`` no database or prompt
library, and no command the prompt library when there is no terminal to prompt in.

These are import checks, not timings: each command runs in a fresh interpreter
with ``-X importtime``, which lists every module the process imported. How long
start-up takes is measured by benchmarks/startup.py.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from collabctl.cli import app

DATABASE_LIBRARIES = ("sqlalchemy", "sqlmodel", "alembic", "psycopg")
PROMPT_LIBRARIES = ("questionary", "prompt_toolkit")


def imported(*args: str, stdin: str = "") -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -X importtime -m collabctl ARGS``: the result and the top-level packages."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "collabctl", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "collabctl.cli.app" in modules, result.stderr[-2000:]
    return result, {name.split(".")[0] for name in modules}


@pytest.mark.parametrize(
    "args",
    [("--version",), ("--help",), ("end", "--help"), ("list", "--help"), ()],
    ids=["--version", "--help", "end --help", "list --help", "no arguments"],
)
def test_version_and_help_import_no_database_or_prompt_library(args: tuple[str, ...]) -> None:
    result, packages = imported(*args)
    assert result.returncode in (0, 2), result.stderr[-2000:]  # no arguments: usage, exit 2
    assert not packages & {*DATABASE_LIBRARIES, *PROMPT_LIBRARIES}, sorted(
        packages & {*DATABASE_LIBRARIES, *PROMPT_LIBRARIES}
    )


def test_version_prints_the_version() -> None:
    from collabctl import __version__

    result, _ = imported("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"collabctl {__version__}"


@pytest.mark.slow  # six fresh interpreters
def test_commands_without_a_terminal_import_no_prompt_library() -> None:
    demo, _ = imported("demo")
    assert demo.returncode == 0, demo.stderr[-2000:]
    runs = [
        imported("list"),
        imported("list", "--format", "jsonl"),
        imported("show", "1001"),
        imported("end", "1001", "--service", "eekonomi", "--outcome", "continue", "--dry-run"),
        imported(
            "end", "--from", "-", "--service", "eekonomi", "--outcome", "continue",
            "--by", "office", "--yes", "--format", "jsonl",
            stdin="1001\n1002\n",
        ),
    ]  # fmt: skip
    for result, packages in runs:
        assert result.returncode in (0, 4), result.stderr[-2000:]
        # no terminal: nothing to prompt in; an embedded database at the current schema
        # needs no migration tool; SQLite needs no PostgreSQL driver
        assert not packages & {*PROMPT_LIBRARIES, "alembic", "psycopg"}, sorted(packages)
        assert "sqlalchemy" in packages  # the check would notice a database library


def test_a_command_on_sqlite_loads_no_postgresql_dialect() -> None:
    """SQLAlchemy imports a dialect to check an option such as ``postgresql_where``, so the
    tables keep such options out of their classes (collabctl.store.models.schema_metadata)."""
    demo, _ = imported("demo")  # creates the schema: migrations may use the dialect
    assert demo.returncode == 0, demo.stderr[-2000:]
    listed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "collabctl", "list"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in listed.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "sqlalchemy.dialects.sqlite" in modules  # the check would notice a dialect
    assert not {m for m in modules if m.startswith("sqlalchemy.dialects.postgresql")}


def _importer_of(importtime: str, module: str) -> str | None:
    """The module whose import first pulled ``module`` in (``-X importtime`` lists a
    module's imports before it, indented deeper), or None when nothing imported it."""
    rows = [
        line.rsplit("|", 1)[1]
        for line in importtime.splitlines()
        if line.startswith("import time:") and "|" in line
    ]
    names = [row.strip() for row in rows]
    if module not in names:
        return None
    index = names.index(module)
    depth = len(rows[index]) - len(rows[index].lstrip())
    for row in rows[index + 1 :]:
        if len(row) - len(row.lstrip()) < depth:
            return row.strip()
    return "__main__"


@pytest.mark.slow  # four fresh interpreters
def test_reads_import_neither_sqlmodel_nor_the_orm_nor_alembic() -> None:
    """SPEC 8.5: ``list``, ``show`` and ``log`` run Core queries on a plain connection and
    check the schema by reading ``alembic_version``: SQLModel (with pydantic), SQLAlchemy's
    ORM and Alembic are for the paths that write or migrate."""
    demo, _ = imported("demo")
    assert demo.returncode == 0, demo.stderr[-2000:]
    for args in (("list",), ("show", "1001"), ("log", "--format", "jsonl")):
        result, packages = imported(*args)
        assert result.returncode == 0, result.stderr[-2000:]
        assert not packages & {"sqlmodel", "alembic", "psycopg"}, (args, sorted(packages))
        modules = {
            line.rsplit("|", 1)[1].strip()
            for line in result.stderr.splitlines()
            if line.startswith("import time:") and "|" in line
        }
        assert "sqlalchemy.engine" in modules  # the check would notice SQLAlchemy
        assert not {m for m in modules if m.startswith("sqlalchemy.orm")}, args
        # Typer itself may coerce option values with pydantic (0.29 does); nothing of collabctl's
        # own imports it on a read
        importer = _importer_of(result.stderr, "pydantic")
        assert importer is None or importer.startswith("typer"), (args, importer)


#: What a read in a pipe leaves out: Rich's console, text and markup (a piped table or
#: object without colour is plain lines: ``plain_console.PlainConsole``), and Rich's tables of
#: character widths (Latin text is measured without them: ``tables._width``).
NOT_IMPORTED_BY_A_PIPED_READ = ("rich.console", "rich.text", "rich.markup", "rich.cells")


@pytest.mark.slow  # five fresh interpreters
def test_reads_in_a_pipe_import_no_rich_console() -> None:
    demo, _ = imported("demo")
    assert demo.returncode == 0, demo.stderr[-2000:]
    for args in (
        ("list",),
        ("show", "1001"),
        ("show", "1001", "--fields", "customer_number,users"),
        ("list", "--format", "csv"),
    ):
        result, _ = imported(*args)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "1001" in result.stdout, args
        modules = {
            line.rsplit("|", 1)[1].strip()
            for line in result.stderr.splitlines()
            if line.startswith("import time:") and "|" in line
        }
        assert "collabctl.cli.tables" in modules  # the check would notice a module
        assert not modules & set(NOT_IMPORTED_BY_A_PIPED_READ), (args, sorted(modules))


def _command_modules(importtime: str) -> set[str]:
    return {
        line.rsplit("|", 1)[1].strip()
        for line in importtime.splitlines()
        if line.startswith("import time:") and "collabctl.cli.commands." in line
    }


@pytest.mark.slow  # five fresh interpreters
def test_a_command_builds_only_its_own_module() -> None:
    """Start-up pays for the command run (cli/command_tree.py): ``list`` and ``show``
    import no other command module and no pydantic; the root's help lists them all."""
    demo, _ = imported("demo")
    assert demo.returncode == 0, demo.stderr[-2000:]
    for args in (("list",), ("show", "1001"), ("list", "--help")):
        result, packages = imported(*args)
        assert result.returncode == 0, result.stderr[-2000:]
        assert _command_modules(result.stderr) == {"collabctl.cli.commands.views"}, args
        assert "pydantic" not in packages, args
    result, _ = imported("end", "--help")
    assert _command_modules(result.stderr) == {"collabctl.cli.commands.changes"}
    result, _ = imported("--help")
    assert len(_command_modules(result.stderr)) == len(set(app.GROUPS))


def test_every_command_is_found_where_the_root_looks_first() -> None:
    """``app.WHERE`` names the module of every command (a command missing there still
    runs, but builds every module to be found)."""
    import typer.main

    found = {}
    for group in app.GROUPS:
        module = __import__(f"collabctl.cli.commands.{group}", fromlist=["commands"])
        found.update(dict.fromkeys(typer.main.get_group(module.commands).commands, group))
    assert found == app.WHERE


def test_the_root_builds_a_command_alone_when_it_is_looked_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import typer.main

    from collabctl.cli import global_options

    built: list[str] = []
    build = typer.main.get_command_from_info

    def spy(*args: Any, **kwargs: Any) -> Any:
        info = args[0] if args else kwargs["command_info"]
        built.append(info.callback.__name__)
        return build(*args, **kwargs)

    monkeypatch.setattr(typer.main, "get_command_from_info", spy)
    root = typer.main.get_command(app.app)
    listing = root.commands["list"]
    assert root.commands.built() == ("collabctl.cli.commands.views",)
    assert built == ["list_"]  # not show and log, the other commands of views.py
    assert root.get_command(None, "list") is listing  # built once
    names = root.list_commands(None)
    assert names[:4] == ["demo", "import", "list", "show"] and set(names) == set(app.WHERE)
    for command in root.commands.values():
        taken = [p.name for p in command.params if isinstance(p, global_options.GlobalOption)]
        assert len(taken) == len(set(taken)) and "party" in taken, command.name
    assert "lisst" not in root.commands
