"""The SQLite file: reads never wait for a writer, nothing is created at a path given by URL,
modes are set only on what collabctl creates, and permission problems say which path and how
to fix it (``database-unavailable``, exit 3), never ``error[internal]``."""

from __future__ import annotations

import json
import os
import pwd
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import Run, invoke, mode, run_as, warm_up

OFFICE = "556677-8899"

# -- reads and the write lock ---------------------------------------------------------------

HOLD_THE_WRITE_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""


@pytest.fixture
def writer_holding_the_lock(home: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process in the middle of a write transaction on the embedded database."""
    assert invoke("demo").exit_code == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_WRITE_LOCK, str(home / "collabctl.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    try:
        yield holder
    finally:
        if holder.stdin is not None:
            holder.stdin.close()
        holder.wait(timeout=60)


@pytest.mark.parametrize(
    "command",
    [
        ["list", "--format", "json"],
        ["list", "--state", "all"],
        ["show", "1001", "--format", "json"],
        ["log", "--format", "jsonl"],
        ["db", "current"],
        ["end", "1001", "-s", "eekonomi", "-o", "continue", "--by", "customer", "--dry-run"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_read_answers_while_another_process_holds_the_write_lock(
    writer_holding_the_lock: subprocess.Popen[str], command: list[str]
) -> None:
    result = invoke(*command)
    # it finished while the writer still holds the lock: it never waited for it
    assert writer_holding_the_lock.poll() is None
    assert result.exit_code == 0, result.output


# -- a read never creates a database ---------------------------------------------------------


def test_a_mistyped_path_creates_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/typo/dir/x.db"
    result = invoke("--database-url", url, "list", "--format", "json")
    assert result.exit_code == 3
    assert result.json()["error"] == {
        "code": "database-unavailable",
        "message": f"no database at {tmp_path}/typo/dir/x.db",
        "hint": "check the path in --database-url (is it mistyped?); collabctl creates a "
        "database by itself only at its default location",
    }
    assert not (tmp_path / "typo").exists()


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    """A file named by URL that collabctl did not create is never chmod-ed."""
    path = tmp_path / "team.db"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    url = f"sqlite:///{path}"
    assert invoke("--database-url", url, "db", "upgrade").exit_code == 0
    assert invoke("--database-url", url, "demo").exit_code == 0
    assert mode(path) == 0o644
    assert mode(tmp_path) == stat.S_IMODE(os.stat(tmp_path).st_mode)


def test_a_new_database_made_by_db_upgrade_is_private(tmp_path: Path) -> None:
    path = tmp_path / "made" / "for" / "it.db"
    assert invoke("--database-url", f"sqlite:///{path}", "db", "upgrade").exit_code == 0
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert mode(path.parent.parent) == 0o700


@pytest.mark.parametrize("kind", ["fifo", "character device", "directory"])
def test_a_path_that_is_not_a_regular_file_is_refused_and_left_alone(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "not-a-file"
    if kind == "fifo":
        os.mkfifo(path, 0o644)
        expected = "a named pipe"
    elif kind == "directory":
        path.mkdir(mode=0o755)
        expected = "a directory"
    else:
        try:
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
        except PermissionError:
            pytest.skip("creating a device node needs CAP_MKNOD")
        expected = "a character device"
    before = mode(path)
    for command in (["list"], ["db", "upgrade"], ["db", "current"]):
        result = invoke("--database-url", f"sqlite:///{path}", *command)
        assert result.exit_code == 3, (command, result.output)
        assert f"error[database-unavailable]: {path} is not a database file: it is {expected}" in (
            result.stderr
        )
        assert mode(path) == before


# -- modes: only what collabctl creates ------------------------------------------------------


def test_deliberate_owner_modes_are_left_alone(home: Path) -> None:
    assert invoke("demo").exit_code == 0
    (home / "collabctl.db").chmod(0o400)
    home.chmod(0o500)
    try:
        invoke("list")  # as root the modes do not stop it; they must only stay as they are
        invoke("doctor")
        assert mode(home / "collabctl.db") == 0o400
        assert mode(home) == 0o500
    finally:
        home.chmod(0o700)


# -- another user's files --------------------------------------------------------------------


def refused(result: Run, *names: Path) -> None:
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("error[database-unavailable]: "), result.output
    assert "error[internal]" not in result.output
    assert "Traceback" not in result.output
    for name in names:
        assert str(name) in result.stderr, result.stderr


def test_a_database_file_of_another_user(
    nobody: pwd.struct_passwd, public_dir: Path, tmp_path: Path
) -> None:
    database = public_dir / "team.db"
    url = f"sqlite:///{database}"
    assert invoke("--database-url", url, "db", "upgrade").exit_code == 0
    assert invoke("--database-url", url, "demo").exit_code == 0
    database.chmod(0o644)  # readable by all, writable by root only
    change = ["start", "1002", "-s", "lon", "--office", OFFICE]
    warm_up(tmp_path, ["list"], change)
    env = {"COLLABCTL_HOME": str(public_dir / "nobody-home"), "COLLABCTL_DATABASE_URL": url}

    for command in (["list"], change):
        result = run_as(nobody, *command, env=env)
        if command == ["list"] and result.exit_code == 0:
            continue  # reading a readable file is fine; changing it is what must be refused
        refused(result, database)
        assert "not writable by you" in result.stderr or "not writable by you" in result.hint()
        assert "root" in result.output
    assert mode(database) == 0o644
    assert database.stat().st_uid == 0


def test_a_data_directory_that_is_not_writable(
    nobody: pwd.struct_passwd, public_dir: Path, tmp_path: Path
) -> None:
    home = public_dir / "home"
    home.mkdir(mode=0o755)  # root's, and others may not write in it
    warm_up(tmp_path, ["list"])
    result = run_as(nobody, "list", env={"COLLABCTL_HOME": str(home)})
    refused(result, home / "collabctl.db", home)
    assert "is not writable by you" in result.stderr
    assert "COLLABCTL_HOME" in result.hint()
    assert list(home.iterdir()) == []


def test_collabctl_home_under_an_unwritable_parent(
    nobody: pwd.struct_passwd, public_dir: Path, tmp_path: Path
) -> None:
    home = public_dir / "not-yet" / "home"
    warm_up(tmp_path, ["list"])
    result = run_as(nobody, "list", "--format", "json", env={"COLLABCTL_HOME": str(home)})
    refused(result, public_dir)
    assert json.loads(result.stdout)["error"]["code"] == "database-unavailable"
    assert not (public_dir / "not-yet").exists()


def test_an_owners_read_only_modes_are_explained_and_kept(
    nobody: pwd.struct_passwd, public_dir: Path, tmp_path: Path
) -> None:
    """The owner made the file 0400 and its directory 0500: collabctl says so, changes neither."""
    home = public_dir / "home"
    home.mkdir(mode=0o700)
    assert invoke("demo", env={"COLLABCTL_HOME": str(home)}).exit_code == 0
    database = home / "collabctl.db"
    for path in (home, database):
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    database.chmod(0o400)
    home.chmod(0o500)
    change = ["start", "1002", "-s", "lon", "--office", OFFICE]
    warm_up(tmp_path, ["list"], change)

    result = run_as(nobody, *change, env={"COLLABCTL_HOME": str(home)})
    refused(result, database)
    assert f"chmod u+w {database}" in result.hint() or f"chmod u+w {home}" in result.hint()
    assert (mode(database), mode(home)) == (0o400, 0o500)


def test_collabctls_connections_keep_foreign_keys_in_wal_mode(home: Path) -> None:
    """SPEC §5: WAL, a busy timeout and foreign keys on every connection, readers too."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from collabctl.store.database import Database

    assert invoke("demo").exit_code == 0
    db = Database(f"sqlite:///{home / 'collabctl.db'}", embedded=True)
    try:
        for engine in (db.engine, db.read_engine):
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == int(
                    db.busy_timeout * 1000
                )
        with pytest.raises(IntegrityError, match="FOREIGN KEY"), db.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO subscription (customer_number, service, state) "
                     "VALUES ('9999', 'lon', 'active')")
            )  # fmt: skip
    finally:
        db.dispose()
