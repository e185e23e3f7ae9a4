"""Shared fixtures. Every test gets its own COLLABCTL_HOME, so no test can touch a
real user's data; tests that use ``cli`` run once per database backend.

Plain helpers (runners, error checks, test data) are in helpers.py.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import CLI, Run, Tty, db_url, invoke, migrated_sqlite_schema

__all__ = ["CLI", "Run", "db_url"]

pytest_plugins = ["pg_fixtures", "pgbouncer_fixtures", "pytester"]

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


@pytest.fixture(autouse=True)
def quick_sqlite_schema(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process, an empty SQLite database upgraded to the newest schema gets the
    statements and rows the migrations leave, read once from a database they migrated:
    the same schema (test_migrations compares them) without running every migration
    for every test. Other upgrades, other backends and whole processes run Alembic;
    ``@pytest.mark.real_migrations`` makes a test run it always."""
    if request.node.get_closest_marker("real_migrations"):
        return
    from collabctl.store import migrate

    alembic_upgrade = migrate.upgrade

    def upgrade(connection: Any, revision: str = "head") -> None:
        empty = (
            connection.dialect.name == "sqlite"
            and not connection.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
        )
        if revision == "head" and empty:
            migrated_sqlite_schema(alembic_upgrade).apply(connection)
        else:
            alembic_upgrade(connection, revision)

    monkeypatch.setattr(migrate, "upgrade", upgrade)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The database behind ``cli``: the embedded SQLite default, or a fresh PostgreSQL database
    (``pgbouncer``, ``pgbouncer-session``: the same reached through PgBouncer in that
    pooling mode, for the tests that ask for it, e.g. with ``ALL_BACKENDS``)."""
    from pgbouncer_fixtures import URL_FIXTURES  # a plugin: imported once pytest loaded it

    if request.param in URL_FIXTURES:
        url = request.getfixturevalue(URL_FIXTURES[request.param])
        monkeypatch.setenv("COLLABCTL_DATABASE_URL", url)
    return str(request.param)


@pytest.fixture
def cli(backend: str) -> CLI:
    """Run collabctl in-process: ``cli("list", "--format", "json", input="...")``;
    ``tty=Tty(...)`` says which streams are terminals (default: what it detects, none)."""

    def run(
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        tty: Tty | None = None,
    ) -> Run:
        return invoke(*args, input=input, env=env, tty=tty)

    return run


@pytest.fixture
def cli_tty() -> CLI:
    """collabctl in-process as if in a terminal: stdin, stdout and stderr claim to be
    terminals (``tty=Tty(stdout=False)`` for less), so the decision to prompt or not is
    tested without a pseudo-terminal. On the backend's database with ``demo`` or
    ``backend``, else on the embedded SQLite one."""

    def run(
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        tty: Tty = Tty(),
    ) -> Run:
        return invoke(*args, input=input, env=env, tty=tty)

    return run


@pytest.fixture
def demo(cli: CLI) -> CLI:
    """``cli`` on a database loaded with the demo data."""
    result = cli("demo")
    assert result.exit_code == 0, result.stderr
    return cli


# -- another user: the tests that run collabctl as `nobody` (helpers.run_as) ----------------


@pytest.fixture
def nobody() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        pytest.skip("switching to another user needs root")
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' on this machine")


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory another user can reach (pytest's own temporary directories are private)."""
    path = Path(tempfile.mkdtemp(prefix="collabctl-perm-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def db(backend: str) -> Iterator[Any]:
    """collabctl's database on the test's backend, migrated, as operations take it."""
    from collabctl.store.database import Database

    database = Database(db_url(), embedded=backend == "sqlite")
    database.ensure_schema()
    yield database
    database.dispose()


@pytest.fixture
def server() -> Iterator[Any]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that records what it receives."""
    from notify_smtp import smtp_server

    with smtp_server() as running:
        yield running
