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
from helpers import invoke

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
    hint = next(line for line in result.stderr.splitlines() if line.startswith("hint:"))
    assert hint.startswith("hint: collabctl ")
    assert hint.endswith(" db upgrade")
    password = url_password(empty_url)
    if password:
        assert password not in result.stderr + result.stdout
    assert result.json()["error"]["code"] == "schema-outdated"
    assert (
        run("--database-url", empty_url, "db", "current", "--format", "json").json()["revision"]
        is None
    )


def test_the_hint_command_fixes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "via-env.db"
    monkeypatch.setenv("COLLABCTL_DATABASE_URL", f"sqlite:///{path}")
    refused = run("list")
    assert refused.exit_code == 3
    assert "error[schema-outdated]" in refused.stderr
    assert sqlite_tables(path) == set()
    assert run("db", "upgrade").exit_code == 0
    assert run("list").exit_code == 0


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


def test_schema_newer_than_this_collabctl_is_refused(empty_url: str) -> None:
    assert run("--database-url", empty_url, "db", "upgrade").exit_code == 0
    engine = create_engine(normalize_url(empty_url))
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    result = run("--database-url", empty_url, "list")
    assert result.exit_code == 3
    assert "error[schema-outdated]" in result.stderr
    assert "newer than this collabctl knows" in result.stderr
    assert "hint: upgrade collabctl" in result.stderr
    current = run("--database-url", empty_url, "db", "current", "--format", "json").json()
    assert (current["revision"], current["current"]) == ("9999", False)
