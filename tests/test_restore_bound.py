"""Backups bound to the audit log (SPEC 8.1): the delete's event records the backup's
SHA-256, and restore accepts only the backup of the latest delete, tried as the mistakes
and the edits that broke it: a resealed file, a stale backup, a huge file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from collabctl.operations import restore as ops
from conftest import CLI
from helpers import error_of, show, sqlite_only

JSON = ("--format", "json")
DELETE = ("-s", "utlagg", "-o", "delete", "--by", "customer", "--yes", *JSON)
LISA = "lisa@tradgardsyd.se"


def delete(cli: CLI, *flags: str) -> dict[str, Any]:
    run = cli("end", "1007", *DELETE, *flags)
    assert run.exit_code == 0, run.stderr
    return dict(run.json())


def events(cli: CLI, action: str) -> list[dict[str, Any]]:
    logged = cli("log", "--customer", "1007", "--reverse", *JSON).json()
    return [e for e in logged if e["action"] == action]


def records(cli: CLI) -> set[str]:
    out = cli("export", "1007", "--service", "utlagg", "-o", "-", *JSON)
    assert out.exit_code == 0, out.stderr
    return {r["id"] for r in json.loads(out.stdout)["companies"][0].get("records", [])}


def state(cli: CLI) -> str:
    return next(
        str(s["state"]) for s in show(cli, "1007")["subscriptions"] if s["service"] == "utlagg"
    )


def test_the_delete_records_the_backups_sha256_in_its_event(demo: CLI) -> None:
    path = Path(delete(demo)["backup_path"])
    (event,) = events(demo, "end")
    header = json.loads(path.read_text(encoding="utf-8"))["collabctl_export"]
    assert event["details"]["backup_sha256"] == header["sha256"]
    assert event["details"]["backup_path"] == str(path)
    assert demo("log", "--verify").exit_code == 0


def test_an_edited_and_resealed_backup_is_refused(demo: CLI, tmp_path: Path) -> None:
    path = Path(delete(demo)["backup_path"])
    document = json.loads(path.read_text(encoding="utf-8"))
    document["companies"][0]["records"][1]["payload"]["amount_sek"] = 32000
    resealed = tmp_path / "resealed.json"
    resealed.write_text(json.dumps(ops.seal_backup(document), indent=2), encoding="utf-8")
    # the file on its own is intact: its seal is a hash anyone can compute again
    assert ops.read_backup(resealed).verified
    for flags in ((), ("--force",), ("--dry-run",)):
        error = error_of(demo("restore", str(resealed), "--yes", *flags, *JSON), "invalid-input", 2)
        assert "not the backup the latest delete of utlagg for customer 1007" in error["message"]
        assert str(path) in error["hint"]
    assert state(demo) == "deleted" and events(demo, "restore") == []
    # the backup itself restores, and says it was not forced
    restored = demo("restore", str(path), "--yes", *JSON)
    assert restored.exit_code == 0, restored.stderr
    assert restored.json()["forced"] is False
    assert events(demo, "restore")[0]["details"]["forced"] is False


def test_a_stale_backup_is_a_conflict_naming_the_latest(demo: CLI) -> None:
    """delete (A), restore, start, a new record, delete (B): A would drop the new record."""
    first = Path(delete(demo)["backup_path"])
    assert demo("restore", str(first), "--yes").exit_code == 0
    assert demo("start", "1007", "--service", "utlagg", "--office", "556677-8899").exit_code == 0
    record = {"id": "ER-NEW", "service": "utlagg", "kind": "expense-report", "owner": LISA}
    company = {
        "customer_number": "1007",
        "org_number": "556890-1234",
        "name": "Trädgårdsdesign Syd AB",
        "records": [{**record, "status": "submitted", "payload": {}}],
    }
    imported = demo("import", "-", input=json.dumps({"companies": [company]}))
    assert imported.exit_code == 0, imported.stderr
    assert "ER-NEW" in records(demo)
    second = Path(delete(demo)["backup_path"])
    assert second != first

    error = error_of(demo("restore", str(first), "--yes", *JSON), "conflict")
    assert "backup of an earlier deletion" in error["message"]
    assert str(second) in error["message"] and str(second) in error["hint"]
    error_of(demo("restore", str(first), "--yes", "--force", *JSON), "conflict")
    assert state(demo) == "deleted" and len(events(demo, "restore")) == 1

    assert demo("restore", str(second), "--yes").exit_code == 0
    assert records(demo) == {"ER-7001", "OL-7002", "ER-NEW"}


def test_after_a_delete_without_a_backup_an_earlier_backup_is_a_conflict(demo: CLI) -> None:
    first = Path(delete(demo)["backup_path"])
    assert demo("restore", str(first), "--yes").exit_code == 0
    assert demo("start", "1007", "--service", "utlagg", "--office", "556677-8899").exit_code == 0
    assert delete(demo, "--no-backup")["backup_path"] is None
    error = error_of(demo("restore", str(first), "--yes", *JSON), "conflict")
    assert "the latest one made no backup" in error["message"]


def test_force_only_where_the_log_recorded_no_hash(demo: CLI, tmp_path: Path) -> None:
    """A subscription deleted without a recorded hash (here: imported as deleted, as a
    migration from another system would): restore needs --force and says so."""
    path = Path(delete(demo)["backup_path"])
    document = json.loads(path.read_text(encoding="utf-8"))
    header = document["collabctl_export"]
    document["companies"][0]["customer_number"] = header["customer_number"] = "2001"
    document["companies"][0]["org_number"] = "556036-0793"
    company = {
        "customer_number": "2001",
        "org_number": "556036-0793",
        "name": "Ny Kund AB",
        "users": [{"email": LISA, "name": "Lisa", "role": "administrator"}],
        "subscriptions": [{"service": "utlagg", "state": "deleted"}],
    }
    imported = demo("import", "-", input=json.dumps({"companies": [company]}))
    assert imported.exit_code == 0, imported.stderr
    crafted = tmp_path / "2001-utlagg.json"
    crafted.write_text(json.dumps(ops.seal_backup(document)), encoding="utf-8")

    error = error_of(demo("restore", str(crafted), "--yes", *JSON), "invalid-input", 2)
    assert "holds no SHA-256" in error["message"] and "--force" in error["hint"]
    run = demo("restore", str(crafted), "--yes", "--force")
    assert run.exit_code == 0, run.stderr
    assert "accepted with --force" in run.stdout
    logged = demo("log", "--customer", "2001", *JSON).json()
    restore = next(e for e in logged if e["action"] == "restore")
    assert restore["details"]["forced"] is True


@sqlite_only  # refused by its size before it is read
def test_a_file_over_256_mib_is_refused_unread(demo: CLI, tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as file:  # sparse: no disk space, and nothing to read
        file.truncate(ops.MAX_BYTES + 1)
    error = error_of(demo("restore", str(huge), "--yes", *JSON), "invalid-input", 2)
    assert "more than a backup of one service can be (256 MiB): not read" in error["message"]
