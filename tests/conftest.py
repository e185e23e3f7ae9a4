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

# the suite's shared modules explain a failed assert as a test module does (before they load)
pytest.register_assert_rewrite(
    "helpers",
    "company_import",
    "notify_demo",
    "outbox_builders",
    "process_races",
    "query_plans",
    "screens",
    "tampering",
)

from helpers import CLI, Run, Tty, db_url, invoke, migrated_sqlite_schema  # noqa: E402

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
    pooling mode, for the tests that ask for it, e.g. with ``ALL_BACKENDS``).

    For a test that asks for ``demo``, the database is a copy of one the demo was loaded
    into (see ``demo``) where it can be."""
    from pg_fixtures import demo_database_url  # plugins: imported once pytest loaded them
    from pgbouncer_fixtures import URL_FIXTURES

    settings = _demo_settings(request)
    if (
        settings is not None
        and request.param == "postgres"
        and _DEMO_LOADED_ON_POSTGRES in (None, settings)
    ):
        url = demo_database_url(request, lambda url: _load_demo_into(url, settings))
        monkeypatch.setenv("COLLABCTL_DATABASE_URL", url)
        request.node.stash[_DEMO_COPIED] = settings
        return "postgres"
    if request.param in URL_FIXTURES:
        url = request.getfixturevalue(URL_FIXTURES[request.param])
        monkeypatch.setenv("COLLABCTL_DATABASE_URL", url)
    elif settings is not None and _copy_sqlite_demo(request, settings):
        request.node.stash[_DEMO_COPIED] = settings
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
def demo(cli: CLI, request: pytest.FixtureRequest) -> CLI:
    """``cli`` on a database loaded with the demo data.

    Loading it costs about 20 ms a test, for hundreds of tests: the demo is loaded once
    per test process (and backend, and setting of the environment that shapes it) and
    ``backend`` gives each test a copy (a file copy on SQLite, ``CREATE DATABASE …
    TEMPLATE`` on PostgreSQL). The copy's audit events carry the time it was loaded, a
    little earlier than the test. A database that cannot be a copy (PgBouncer, another
    URL, ``real_migrations``) gets the demo loaded as before.
    """
    copied = request.node.stash.get(_DEMO_COPIED, None)
    if copied is not None:
        assert _demo_settings(request) == copied, (
            "a fixture changed the environment after the demo database was copied: "
            "ask for it before `demo` (or `backend`)"
        )
        return cli
    result = cli("demo")
    assert result.exit_code == 0, result.stderr
    return cli


# -- the demo data, loaded once and copied (the ``demo`` fixture) ---------------------------

#: the item's stash: the settings a copy of the demo data was made under
_DEMO_COPIED = pytest.StashKey[tuple[tuple[str, str], ...]]()
#: the settings the PostgreSQL demo template was loaded under (one template a session)
_DEMO_LOADED_ON_POSTGRES: tuple[tuple[str, str], ...] | None = None
#: SQLite demo databases by settings: the file to copy
_SQLITE_DEMOS: dict[tuple[tuple[str, str], ...], Path] = {}


def _demo_settings(request: pytest.FixtureRequest) -> tuple[tuple[str, str], ...] | None:
    """What shapes a freshly loaded demo database (the environment's collabctl settings
    but for where the database is), or None for a test that gets no copy."""
    if "demo" not in request.fixturenames or request.node.get_closest_marker("real_migrations"):
        return None
    return tuple(
        sorted(
            (name, value)
            for name, value in os.environ.items()
            if name.startswith("COLLABCTL_")
            and name not in ("COLLABCTL_HOME", "COLLABCTL_DATABASE_URL")
        )
    )


def _load_demo_into(url: str, settings: tuple[tuple[str, str], ...]) -> None:
    global _DEMO_LOADED_ON_POSTGRES
    result = invoke("--database-url", url, "demo")
    assert result.exit_code == 0, result.stderr
    _DEMO_LOADED_ON_POSTGRES = settings


def _copy_sqlite_demo(
    request: pytest.FixtureRequest, settings: tuple[tuple[str, str], ...]
) -> bool:
    """Copy the demo database (loaded first if need be) where this test's collabctl looks."""
    if "COLLABCTL_DATABASE_URL" in os.environ:
        return False
    home = Path(os.environ["COLLABCTL_HOME"])
    target = home / "collabctl.db"
    if target.exists():
        return False
    source = _SQLITE_DEMOS.get(settings)
    if source is None:
        scratch = request.getfixturevalue("tmp_path_factory").mktemp("demo") / "home"
        result = invoke("demo", env={"COLLABCTL_HOME": str(scratch)})
        assert result.exit_code == 0, result.stderr
        source = _SQLITE_DEMOS[settings] = scratch / "collabctl.db"
    if not home.exists():
        home.mkdir(mode=0o700)  # as collabctl makes it
        home.chmod(0o700)
    shutil.copyfile(source, target)
    target.chmod(0o600)
    return True


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
