"""doctor on a real SQLite file: it does not wait behind a writer, says a failure once,
and reports file modes without ever changing them."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import Run, invoke, run_as, warm_up

#: Holds SQLite's write lock on the file named by argv[1] until its stdin closes.
HOLD_WRITE_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


def checks_of(result: Run) -> dict[str, dict[str, Any]]:
    return {c["check"]: c for c in result.json()}


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def database(home: Path) -> Path:
    """The embedded database, made and private as collabctl makes it."""
    assert invoke("demo").exit_code == 0
    return home / "collabctl.db"


# -- a writer holds the lock ---------------------------------------------------------------


def test_doctor_completes_while_another_process_holds_the_write_lock(database: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE_LOCK, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        result = invoke("doctor", "--format", "json")
        checks = checks_of(result)
        # the reads answer at once; the test write says why it was not made, and a
        # writer at work is not a problem of the setup
        assert result.exit_code == 0, checks
        assert all(c["ok"] for c in checks.values()), checks
        assert checks["database"]["detail"].endswith("journal wal")
        assert checks["schema"]["detail"].startswith("revision ")
        assert checks["write"]["detail"].startswith(
            "not tested: another process held the write lock for longer than"
        )
        assert checks["notifications"]["detail"].startswith("0 pending, 0 failed")
        assert holder.poll() is None  # still holding it: doctor did not wait it out
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert holder.returncode == 0
    after = checks_of(invoke("doctor", "--format", "json"))
    assert after["write"]["detail"] == "a test write was made and rolled back"


# -- a failure said once ---------------------------------------------------------------------


def test_no_database_at_a_path_is_said_once(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "x.db"
    for fmt in ("json", "table"):
        result = invoke("--database-url", f"sqlite:///{missing}", "doctor", "--format", fmt)
        assert result.exit_code == 3
        assert result.output.count("no database at") == 1, result.output
        assert "cannot use the database" not in result.output
    checks = checks_of(
        invoke("--database-url", f"sqlite:///{missing}", "doctor", "--format", "json")
    )
    assert checks["database"] == {
        "check": "database",
        "ok": False,
        "detail": f"no database at {missing}",
    }
    assert not (tmp_path / "typo").exists()


# -- permissions: reported, never changed ----------------------------------------------------


def test_a_file_others_can_read_is_reported_and_left_as_it_is(database: Path) -> None:
    database.chmod(0o644)
    result = invoke("doctor", "--format", "json")
    assert result.exit_code == 3
    permissions = checks_of(result)["permissions"]
    assert permissions == {
        "check": "permissions",
        "ok": False,
        "detail": (
            f"file 0644, directory 0700: others can read customer data: chmod 600 {database}"
        ),
    }
    assert mode(database) == 0o644


def test_a_loose_embedded_directory_is_reported_and_left_as_it_is(
    database: Path, home: Path
) -> None:
    home.chmod(0o755)
    result = invoke("doctor", "--format", "json")
    assert result.exit_code == 3
    detail = checks_of(result)["permissions"]["detail"]
    assert detail == (
        f"file 0600, directory 0755: others can look into the data directory: chmod 700 {home}"
    )
    assert mode(home) == 0o755


def test_a_directory_named_by_url_is_not_doctors_business(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    url = f"sqlite:///{shared / 'team.db'}"
    assert invoke("--database-url", url, "db", "upgrade").exit_code == 0
    result = invoke("--database-url", url, "doctor", "--format", "json")
    assert result.exit_code == 0, result.stdout
    assert checks_of(result)["permissions"]["detail"] == "file 0600, directory 0755"


def test_the_owners_own_read_only_file_is_explained_not_reset(
    nobody: pwd.struct_passwd, public_dir: Path, tmp_path: Path
) -> None:
    """The owner made the database file 0400: doctor says what that means, changes nothing."""
    home = public_dir / "home"
    home.mkdir(mode=0o700)
    assert invoke("demo", env={"COLLABCTL_HOME": str(home)}).exit_code == 0
    database = home / "collabctl.db"
    for path in (home, database):
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    database.chmod(0o400)
    warm_up(tmp_path, ["doctor"])

    result = run_as(nobody, "doctor", "--format", "json", env={"COLLABCTL_HOME": str(home)})
    assert "error[internal]" not in result.output
    checks = checks_of(result)
    assert result.exit_code == 3, checks
    permissions = checks["permissions"]
    assert permissions["ok"] is False
    assert permissions["detail"].startswith("file 0400, directory 0700: the database file ")
    assert f"is read-only (owner {nobody.pw_name}, mode 0400)" in permissions["detail"]
    assert f"to allow changes: chmod u+w {database}" in permissions["detail"]
    assert checks["database"]["ok"] and checks["schema"]["ok"]  # reading works as it is
    assert (mode(database), mode(home)) == (0o400, 0o700)
