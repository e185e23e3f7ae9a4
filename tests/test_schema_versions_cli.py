"""`db current` and `db upgrade` on a schema this collabctl cannot use: one that a newer
collabctl upgraded (alembic_version 9999) or a revision it does not know (zzzz).

The revision is set behind collabctl's back, as another program would: with the
sqlite3 module on a real SQLite file, with psycopg on the real PostgreSQL server.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from collabctl.config import url_password
from collabctl.store.database import HEAD_REVISION
from helpers import Run, invoke

NEWER_LINE = f"9999 (head {HEAD_REVISION}): upgraded by a newer collabctl: upgrade collabctl"
NEWER_MESSAGE = (
    f"error[schema-outdated]: this database was upgraded by a newer collabctl "
    f"(schema 9999; this collabctl knows up to {HEAD_REVISION})"
)
NEWER_HINT = "hint: upgrade collabctl: pip install --upgrade collabctl"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database at the newest schema that is not the embedded default (never upgraded
    implicitly): a SQLite file made by `db upgrade`, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_database_url"))
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    made = invoke("--database-url", url, "db", "upgrade")
    assert made.exit_code == 0, made.stderr
    return url


def set_revision(url: str, revision: str) -> None:
    """Write alembic_version as another program would, not through collabctl."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            with conn:
                conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(url) as pg:
        pg.execute("UPDATE alembic_version SET version_num = %s", (revision,))


def revision_of(url: str) -> str:
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(url) as pg:
        row = pg.execute("SELECT version_num FROM alembic_version").fetchone()
        assert row is not None
        return str(row[0])


def run(url: str, *args: str) -> Run:
    result = invoke("--database-url", url, *args)
    assert "error[internal]" not in result.output, result.output
    assert "Traceback" not in result.output
    password = url_password(url)
    assert not password or password not in result.output
    return result


# -- db current ---------------------------------------------------------------------------


def test_db_current_on_a_newer_schema_says_upgrade_collabctl(shared_url: str) -> None:
    set_revision(shared_url, "9999")
    table = run(shared_url, "db", "current")
    assert table.exit_code == 3
    assert table.stdout == NEWER_LINE + "\n"
    assert "run `collabctl db upgrade`" not in table.output
    assert table.stderr.startswith(NEWER_MESSAGE), table.stderr
    assert table.hint() == NEWER_HINT

    machine = run(shared_url, "db", "current", "--format", "json")
    assert machine.exit_code == 3
    found = machine.json()  # one document: the status, with the error in it
    assert {k: found[k] for k in ("revision", "head", "current", "state")} == {
        "revision": "9999",
        "head": HEAD_REVISION,
        "current": False,
        "state": "newer",
    }
    assert found["error"]["code"] == "schema-outdated"
    assert found["error"]["hint"] == NEWER_HINT.removeprefix("hint: ")
    assert machine.stderr.startswith(NEWER_MESSAGE)


def test_db_current_names_a_revision_it_does_not_know(shared_url: str) -> None:
    set_revision(shared_url, "zzzz")
    table = run(shared_url, "db", "current")
    assert table.exit_code == 3
    assert table.stdout == (
        f"zzzz (head {HEAD_REVISION}): a revision this collabctl does not know\n"
    )
    assert table.stderr.startswith(
        "error[schema-outdated]: the database schema is at revision 'zzzz', which is not in "
        "this collabctl's migrations"
    ), table.stderr
    assert "run `collabctl db upgrade`" not in table.output

    for fmt in ("json", "jsonl"):
        machine = run(shared_url, "db", "current", "--format", fmt)
        assert machine.exit_code == 3
        found = json.loads(machine.stdout)
        assert (found["revision"], found["state"], found["current"]) == ("zzzz", "unknown", False)
        assert found["error"]["code"] == "schema-outdated"
        assert "'zzzz'" in found["error"]["message"]

    csv = run(shared_url, "db", "current", "--format", "csv")
    assert csv.exit_code == 3
    header, row = csv.stdout.splitlines()[:2]
    assert header == "database,revision,head,current,state,error"
    assert ",zzzz," in row and ",unknown," in row


def test_db_current_on_a_usable_schema_exits_0_with_its_state(
    shared_url: str, tmp_path: Path
) -> None:
    current = run(shared_url, "db", "current", "--format", "json")
    assert current.exit_code == 0, current.stderr
    assert (current.json()["state"], current.json()["current"]) == ("current", True)
    assert "error" not in current.json()
    table = run(shared_url, "db", "current")
    assert table.stdout == f"{HEAD_REVISION} (head {HEAD_REVISION}): current\n"

    set_revision(shared_url, "0001")  # older: this collabctl upgrades it
    behind = run(shared_url, "db", "current")
    assert behind.exit_code == 0, behind.stderr
    assert behind.stdout == f"0001 (head {HEAD_REVISION}): outdated: run `collabctl db upgrade`\n"
    assert behind.stderr == ""
    assert run(shared_url, "db", "current", "--format", "json").json()["state"] == "behind"


def test_db_current_on_an_empty_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    url = f"sqlite:///{path}"
    result = run(url, "db", "current", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert (result.json()["revision"], result.json()["state"]) == (None, "empty")
    table = run(url, "db", "current")
    assert table.stdout == f"empty (head {HEAD_REVISION}): empty: run `collabctl db upgrade`\n"


# -- db upgrade ---------------------------------------------------------------------------


@pytest.mark.parametrize("revision", ["9999", "zzzz"])
def test_db_upgrade_refuses_a_schema_it_cannot_place_and_leaves_it(
    shared_url: str, revision: str
) -> None:
    set_revision(shared_url, revision)
    for fmt in ("table", "json"):
        result = run(shared_url, "db", "upgrade", "--format", fmt)
        assert result.exit_code == 3, result.output
        assert result.stderr.startswith("error[schema-outdated]: "), result.stderr
        if fmt == "json":
            assert result.json()["error"]["code"] == "schema-outdated"
        if revision == "9999":
            assert result.stderr.startswith(NEWER_MESSAGE)
            assert result.hint() == NEWER_HINT
        else:
            assert "'zzzz'" in result.stderr
    assert revision_of(shared_url) == revision


@pytest.mark.parametrize("revision", ["9999", "zzzz"])
def test_every_other_command_refuses_it_too(shared_url: str, revision: str) -> None:
    set_revision(shared_url, revision)
    for command in (["list"], ["show", "1001"], ["log"]):
        result = run(shared_url, *command, "--format", "json")
        assert result.exit_code == 3, (command, result.output)
        assert result.json()["error"]["code"] == "schema-outdated"
    doctor = run(shared_url, "doctor", "--format", "json")
    assert doctor.exit_code == 3
    [schema] = [c for c in doctor.json() if c["check"] == "schema"]
    assert schema["ok"] is False
    expected = "newer collabctl" if revision == "9999" else "'zzzz'"
    assert expected in schema["detail"]
