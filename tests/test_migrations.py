"""Schema migrations: ``db upgrade`` / ``db current``, and who is migrated implicitly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from collabctl.config import url_password
from collabctl.store.database import HEAD_REVISION, normalize_url
from collabctl.store.migrate import head_revision
from collabctl.store.models import schema_metadata
from helpers import invoke, migrated_sqlite_schema

#: these tests are about the migrations: Alembic makes every schema (see conftest)
pytestmark = pytest.mark.real_migrations

TABLES = {
    "office",
    "company",
    "company_user",
    "subscription",
    "collaboration",
    "service_record",
    "audit_event",
    "service_definition",
}


run = invoke  # on whatever database the options name (no backend fixture)


def sqlite_tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no collabctl schema that is not the embedded default."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_empty_database_url"))
    path = tmp_path / "shared" / "empty.db"
    path.parent.mkdir()
    sqlite3.connect(path).close()  # an empty SQLite file, as `sqlite3 empty.db` leaves it
    return f"sqlite:///{path}"


def test_the_quick_sqlite_schema_of_the_tests_is_the_migrated_one(tmp_path: Path) -> None:
    """conftest gives a test's empty SQLite database the schema read back from one the
    migrations made; a database made that way holds exactly what the migrations write."""
    from collabctl.store import migrate

    quick, migrated = tmp_path / "quick.db", tmp_path / "migrated.db"
    for path, make in (
        (quick, migrated_sqlite_schema(migrate.upgrade).apply),
        (migrated, migrate.upgrade),
    ):
        engine = create_engine(f"sqlite:///{path}")
        try:
            with engine.begin() as conn:
                make(conn)
        finally:
            engine.dispose()

    def dump(path: Path) -> list[str]:
        with sqlite3.connect(path) as conn:
            return sorted(conn.iterdump())

    assert dump(quick) == dump(migrated)
    assert any("alembic_version" in line and HEAD_REVISION in line for line in dump(quick))


def test_head_revision_constant_matches_alembic() -> None:
    assert head_revision() == HEAD_REVISION


def test_upgrade_from_empty_to_head(empty_url: str) -> None:
    before = run("--database-url", empty_url, "db", "current", "--format", "json")
    assert before.exit_code == 0, before.stderr
    assert before.json()["revision"] is None
    assert before.json()["current"] is False
    assert before.json()["head"] == HEAD_REVISION

    upgraded = run("--database-url", empty_url, "db", "upgrade", "--format", "json")
    assert upgraded.exit_code == 0, upgraded.stderr
    assert upgraded.json()["before"] is None
    assert upgraded.json()["after"] == HEAD_REVISION

    current = run("--database-url", empty_url, "db", "current")
    assert current.exit_code == 0
    assert current.stdout.strip() == f"{HEAD_REVISION} (head {HEAD_REVISION}): current"

    engine = create_engine(normalize_url(empty_url))
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version == HEAD_REVISION
    finally:
        engine.dispose()

    works = run("--database-url", empty_url, "demo")
    assert works.exit_code == 0, works.stderr


def test_migrations_build_exactly_the_models(empty_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    assert run("--database-url", empty_url, "db", "upgrade").exit_code == 0
    engine = create_engine(normalize_url(empty_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, schema_metadata()) == []
    finally:
        engine.dispose()


def test_upgrade_twice_is_harmless(empty_url: str) -> None:
    assert run("--database-url", empty_url, "db", "upgrade").exit_code == 0
    assert run("--database-url", empty_url, "demo").exit_code == 0
    before = run("--database-url", empty_url, "list", "--state", "all", "--format", "json").json()

    again = run("--database-url", empty_url, "db", "upgrade")
    assert again.exit_code == 0
    assert f"schema already at {HEAD_REVISION} (newest): nothing to do" in again.stderr
    as_json = run("--database-url", empty_url, "db", "upgrade", "--format", "json").json()
    assert as_json["before"] == as_json["after"] == HEAD_REVISION
    after = run("--database-url", empty_url, "list", "--state", "all", "--format", "json").json()
    assert after == before
    assert len(after) == 13


@pytest.mark.parametrize("command", [["list"], ["show", "1001"], ["demo"], ["log"]])
def test_a_shared_database_is_never_migrated_implicitly(empty_url: str, command: list[str]) -> None:
    result = run("--database-url", empty_url, *command, "--format", "json")
    assert result.exit_code == 3
    assert "error[schema-outdated]: the database schema is empty" in result.stderr
    # the hint works when pasted: it does not repeat the URL, whose password is hidden
    assert result.hint() == (
        "hint: run `collabctl db upgrade` with the same --database-url as this command"
    )
    assert "***" not in result.stderr
    password = url_password(empty_url)
    if password:
        assert password not in result.stderr + result.stdout
    assert result.json()["error"]["code"] == "schema-outdated"
    assert (
        run("--database-url", empty_url, "db", "current", "--format", "json").json()["revision"]
        is None
    )


@pytest.mark.parametrize("source", ["environment", "config"])
def test_the_hint_command_fixes_it(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    path = tmp_path / "shared.db"
    sqlite3.connect(path).close()  # an empty SQLite file, as `sqlite3 shared.db` leaves it
    if source == "environment":
        monkeypatch.setenv("COLLABCTL_DATABASE_URL", f"sqlite:///{path}")
    else:
        home.mkdir(mode=0o700)
        (home / "config.toml").write_text(f'database_url = "sqlite:///{path}"\n')
    refused = run("list")
    assert refused.exit_code == 3
    assert "error[schema-outdated]" in refused.stderr
    assert refused.hint() == "hint: collabctl db upgrade"
    assert sqlite_tables(path) == set()
    assert run(*refused.hint().removeprefix("hint: collabctl ").split()).exit_code == 0
    assert run("list").exit_code == 0


def test_no_command_but_db_upgrade_creates_a_database_named_by_url(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "dir" / "x.db"
    writes = (
        ["demo"],
        ["import", "-"],
        ["start", "1001", "-s", "lon", "--office", "556677-8899"],
        ["end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "customer", "--yes"],
        ["add-user", "1001", "--email", "x@kund.se"],
    )
    for command in (["list"], ["show", "1001"], ["log"], ["db", "current"], ["doctor"], *writes):
        result = run("--database-url", f"sqlite:///{path}", *command, "--format", "json")
        assert result.exit_code == 3, (command, result.stderr)
        if command != ["doctor"]:
            assert f"error[database-unavailable]: no database at {path}" in result.stderr
            assert result.json()["error"]["code"] == "database-unavailable"
            assert "db upgrade" not in result.stderr
            assert "check the path in --database-url" in result.hint()
        assert not (tmp_path / "typo").exists(), command
    # db upgrade is what makes a new SQLite database at a path given by URL
    created = run("--database-url", f"sqlite:///{path}", "db", "upgrade")
    assert created.exit_code == 0, created.stderr
    assert sqlite_tables(path) >= TABLES
    assert run("--database-url", f"sqlite:///{path}", "list").exit_code == 0


def test_a_read_never_creates_a_database_named_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "missing.db"
    monkeypatch.setenv("COLLABCTL_DATABASE_URL", f"sqlite:///{path}")
    result = run("list")
    assert result.exit_code == 3
    assert f"error[database-unavailable]: no database at {path}" in result.stderr
    assert "COLLABCTL_DATABASE_URL" in result.hint()
    assert not path.exists()


def test_embedded_default_is_created_and_upgraded_on_first_use(home: Path) -> None:
    database = home / "collabctl.db"
    assert not database.exists()
    result = run("list", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == []
    assert database.is_file()
    assert sqlite_tables(database) >= TABLES
    current = run("db", "current", "--format", "json").json()
    assert (current["revision"], current["current"]) == (HEAD_REVISION, True)


def test_embedded_default_left_empty_is_upgraded_by_the_next_command(home: Path) -> None:
    home.mkdir(parents=True)
    sqlite3.connect(home / "collabctl.db").close()
    assert run("show", "1001").exit_code == 1  # not-found: the schema is there, the data not
    assert sqlite_tables(home / "collabctl.db") >= TABLES


def set_revision(url: str, revision: str) -> None:
    engine = create_engine(normalize_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        engine.dispose()


def test_schema_newer_than_this_collabctl_is_refused(empty_url: str) -> None:
    assert run("--database-url", empty_url, "db", "upgrade").exit_code == 0
    set_revision(empty_url, "9999")
    for command in (["list"], ["show", "1001"], ["db", "upgrade"], ["doctor"]):
        result = run("--database-url", empty_url, *command)
        assert result.exit_code == 3, (command, result.stderr)
        assert "error[internal]" not in result.output
        if command != ["doctor"]:
            assert "error[schema-outdated]: this database was upgraded by a newer collabctl" in (
                result.stderr
            )
            assert result.hint() == "hint: upgrade collabctl: pip install --upgrade collabctl"
    current = run("--database-url", empty_url, "db", "current", "--format", "json")
    assert current.exit_code == 3  # schema-outdated: tests/test_schema_versions_cli.py
    assert (current.json()["revision"], current.json()["state"]) == ("9999", "newer")
    # nothing was migrated by the refused upgrade
    assert (
        run("--database-url", empty_url, "db", "current", "--format", "json").json()["revision"]
        == "9999"
    )


@pytest.mark.parametrize("revision", ["zzzz", "0000", "1"])
def test_a_revision_this_collabctl_does_not_know_is_named(empty_url: str, revision: str) -> None:
    assert run("--database-url", empty_url, "db", "upgrade").exit_code == 0
    set_revision(empty_url, revision)
    for command in (["list"], ["db", "upgrade"]):
        result = run("--database-url", empty_url, *command, "--format", "json")
        assert result.exit_code == 3, (command, result.stderr)
        assert result.json()["error"]["code"] == "schema-outdated"
        assert f"the database schema is at revision {revision!r}, which is not in this" in (
            result.stderr
        )
        assert "error[internal]" not in result.output
    current = run("--database-url", empty_url, "db", "current", "--format", "json")
    assert (current.exit_code, current.json()["revision"]) == (3, revision)


def test_the_embedded_database_is_not_upgraded_past_a_newer_schema(home: Path) -> None:
    assert run("list").exit_code == 0
    set_revision(f"sqlite:///{home / 'collabctl.db'}", "9999")
    result = run("list")
    assert result.exit_code == 3
    assert "error[schema-outdated]: this database was upgraded by a newer collabctl" in (
        result.stderr
    )


def test_revisions_are_compared_by_their_place_in_the_history() -> None:
    from collabctl.store import migrate

    history = migrate.history()
    assert history[0] == "0001"
    assert history[-1] == HEAD_REVISION == migrate.head_revision()
    # walked through the scripts' parents, not sorted by name
    for older in history[:-1]:
        assert migrate.classify(older) == migrate.BEHIND
    assert migrate.classify(HEAD_REVISION) == migrate.CURRENT
    assert migrate.classify(None) == migrate.EMPTY
    # text comparison would call "1" newer than "0001", and "zzzz" newer than anything
    assert migrate.classify("1") == migrate.UNKNOWN
    assert migrate.classify("zzzz") == migrate.UNKNOWN
    assert migrate.classify("0000") == migrate.UNKNOWN
    assert migrate.classify("9999") == migrate.NEWER
    assert migrate.classify(str(int(HEAD_REVISION) + 1).zfill(4)) == migrate.NEWER
