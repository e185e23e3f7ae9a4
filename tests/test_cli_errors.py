"""Errors, exit codes and what must never leak: the command line's contract with scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import collabctl
from helpers import CLI, fresh_process, invoke, mode, run_process, sqlite_only

PASSWORD = "s3cretpw"
UNREACHABLE = f"postgresql://u:{PASSWORD}@127.0.0.1:1/db"
run = invoke  # on whatever database the options name (no backend fixture)


# -- error[CODE] + hint, and the JSON twin on stdout ---------------------------------------------

#: (command line, error code, exit code) on the demo data
ERRORS: list[tuple[list[str], str, int]] = [
    (cmd.split(), code, exit_code)
    for cmd, code, exit_code in (
        ("show 9999", "not-found", 1),
        ("show 12345678901", "invalid-input", 2),
        ("start 1001 --service eekonomi --office 556677-8899", "duplicate", 1),
        ("end 0042 -s eekonomi -o continue --by customer --yes", "already-ended", 1),
        ("--as office:559123-4561 end 1001 -s eekonomi -o continue --yes", "not-a-party", 1),
        ("end 1002 -s eekonomi -o deactivate --by office --yes", "main-contact-missing", 1),
        ("end 1001 -s eekonomi -o delete --by office --yes", "outcome-not-allowed", 1),
        ("end 1003 -s utlagg -o continue --by office --yes", "checklist-incomplete", 1),
        (
            "set-main-contact 1002 --user revision@norrrevision.se",
            "auditor-cannot-be-main-contact",
            1,
        ),
        # no terminal to ask in: --yes is required
        ("end 1001 -s eekonomi -o continue --by customer", "invalid-input", 2),
        ("--as nobody list", "invalid-input", 2),
    )
]


def test_errors_print_code_message_and_hint_and_change_nothing(demo: CLI) -> None:
    def state() -> tuple[object, object]:
        listed = demo("list", "--state", "all", "--format", "json").json()
        return listed, demo("log", "--format", "json").json()

    before = state()
    for args, code, exit_code in ERRORS:
        table = demo(*args)
        assert table.exit_code == exit_code, (args, table.stderr)
        lines = table.stderr.splitlines()
        assert lines[0].startswith(f"error[{code}]: "), (args, table.stderr)
        assert any(line.startswith("hint: ") for line in lines[1:]), table.stderr
        assert table.stdout == ""
        assert "Traceback" not in table.stderr

        machine = demo(*args, "--format", "json")
        assert machine.exit_code == exit_code
        error = machine.json()["error"]
        assert set(error) == {"code", "message", "hint"}
        assert error["code"] == code
        assert machine.stderr.splitlines()[0] == f"error[{code}]: {error['message']}"
        assert f"hint: {error['hint'].splitlines()[0]}" in machine.stderr

        assert demo(*args, "--format", "jsonl").jsonl() == [{"error": error}]
        # a spreadsheet format too: the error is the JSON object on stdout (SPEC §3)
        assert json.loads(demo(*args, "--format", "csv").stdout) == {"error": error}
    # every one of them was refused before anything changed
    assert state() == before


@sqlite_only  # exit codes of parsing and usage
def test_exit_codes_for_success_and_usage(demo: CLI) -> None:
    assert demo("list").exit_code == 0
    ok = demo(
        "end", "1001", "--service", "eekonomi", "--outcome", "continue", "--by", "customer", "--yes"
    )
    assert ok.exit_code == 0, ok.stderr
    assert demo("no-such-command").exit_code == 2
    assert demo("list", "--no-such-option").exit_code == 2
    assert demo("list", "--format", "xml").exit_code == 2
    assert demo("start", "1001").exit_code == 2  # --service and --office missing


# -- database problems: exit 3, and no password anywhere --------------------------------------------

UNREACHABLE_COMMANDS = [
    ["list"],
    ["show", "1001"],
    ["log"],
    ["demo"],
    ["db", "upgrade"],
    ["db", "current"],
    ["start", "1001", "--service", "eekonomi", "--office", "556677-8899"],
    ["end", "1001", "--service", "eekonomi", "--outcome", "continue", "--by", "office", "--yes"],
    ["export", "1001", "-o", "out.json"],
]


@pytest.mark.parametrize("args", UNREACHABLE_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_unreachable_database_is_exit_3_without_the_password(args: list[str]) -> None:
    result = run("--database-url", UNREACHABLE, *args, "--format", "json")
    assert result.exit_code == 3
    assert result.stderr.startswith("error[database-unavailable]: cannot use the database ")
    assert "postgresql://u:***@127.0.0.1:1/db" in result.stderr
    assert "hint: " in result.stderr
    assert result.json()["error"]["code"] == "database-unavailable"
    assert PASSWORD not in result.stdout + result.stderr
    assert not Path("out.json").exists()


def test_doctor_reports_an_unreachable_database_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLLABCTL_DATABASE_URL", UNREACHABLE)
    for fmt in ("json", "table", "csv"):
        result = run("doctor", "--format", fmt)
        assert result.exit_code == 3
        assert PASSWORD not in result.stdout + result.stderr
    checks = {c["check"]: c for c in run("doctor", "--format", "json").json()}
    assert (
        checks["database-url"]["detail"] == "postgresql://u:***@127.0.0.1:1/db (from environment)"
    )
    assert checks["database"]["ok"] is False


def test_bulk_and_import_from_stdin_with_an_unreachable_database() -> None:
    bulk = run(
        "--database-url", UNREACHABLE, "end", "--from", "-", "--service", "eekonomi",
        "--outcome", "continue", "--by", "office", "--yes", input="1001\n",
    )  # fmt: skip
    assert bulk.exit_code == 3
    assert "error[database-unavailable]" in bulk.stderr
    imported = run("--database-url", UNREACHABLE, "import", "-", input="{}\n")
    assert imported.exit_code == 3
    assert PASSWORD not in bulk.stdout + bulk.stderr + imported.stdout + imported.stderr


def test_percent_encoded_password_is_hidden_in_both_forms() -> None:
    url = "postgresql://u:p%40ss%3Aw0rd@127.0.0.1:1/db"
    result = run("--database-url", url, "doctor", "--format", "json")
    assert result.exit_code == 3
    output = result.stdout + result.stderr
    assert "p%40ss%3Aw0rd" not in output
    assert "p@ss:w0rd" not in output


def test_wrong_password_on_a_real_server(pg_database_url: str) -> None:
    from collabctl.config import url_password

    real = url_password(pg_database_url)
    assert real
    wrong = pg_database_url.replace(f":{real}@", f":{PASSWORD}@")
    result = run("--database-url", wrong, "list", "--format", "json")
    assert result.exit_code == 3
    assert result.json()["error"]["code"] == "database-unavailable"
    assert PASSWORD not in result.stdout + result.stderr
    assert real not in result.stdout + result.stderr
    # and the right password works, without being shown either
    good = run("--database-url", pg_database_url, "doctor", "--format", "json")
    assert good.exit_code == 0, good.stdout
    assert real not in good.stdout + good.stderr


def test_a_real_process_shows_no_traceback_and_no_password() -> None:
    listed = fresh_process("--database-url", UNREACHABLE, "list")
    assert listed.exit_code == 3
    assert listed.stderr.startswith("error[database-unavailable]")
    assert "Traceback" not in listed.stderr
    assert PASSWORD not in listed.stdout + listed.stderr


def test_debug_mode_still_hides_the_password() -> None:
    result = run_process("--database-url", UNREACHABLE, "list", env={"COLLABCTL_DEBUG": "1"})
    assert result.exit_code == 3
    assert PASSWORD not in result.stdout + result.stderr


def test_python_dash_m_runs_the_same_program() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "collabctl", "--database-url", UNREACHABLE, "db", "current"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 3
    assert result.stderr.startswith("error[database-unavailable]")
    assert "Traceback" not in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


# -- files are private to their owner -------------------------------------------------------------


def test_embedded_database_file_and_directory_are_private(home: Path) -> None:
    assert run("list").exit_code == 0
    assert mode(home / "collabctl.db") == 0o600
    assert mode(home) == 0o700


def test_explicit_sqlite_database_is_private_too(tmp_path: Path) -> None:
    path = tmp_path / "new-dir" / "shared.db"
    assert run("--database-url", f"sqlite:///{path}", "db", "upgrade").exit_code == 0
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


def test_a_loose_database_file_is_left_as_its_owner_set_it(home: Path) -> None:
    assert run("list").exit_code == 0
    (home / "collabctl.db").chmod(0o644)
    assert run("list").exit_code == 0
    # collabctl sets the modes only of what it creates; doctor points at the fix
    assert mode(home / "collabctl.db") == 0o644
    doctor = run("doctor", "--format", "json")
    permissions = next(c for c in json.loads(doctor.stdout) if c["check"] == "permissions")
    assert permissions["ok"] is False
    assert f"chmod 600 {home / 'collabctl.db'}" in permissions["detail"]


def test_an_existing_loose_home_is_left_alone_and_flagged(home: Path) -> None:
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    assert run("list").exit_code == 0
    assert mode(home) == 0o755
    assert mode(home / "collabctl.db") == 0o600  # made by collabctl: private
    doctor = run("doctor", "--format", "json")
    permissions = next(c for c in json.loads(doctor.stdout) if c["check"] == "permissions")
    assert permissions["ok"] is False, permissions
    assert f"chmod 700 {home}" in permissions["detail"]


def test_doctor_flags_a_config_file_with_a_password_that_others_can_read(home: Path) -> None:
    home.mkdir(mode=0o700)
    config = home / "config.toml"
    config.write_text(f'database_url = "postgresql://agent:{PASSWORD}@127.0.0.1:1/db"\n')
    config.chmod(0o644)
    result = run("doctor", "--format", "json")
    assert result.exit_code == 3
    check = next(c for c in json.loads(result.stdout) if c["check"] == "config")
    assert check["ok"] is False and f"chmod 600 {config}" in check["detail"]
    assert PASSWORD not in result.stdout + result.stderr
    config.chmod(0o600)
    check = next(
        c for c in json.loads(run("doctor", "--format", "json").stdout) if c["check"] == "config"
    )
    assert check["ok"] is True


def test_a_database_named_by_url_leaves_a_shared_directory_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    assert run("--database-url", f"sqlite:///{shared / 'team.db'}", "db", "upgrade").exit_code == 0
    assert mode(shared / "team.db") == 0o600
    assert mode(shared) == 0o755


def test_backup_files_are_private(demo: CLI, home: Path) -> None:
    result = demo(
        "end", "1007", "--service", "utlagg", "--outcome", "delete", "--by", "customer", "--yes",
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    ended = result.json()
    backup = Path(ended["backup_path"])
    assert backup.is_file()
    assert backup.parent == home / "backups"
    assert mode(backup) == 0o600
    assert mode(backup.parent) == 0o700
    saved = json.loads(backup.read_text(encoding="utf-8"))
    records = saved["companies"][0]["records"]
    assert {r["id"] for r in records} == {"ER-7001", "OL-7002"}
    assert ended["records_deleted"] == 2


@sqlite_only  # the file's mode is collabctl's, not the database's
def test_export_files_are_private(demo: CLI, tmp_path: Path) -> None:
    named = demo("export", "1001", "-o", "export.json")
    assert named.exit_code == 0, named.stderr
    assert mode(tmp_path / "export.json") == 0o600

    default = demo("export", "1005", "--service", "lon", "--format", "json")
    assert default.exit_code == 0, default.stderr
    written = list(tmp_path.glob("collabctl-export-1005-lon-*.json"))
    assert len(written) == 1
    assert mode(written[0]) == 0o600


@sqlite_only  # the file's mode is collabctl's, not the database's
def test_export_does_not_loosen_an_existing_file(demo: CLI, tmp_path: Path) -> None:
    target = tmp_path / "existing.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o644)
    assert demo("export", "1001", "-o", str(target), "--force").exit_code == 0
    assert mode(target) == 0o600
    assert json.loads(target.read_text(encoding="utf-8"))["companies"][0]["customer_number"] == (
        "1001"
    )


# -- --version and --help ---------------------------------------------------------------------------

COMMANDS = [
    "demo",
    "import",
    "list",
    "show",
    "start",
    "end",
    "set-main-contact",
    "add-user",
    "export",
    "log",
    "doctor",
    "db",
]


def test_version_and_help_in_a_real_process(home: Path) -> None:
    version = fresh_process("--version")
    assert version.exit_code == 0
    assert version.stdout.strip() == f"collabctl {collabctl.__version__}"

    helped = fresh_process("--help")
    assert helped.exit_code == 0
    listed = [line.split()[0] for line in helped.stdout.splitlines() if line.startswith("  ")]
    for command in COMMANDS:
        assert command in listed, command
    assert "Exit codes" in helped.stdout
    assert not home.exists()  # neither touches the database


def test_every_command_has_help() -> None:
    for command in COMMANDS:
        result = run(command, "--help")
        assert result.exit_code == 0, command
        assert "Usage: collabctl" in result.stdout
    db = run("db", "--help")
    assert "upgrade" in db.stdout and "current" in db.stdout
    assert run("-h").exit_code == 0
    bare = run()
    assert "Usage: collabctl" in bare.stdout + bare.stderr


# -- a failure collabctl did not expect -------------------------------------------------------

FAULT = """
import collabctl.operations.views as views


def list_collaborations(*args, **kwargs):
    raise RuntimeError("an unexpected state")


views.list_collaborations = list_collaborations
"""


@pytest.mark.parametrize("debug", [False, True], ids=["default", "COLLABCTL_DEBUG"])
def test_an_unexpected_failure_is_error_internal_without_a_traceback(
    tmp_path: Path, debug: bool
) -> None:
    # a real process, its `list` made to fail from inside by a sitecustomize module
    (tmp_path / "fault").mkdir()
    (tmp_path / "fault" / "sitecustomize.py").write_text(FAULT, encoding="utf-8")
    assert invoke("demo").exit_code == 0  # the data; the failing run is the process
    env = {"PYTHONPATH": str(tmp_path / "fault")}
    if debug:
        env["COLLABCTL_DEBUG"] = "1"
    result = run_process("list", "--format", "json", env=env)
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "internal"
    assert error["message"] == "unexpected failure: RuntimeError: an unexpected state"
    assert "COLLABCTL_DEBUG=1" in error["hint"]
    assert "error[internal]: unexpected failure: RuntimeError: an unexpected state" in result.stderr
    assert ("Traceback (most recent call last)" in result.stderr) is debug
