"""Database failures as users see them: each kind with a hint that fits it.

"check the URL (host, port, user, password…)" is for a server that cannot be
reached or refuses the login; a damaged file, a full disk, a lock held too long
and a read-only file each say what to do about that. Every error here is a real
one, raised by a real database.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collabctl.domain.errors import CollabError, DatabaseUnavailable
from collabctl.store import failures
from collabctl.store.database import Database
from helpers import invoke

URL_HINT = "check the URL (host, port, user, password"


def sqlite_error(path: Path, *statements: str, uri: str | None = None) -> sqlite3.Error:
    """The error the last statement raises on ``path``."""
    connection = sqlite3.connect(uri or str(path), uri=uri is not None, isolation_level=None)
    try:
        for statement in statements:
            connection.execute(statement)
    except sqlite3.Error as exc:
        return exc
    finally:
        connection.close()
    raise AssertionError("no error")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Database, Path]]:
    path = tmp_path / "team.db"
    url = f"sqlite:///{path}"
    assert invoke("--database-url", url, "db", "upgrade").exit_code == 0
    assert invoke("--database-url", url, "demo").exit_code == 0
    db = Database(url)
    try:
        yield db, path
    finally:
        db.dispose()


# -- a damaged file ----------------------------------------------------------------------------


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database\n" * 500)
    for command in (["list"], ["db", "current"], ["db", "upgrade"], ["show", "1001"]):
        result = invoke("--database-url", f"sqlite:///{garbage}", *command)
        assert result.exit_code == 3, (command, result.output)
        assert "error[database-unavailable]: cannot use the database" in result.stderr
        assert "file is not a database" in result.stderr
        assert result.hint() == (
            f"hint: {garbage} is damaged or is not a SQLite database: check that the URL names "
            f"the right file; restore it from a backup, or salvage what is left with "
            f"`sqlite3 {garbage} .recover`"
        )
        assert URL_HINT not in result.output


def test_the_embedded_database_damaged(home: Path) -> None:
    home.mkdir(mode=0o700)
    (home / "collabctl.db").write_bytes(b"\x00garbage" * 1000)
    result = invoke("list")
    assert result.exit_code == 3
    assert "is damaged or is not a SQLite database" in result.hint()


def test_a_damaged_page(database: tuple[Database, Path]) -> None:
    db, path = database
    db.dispose()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    with path.open("r+b") as handle:
        size = handle.seek(0, 2)
        for offset in range(page_size, size, page_size):  # every page but the first
            handle.seek(offset)
            handle.write(b"\xff" * 64)
    result = invoke("--database-url", f"sqlite:///{path}", "list", "--state", "all")
    assert result.exit_code == 3, result.output
    assert "is damaged or is not a SQLite database" in result.hint()
    assert URL_HINT not in result.output


# -- a lock held longer than the busy timeout ------------------------------------------------


HOLD = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def held(database: tuple[Database, Path]) -> Iterator[tuple[Database, Path]]:
    db, path = database
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    try:
        yield db, path
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)


def test_a_lock_held_too_long_says_so(held: tuple[Database, Path]) -> None:
    db, path = held
    # the real error of a writer that waited for the lock and gave up
    error = sqlite_error(path, "PRAGMA busy_timeout = 0", "BEGIN IMMEDIATE")
    assert getattr(error, "sqlite_errorname", None) == "SQLITE_BUSY"
    translated = db.translate(error)
    assert isinstance(translated, DatabaseUnavailable)
    assert translated.message == f"cannot use the database sqlite:///{path}: database is locked"
    assert translated.hint == (
        f"another process held the write lock on {path} for longer than 60 s: wait for it to "
        f"finish (a long import or bulk end?) and run again; `fuser -v {path}` shows who has "
        "the file open"
    )


def test_a_writer_gives_up_after_the_busy_timeout_with_that_hint(
    held: tuple[Database, Path],
) -> None:
    """The same through a writing session, with this Database's busy timeout made short."""
    from sqlalchemy import text

    db, path = held
    db.busy_timeout = 0.2
    with pytest.raises(DatabaseUnavailable) as refused:
        db.transact(lambda session: session.execute(text("SELECT 1")))
    assert refused.value.hint is not None
    assert refused.value.hint.startswith(f"another process held the write lock on {path}")
    assert URL_HINT not in refused.value.hint


# -- a full disk, a read-only file ------------------------------------------------------------


def test_a_full_disk(database: tuple[Database, Path]) -> None:
    db, path = database
    with sqlite3.connect(path) as connection:
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
    # SQLite's own "disk full": the file may not grow past the pages it has
    error = sqlite_error(
        path,
        f"PRAGMA max_page_count = {pages}",
        "CREATE TABLE filler AS SELECT hex(randomblob(200000)) AS x",
    )
    assert getattr(error, "sqlite_errorname", None) == "SQLITE_FULL"
    translated = db.translate(error)
    assert "database or disk is full" in translated.message
    assert translated.hint == (
        f"the disk holding {path} is full: free some space and run again (the failed change "
        "was rolled back)"
    )


def test_a_read_only_file(database: tuple[Database, Path]) -> None:
    db, path = database
    error = sqlite_error(path, "DELETE FROM audit_event", uri=f"file:{path}?mode=ro")
    assert str(getattr(error, "sqlite_errorname", "")).startswith("SQLITE_READONLY")
    translated = db.translate(error)
    assert translated.hint is not None
    assert str(path) in translated.hint
    assert URL_HINT not in translated.hint


# -- connection failures keep the URL hint ---------------------------------------------------


def test_an_unreachable_server_gets_the_url_hint() -> None:
    result = invoke("--database-url", "postgresql://u:pw@127.0.0.1:1/db", "list")
    assert result.exit_code == 3
    assert URL_HINT in result.hint()


def test_a_wrong_password_gets_the_url_hint(pg_database_url: str) -> None:
    from collabctl.config import url_password

    password = url_password(pg_database_url)
    assert password
    result = invoke("--database-url", pg_database_url.replace(password, "wrong-one"), "list")
    assert result.exit_code == 3
    assert URL_HINT in result.hint()


def test_a_postgresql_lock_timeout(pg_database_url: str) -> None:
    import psycopg

    from collabctl.config import parse_url

    url = parse_url(pg_database_url).url
    assert url is not None
    params: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
        "autocommit": True,
    }
    with psycopg.connect(**params) as holder, psycopg.connect(**params) as waiter:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE company IN ACCESS EXCLUSIVE MODE")
        waiter.execute("SET lock_timeout = '100ms'")
        with pytest.raises(psycopg.Error) as raised:
            waiter.execute("SELECT count(*) FROM company")
        holder.execute("ROLLBACK")
    db = Database(pg_database_url)
    translated = db.translate(raised.value)
    assert failures.kind_of(raised.value) == failures.LOCKED
    assert "pg_stat_activity" in (translated.hint or "")
    assert URL_HINT not in (translated.hint or "")


def test_an_error_already_worded_for_users_is_kept(database: tuple[Database, Path]) -> None:
    db, _ = database
    error = DatabaseUnavailable("no database at /x", "check the path")
    assert db.translate(error) is error
    other = CollabError("something", "do this", code="conflict")
    assert db.translate(other) is other
