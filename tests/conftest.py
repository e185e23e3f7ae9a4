"""Shared fixtures. Every test gets its own COLLABCTL_HOME, so no test can touch a
real user's data; tests that use ``cli`` run once per database backend."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main
import typer.testing
from typer.testing import CliRunner

from collabctl.cli.app import app

# Typer rebuilds the command tree on every invoke; the tree never changes during
# a test run, so build it once (about half the cost of an in-process call).
_COMMAND = typer.main.get_command(app)
typer.testing._get_command = lambda _app: _COMMAND  # type: ignore[attr-defined]

pytest_plugins = ["pg_fixtures"]

ENV_VARS = (
    "COLLABCTL_DATABASE_URL",
    "COLLABCTL_AS",
    "COLLABCTL_ACTOR",
    "COLLABCTL_NO_INPUT",
    "COLLABCTL_DEBUG",
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("COLLABCTL_HOME", str(path))
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLLABCTL_ACTOR", "tester")
    monkeypatch.chdir(tmp_path)
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The database behind ``cli``: the embedded SQLite default, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_database_url")
        monkeypatch.setenv("COLLABCTL_DATABASE_URL", url)
    return str(request.param)


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def jsonl(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


CLI = Callable[..., Run]


@pytest.fixture
def cli(backend: str) -> CLI:
    """Run collabctl in-process: ``cli("list", "--format", "json", input="...")``."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Run:
        result = runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def demo(cli: CLI) -> CLI:
    """``cli`` on a database loaded with the demo data."""
    result = cli("demo")
    assert result.exit_code == 0, result.stderr
    return cli


def db_url() -> str:
    return (
        os.environ.get("COLLABCTL_DATABASE_URL")
        or f"sqlite:///{os.environ['COLLABCTL_HOME']}/collabctl.db"
    )
