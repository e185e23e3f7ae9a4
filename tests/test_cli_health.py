"""doctor's checks as findings (operations/health.py), without the command line."""

from __future__ import annotations

from pathlib import Path

from collabctl.operations.database_schema import HEAD_REVISION
from collabctl.operations.health import Finding, check_health

PASSWORD = "s3cretpw"
UNREACHABLE = f"postgresql://doc:{PASSWORD}@127.0.0.1:1/db"


def test_a_fresh_home_passes_every_check(home: Path) -> None:
    findings = check_health(None, "tester")
    assert all(isinstance(f, Finding) for f in findings)
    assert [f.check for f in findings] == [
        "config",
        "database-url",
        "database",
        "permissions",
        "schema",
        "write",
        "notifications",
    ]
    assert all(f.ok for f in findings), findings
    assert findings[0].to_dict() == {
        "check": "config",
        "ok": True,
        "detail": f"{home / 'config.toml'} (not present, defaults used)",
    }
    assert "(from default)" in findings[1].detail
    # the embedded database is made and upgraded on first use, doctor's as any command's
    assert findings[4].detail.endswith("(newest; upgraded from empty)")
    assert check_health(None, "tester")[4].detail.endswith("(newest)")


def test_the_test_write_leaves_nothing(home: Path) -> None:
    from sqlalchemy import func, select

    from collabctl.operations.database_schema import open_database
    from collabctl.store.models import AuditEvent

    assert all(f.ok for f in check_health(None, "tester"))
    db = open_database(None, {})
    try:
        with db.session(write=False) as session:
            assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    finally:
        db.dispose()


def test_an_unreachable_database_stops_the_checks_and_says_why_once() -> None:
    findings = check_health(UNREACHABLE, "tester")
    assert [(f.check, f.ok) for f in findings] == [
        ("config", True),
        ("database-url", True),
        ("database", False),
    ]
    detail = findings[-1].detail
    assert detail.count("cannot use the database") == 1, detail
    assert all(PASSWORD not in f.detail for f in findings)
    assert "doc:***@127.0.0.1:1/db (from option)" in findings[1].detail


def test_a_url_that_is_not_one_stops_at_database_url() -> None:
    findings = check_health(f"mysql://doc:{PASSWORD}@host/db", "tester")
    assert [(f.check, f.ok) for f in findings] == [("config", True), ("database-url", False)]
    assert PASSWORD not in findings[-1].detail


def test_a_broken_config_file_stops_at_config(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("database_url = \n", encoding="utf-8")
    findings = check_health(None, "tester")
    assert [(f.check, f.ok) for f in findings] == [("config", False)]
    assert "config.toml" in findings[0].detail


def test_a_shared_database_behind_is_reported_never_upgraded(tmp_path: Path) -> None:
    import sqlite3

    from helpers import invoke

    path = tmp_path / "shared.db"
    url = f"sqlite:///{path}"
    assert invoke("--database-url", url, "db", "upgrade").exit_code == 0
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0002'")
    findings = check_health(url, "tester")
    assert [(f.check, f.ok) for f in findings][-1] == ("schema", False)
    assert findings[-1].detail == (
        f"the database schema is at 0002, collabctl needs {HEAD_REVISION}; fix: run "
        "`collabctl db upgrade` with the same --database-url as this command"
    )
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0002",)
