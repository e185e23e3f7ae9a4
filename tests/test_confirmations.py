"""What collabctl says before it asks is true: the restore preview does not tell the
person to run it again with --yes and then ask anyway, and the delete confirmation names
restore (SPEC §8.4)."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import Terminal, invoke


def test_the_restore_preview_does_not_send_you_away_before_it_asks() -> None:
    assert invoke("demo").exit_code == 0
    ended = invoke("end", "1007", "-s", "utlagg", "-o", "delete", "--by", "customer", "--yes",
                   "--format", "json")  # fmt: skip
    term = Terminal("restore", ended.json()["backup_path"])
    term.expect(r"Would restore 2 records of utlagg")
    term.answer("Restore these records?", "n")
    assert term.finish() == 1
    assert "run again with --yes" not in term.text
    # the dry run, which does not ask, still says how to go on
    dry = invoke("restore", ended.json()["backup_path"], "--dry-run")
    assert "Nothing changed; run again with --yes to restore." in dry.stdout


def test_restore_of_a_pattern_that_matches_two_backups_takes_the_newest() -> None:
    assert invoke("demo").exit_code == 0
    delete = ("end", "1007", "-s", "utlagg", "-o", "delete", "--by", "customer", "--yes")
    assert invoke(*delete).exit_code == 0
    backups = Path(os.environ["COLLABCTL_HOME"]) / "backups"
    (first,) = backups.glob("1007-utlagg-*.json")
    assert invoke("restore", str(first), "--yes").exit_code == 0
    assert invoke("start", "1007", "-s", "utlagg", "--office", "556677-8899").exit_code == 0
    assert invoke(*delete).exit_code == 0
    # what the shell makes of the guide's backups/1007-utlagg-*.json
    matched = sorted(str(p) for p in backups.glob("1007-utlagg-*.json"))
    assert len(matched) == 2
    (newest,) = set(matched) - {str(first)}
    run = invoke("restore", *matched, "--yes", "--format", "json")
    assert run.exit_code == 0, run.output
    assert run.json()["backup_path"] == newest
    assert f"2 backups of utlagg for customer 1007: the newest is {newest}" in run.stderr


def test_backups_of_two_services_are_refused_together() -> None:
    assert invoke("demo").exit_code == 0
    for customer in ("1007", "1001"):
        done = invoke("end", customer, "-s", "utlagg", "-o", "delete", "--by", "customer",
                      "--yes", "--force")  # fmt: skip
        assert done.exit_code == 0, done.output
    files = sorted(str(p) for p in (Path(os.environ["COLLABCTL_HOME"]) / "backups").iterdir())
    run = invoke("restore", *files, "--dry-run")
    assert run.exit_code == 2 and "different services or companies" in run.stderr
