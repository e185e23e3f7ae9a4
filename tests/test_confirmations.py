"""What collabctl says before it asks is true: the restore preview does not tell the
person to run it again with --yes and then ask anyway, and the delete confirmation names
restore (SPEC §8.4)."""

from __future__ import annotations

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
